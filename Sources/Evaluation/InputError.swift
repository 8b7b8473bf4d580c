/// A problem in a qrels, run or queries file, located by file and line (1-based) so it can be fixed.
public struct InputError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Problem: Equatable, Sendable {
        case unreadable(reason: String)
        case invalidUTF8
        case noEntries
        case fieldCount(expected: Int, found: Int)
        case invalidRelevance(String)
        case invalidRank(String)
        case invalidScore(String)
        case duplicateJudgment(QueryID, DocumentID, firstLine: Int)
        case duplicateDocument(QueryID, DocumentID, firstLine: Int)
        case missingTab
        case emptyQueryID
        case emptyQueryText(QueryID)
        case duplicateQuery(QueryID, firstLine: Int)
    }

    public let file: String
    public let line: Int?
    public let problem: Problem

    public init(file: String, line: Int?, problem: Problem) {
        self.file = file
        self.line = line
        self.problem = problem
    }

    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        return "\(place): \(explanation)"
    }

    private var explanation: String {
        switch problem {
        case .unreadable(let reason): return "cannot read file: \(reason)"
        case .invalidUTF8: return "invalid UTF-8"
        case .noEntries: return "no entries (the file is empty or only blank lines)"
        case .fieldCount(let expected, let found):
            return "expected \(expected) whitespace-separated fields, found \(found)"
        case .invalidRelevance(let text): return "relevance '\(text)' is not an integer"
        case .invalidRank(let text): return "rank '\(text)' is not an integer"
        case .invalidScore(let text): return "score '\(text)' is not a finite number"
        case .duplicateJudgment(let query, let document, let first):
            return "document '\(document)' judged twice for query '\(query)' (first on line \(first))"
        case .duplicateDocument(let query, let document, let first):
            return "document '\(document)' retrieved twice for query '\(query)' (first on line \(first))"
        case .missingTab: return "expected 'qid<TAB>text', found no tab"
        case .emptyQueryID: return "empty query id"
        case .emptyQueryText(let query): return "query '\(query)' has empty text"
        case .duplicateQuery(let query, let first): return "query '\(query)' defined twice (first on line \(first))"
        }
    }
}

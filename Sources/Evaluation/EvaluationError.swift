/// Problems with in-memory evaluation data (file problems are `InputError`s, which carry a line).
public enum EvaluationError: Error, Equatable, Sendable, CustomStringConvertible {
    case duplicateJudgment(QueryID, DocumentID)
    case duplicateDocument(QueryID, DocumentID)
    case duplicateRanking(QueryID)
    case duplicateQuery(QueryID)
    case noQueriesInCommon(judged: Int, retrieved: Int)
    case unwritableField(name: String, value: String)
    case nonFiniteScore(QueryID, DocumentID)

    public var description: String {
        switch self {
        case .duplicateJudgment(let query, let document):
            return "document '\(document)' judged twice for query '\(query)'"
        case .duplicateDocument(let query, let document):
            return "document '\(document)' appears twice in the ranking for query '\(query)'"
        case .duplicateRanking(let query): return "two rankings given for query '\(query)'"
        case .duplicateQuery(let query): return "query '\(query)' given twice"
        case .noQueriesInCommon(let judged, let retrieved):
            return "no query is both judged (\(judged) in the qrels) and retrieved (\(retrieved) in the run)"
        case .unwritableField(let name, let value):
            return "\(name) '\(value)' cannot be written to a TREC file: it is empty or contains whitespace"
        case .nonFiniteScore(let query, let document):
            return "score of document '\(document)' for query '\(query)' is not a finite number"
        }
    }
}

import Foundation

/// One benchmark query: its id (from the file, or its line number) and text.
public struct BenchQuery: Equatable, Sendable {
    public let id: String
    public let text: String

    public init(id: String, text: String) {
        self.id = id
        self.text = text
    }
}

/// Queries for the load: one per line, either `qid<TAB>text` (TREC topics style, as in
/// samples/debian-desc/queries.tsv) or the bare text. Blank lines are skipped.
public enum QueryFile {
    public static func load(path: String) throws(BenchError) -> [BenchQuery] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw BenchError("cannot read query file \(path): \(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw BenchError("query file \(path) is not valid UTF-8")
        }
        do {
            return try parse(text)
        } catch {
            throw BenchError("query file \(path): \(error.message)")
        }
    }

    public static func parse(_ text: String) throws(BenchError) -> [BenchQuery] {
        var queries: [BenchQuery] = []
        // By Character, "\r\n" is one newline, so Windows line ends need no special case.
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            if line.trimmingSpaces.isEmpty { continue }
            let lineNumber = index + 1
            if let tab = line.firstIndex(of: "\t") {
                let id = line[..<tab].trimmingSpaces
                let query = line[line.index(after: tab)...].trimmingSpaces
                guard !id.isEmpty else {
                    throw BenchError("line \(lineNumber) has an empty query id before the tab")
                }
                guard !query.isEmpty else {
                    throw BenchError("line \(lineNumber) (id \(id)) has no query text after the tab")
                }
                queries.append(BenchQuery(id: id, text: query))
            } else {
                queries.append(BenchQuery(id: "line-\(lineNumber)", text: line.trimmingSpaces))
            }
        }
        guard !queries.isEmpty else {
            throw BenchError("no queries: expected one per line, `qid<TAB>text` or the bare text")
        }
        return queries
    }
}

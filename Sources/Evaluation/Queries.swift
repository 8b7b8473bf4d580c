import Foundation

/// A judged query: its id and its text.
public struct Query: Equatable, Sendable, Codable {
    public let id: QueryID
    public let text: String

    public init(id: QueryID, text: String) {
        self.id = id
        self.text = text
    }
}

/// Queries from an MS MARCO-style `qid<TAB>text` file, in file order.
public struct QuerySet: Sendable {
    public let queries: [Query]
    private let index: [QueryID: Int]

    public init(_ queries: [Query]) throws(EvaluationError) {
        var index: [QueryID: Int] = [:]
        for (position, query) in queries.enumerated() where index.updateValue(position, forKey: query.id) != nil {
            throw .duplicateQuery(query.id)
        }
        self.queries = queries
        self.index = index
    }

    /// Reads `qid<TAB>text` lines. The text is everything after the first tab, trimmed of
    /// surrounding whitespace (it may itself contain tabs).
    public static func read(from url: URL) throws(InputError) -> QuerySet {
        let lines = try TextLines(contentsOf: url)
        var queries: [Query] = []
        var firstLine: [QueryID: Int] = [:]
        var index: [QueryID: Int] = [:]
        try lines.forEachLine { line throws(InputError) in
            let text = try line.text()
            guard let tab = text.firstIndex(of: "\t") else { throw line.error(.missingTab) }
            let id = text[..<tab].trimmingCharacters(in: .whitespaces)
            let body = text[text.index(after: tab)...].trimmingCharacters(in: .whitespaces)
            guard !id.isEmpty else { throw line.error(.emptyQueryID) }
            let query = QueryID(id)
            guard !body.isEmpty else { throw line.error(.emptyQueryText(query)) }
            if let first = firstLine.updateValue(line.number, forKey: query) {
                throw line.error(.duplicateQuery(query, firstLine: first))
            }
            index[query] = queries.count
            queries.append(Query(id: query, text: body))
        }
        if queries.isEmpty { throw lines.error(nil, .noEntries) }
        return QuerySet(queries: queries, index: index)
    }

    private init(queries: [Query], index: [QueryID: Int]) {
        self.queries = queries
        self.index = index
    }

    public var count: Int { queries.count }

    public subscript(id: QueryID) -> Query? { index[id].map { queries[$0] } }
}

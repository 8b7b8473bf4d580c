import Foundation

/// One relevance judgment: a line `qid iter docid rel` of a qrels file.
public struct Judgment: Equatable, Sendable {
    public let queryID: QueryID
    public let documentID: DocumentID
    /// Graded relevance. trec_eval counts `>= 1` as relevant; a negative value means "in the pool
    /// but unjudged": never relevant, and left out of the ideal ranking.
    public let relevance: Int

    public init(queryID: QueryID, documentID: DocumentID, relevance: Int) {
        self.queryID = queryID
        self.documentID = documentID
        self.relevance = relevance
    }
}

/// TREC relevance judgments, grouped by query.
public struct Qrels: Sendable {
    /// trec_eval's default relevance level (`-l 1`).
    public static let relevanceThreshold = 1

    private var byQuery: [QueryID: [DocumentID: Int]] = [:]

    public init(_ judgments: [Judgment]) throws(EvaluationError) {
        for judgment in judgments {
            let previous = byQuery[judgment.queryID, default: [:]].updateValue(
                judgment.relevance, forKey: judgment.documentID)
            if previous != nil { throw .duplicateJudgment(judgment.queryID, judgment.documentID) }
        }
    }

    /// Reads `qid iter docid rel` lines (any whitespace between fields; `iter` is ignored, as in trec_eval).
    public static func read(from url: URL) throws(InputError) -> Qrels {
        let lines = try TextLines(contentsOf: url)
        var qrels = Qrels()
        var firstLine: [QueryID: [DocumentID: Int]] = [:]
        try lines.forEachLine { line throws(InputError) in
            try line.expectFields(4)
            let relevanceText = try line.field(3)
            guard let relevance = Int(relevanceText) else { throw line.error(.invalidRelevance(relevanceText)) }
            let query = QueryID(try line.field(0))
            let document = DocumentID(try line.field(2))
            if let first = firstLine[query, default: [:]].updateValue(line.number, forKey: document) {
                throw line.error(.duplicateJudgment(query, document, firstLine: first))
            }
            qrels.byQuery[query, default: [:]][document] = relevance
        }
        if qrels.byQuery.isEmpty { throw lines.error(nil, .noEntries) }
        return qrels
    }

    private init() {}

    /// Judged queries in trec_eval's (byte) order.
    public var queryIDs: [QueryID] { byQuery.keys.sorted() }

    public var judgmentCount: Int { byQuery.values.reduce(0) { $0 + $1.count } }

    public func contains(_ query: QueryID) -> Bool { byQuery[query] != nil }

    /// The relevance of a document for a query; nil when it was never judged.
    public func relevance(of document: DocumentID, for query: QueryID) -> Int? {
        byQuery[query]?[document]
    }

    /// All judgments of one query, in document order.
    public func judgments(for query: QueryID) -> [Judgment] {
        guard let judged = byQuery[query] else { return [] }
        return judged.sorted { $0.key < $1.key }.map {
            Judgment(queryID: query, documentID: $0.key, relevance: $0.value)
        }
    }

    /// Number of relevant documents (`rel >= 1`) for a query: recall's and MAP's denominator.
    public func relevantCount(for query: QueryID) -> Int {
        byQuery[query]?.values.reduce(0) { $0 + ($1 >= Self.relevanceThreshold ? 1 : 0) } ?? 0
    }

    func judgedDocuments(for query: QueryID) -> [DocumentID: Int] { byQuery[query] ?? [:] }
}

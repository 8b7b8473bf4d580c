import Foundation

/// A retrieved document and the score the system gave it.
public struct ScoredDocument: Equatable, Sendable, Codable {
    public let documentID: DocumentID
    public let score: Double

    public init(documentID: DocumentID, score: Double) {
        self.documentID = documentID
        self.score = score
    }
}

/// What a system returned for one query.
public struct Ranking: Equatable, Sendable {
    public let queryID: QueryID
    /// As given (file order or caller order); `ordered` is the order trec_eval evaluates.
    public let documents: [ScoredDocument]

    public init(queryID: QueryID, documents: [ScoredDocument]) throws(EvaluationError) {
        var seen = Set<DocumentID>()
        for document in documents {
            guard document.score.isFinite else { throw .nonFiniteScore(queryID, document.documentID) }
            guard seen.insert(document.documentID).inserted else {
                throw .duplicateDocument(queryID, document.documentID)
            }
        }
        self.queryID = queryID
        self.documents = documents
    }

    /// A ranking whose order is what matters, not its scores. Cascade's merged results mix two
    /// score scales (cross-encoder scores on the reranked head, bi-encoder scores on the tail),
    /// and trec_eval re-sorts by score, so scores here are replaced by `count - position`.
    public init(queryID: QueryID, orderedDocumentIDs: [DocumentID]) throws(EvaluationError) {
        let count = orderedDocumentIDs.count
        try self.init(
            queryID: queryID,
            documents: orderedDocumentIDs.enumerated().map {
                ScoredDocument(documentID: $0.element, score: Double(count - $0.offset))
            })
    }

    init(validated queryID: QueryID, documents: [ScoredDocument]) {
        self.queryID = queryID
        self.documents = documents
    }

    /// trec_eval's order: score descending, ties broken by docno descending (strcmp), whatever the
    /// rank column said (form_res_rels.c, comp_sim_docno).
    public var ordered: [ScoredDocument] {
        documents.sorted { a, b in
            if a.score != b.score { return a.score > b.score }
            return b.documentID < a.documentID
        }
    }
}

/// A TREC run: rankings for a set of queries, with the run's tag.
public struct Run: Sendable {
    public let tag: String
    private let rankings: [QueryID: Ranking]

    public init(tag: String, rankings: [Ranking]) throws(EvaluationError) {
        var byQuery: [QueryID: Ranking] = [:]
        for ranking in rankings where byQuery.updateValue(ranking, forKey: ranking.queryID) != nil {
            throw .duplicateRanking(ranking.queryID)
        }
        self.tag = tag
        self.rankings = byQuery
    }

    /// Reads `qid Q0 docid rank score tag` lines. The rank column must be an integer but is otherwise
    /// ignored, like trec_eval. The tag is the first line's.
    public static func read(from url: URL) throws(InputError) -> Run {
        let lines = try TextLines(contentsOf: url)
        var documents: [QueryID: [ScoredDocument]] = [:]
        var firstLine: [QueryID: [DocumentID: Int]] = [:]
        var tag: String?
        try lines.forEachLine { number, text throws(InputError) in
            let fields = text.trecFields
            guard fields.count == 6 else { throw lines.error(number, .fieldCount(expected: 6, found: fields.count)) }
            guard Int(fields[3]) != nil else { throw lines.error(number, .invalidRank(String(fields[3]))) }
            guard let score = Double(fields[4]), score.isFinite else {
                throw lines.error(number, .invalidScore(String(fields[4])))
            }
            let query = QueryID(String(fields[0]))
            let document = DocumentID(String(fields[2]))
            if let first = firstLine[query, default: [:]].updateValue(number, forKey: document) {
                throw lines.error(number, .duplicateDocument(query, document, firstLine: first))
            }
            documents[query, default: []].append(ScoredDocument(documentID: document, score: score))
            if tag == nil { tag = String(fields[5]) }
        }
        guard let tag else { throw lines.error(nil, .noEntries) }
        return Run(tag: tag, validated: documents.map { Ranking(validated: $0.key, documents: $0.value) })
    }

    private init(tag: String, validated rankings: [Ranking]) {
        self.tag = tag
        self.rankings = Dictionary(uniqueKeysWithValues: rankings.map { ($0.queryID, $0) })
    }

    /// Retrieved queries in trec_eval's (byte) order.
    public var queryIDs: [QueryID] { rankings.keys.sorted() }

    public func ranking(for query: QueryID) -> Ranking? { rankings[query] }

    /// The run in TREC format: queries in byte order, each ranking in trec_eval's order with ranks
    /// 1, 2, ... so the rank column agrees with the scores. Scores are written in Swift's shortest
    /// round-trip form, so reading the file back gives the same doubles.
    public func trecText() throws(EvaluationError) -> String {
        try Self.checkWritable("tag", tag)
        var text = ""
        for query in queryIDs {
            try Self.checkWritable("query id", query.rawValue)
            for (position, document) in rankings[query]!.ordered.enumerated() {
                try Self.checkWritable("document id", document.documentID.rawValue)
                text +=
                    "\(query.rawValue) Q0 \(document.documentID.rawValue) \(position + 1) \(document.score) \(tag)\n"
            }
        }
        return text
    }

    public func write(to url: URL) throws {
        try Data(trecText().utf8).write(to: url, options: .atomic)
    }

    private static func checkWritable(_ name: String, _ value: String) throws(EvaluationError) {
        if value.isEmpty || value.contains(where: { $0.isWhitespace }) {
            throw .unwritableField(name: name, value: value)
        }
    }
}

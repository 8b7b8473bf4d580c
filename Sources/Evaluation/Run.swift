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
        var rankings: [QueryID: RankingBuilder] = [:]
        var current: RankingBuilder?
        var tag: String?
        try lines.forEachLine { line throws(InputError) in
            try line.expectFields(6)
            let rankText = try line.field(3)
            guard Int(rankText) != nil else { throw line.error(.invalidRank(rankText)) }
            let scoreText = try line.field(4)
            guard let score = Double(scoreText), score.isFinite else { throw line.error(.invalidScore(scoreText)) }
            let query = QueryID(try line.field(0))
            // Runs list a query's documents together; switch builders only when the query changes.
            if current?.queryID != query {
                if let finished = current { rankings[finished.queryID] = finished }
                current = rankings.removeValue(forKey: query) ?? RankingBuilder(queryID: query)
            }
            let document = DocumentID(try line.field(2))
            if let first = current!.add(ScoredDocument(documentID: document, score: score), line: line.number) {
                throw line.error(.duplicateDocument(query, document, firstLine: first))
            }
            if tag == nil { tag = try line.field(5) }
        }
        if let finished = current { rankings[finished.queryID] = finished }
        guard let tag else { throw lines.error(nil, .noEntries) }
        return Run(tag: tag, validated: rankings.values.map { Ranking(validated: $0.queryID, documents: $0.documents) })
    }

    /// A ranking being read, with the line of each document for duplicate errors.
    private struct RankingBuilder {
        let queryID: QueryID
        var documents: [ScoredDocument] = []
        var lines: [DocumentID: Int] = [:]

        init(queryID: QueryID) { self.queryID = queryID }

        /// Adds the document; if it is already there, returns the line that added it instead.
        mutating func add(_ document: ScoredDocument, line: Int) -> Int? {
            if let first = lines.updateValue(line, forKey: document.documentID) {
                lines[document.documentID] = first
                return first
            }
            documents.append(document)
            return nil
        }
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
        // trec_eval splits fields at C isspace(); only ASCII whitespace can break a line apart.
        let whitespace: Set<UInt8> = [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20]
        if value.isEmpty || value.utf8.contains(where: whitespace.contains) {
            throw .unwritableField(name: name, value: value)
        }
    }
}

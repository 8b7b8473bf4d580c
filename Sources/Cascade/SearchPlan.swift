import VectorStore

/// The cutoffs of one search: pull `retrieveK` candidates, rerank the best `rerankK` of them
/// (0: retrieval only), return `topN`.
public struct SearchPlan: Sendable, Equatable {
    public var retrieveK: Int
    public var rerankK: Int
    public var topN: Int
    public var includeText: Bool
    /// Rerank only as many of the best `rerankK` candidates as the scheduler's cost model says
    /// fit in this much time (waiting included); nil: all `rerankK`.
    public var rerankBudget: Duration?
    /// How the store scans: candidates rescored exactly (coded stores) and partitions probed
    /// (partitioned stores); nil fields take the store's defaults.
    public var scan: SearchOptions

    public init(
        retrieveK: Int, rerankK: Int, topN: Int, includeText: Bool = false, rerankBudget: Duration? = nil,
        scan: SearchOptions = SearchOptions()
    ) {
        self.retrieveK = retrieveK
        self.rerankK = rerankK
        self.topN = topN
        self.includeText = includeText
        self.rerankBudget = rerankBudget
        self.scan = scan
    }

    /// Throws `CascadeError.invalidArgument` naming the field, or `.failedPrecondition` when
    /// reranking is asked of a server without a reranker. `SearchRequest` and the server's
    /// defaults are checked with it.
    func check(against limits: Limits, hasReranker: Bool) throws(CascadeError) {
        try Self.check("retrieve_k", retrieveK, in: 1...limits.maxRetrieveK)
        try Self.check("rerank_k", rerankK, in: 0...limits.maxRerankK)
        try Self.check("top_n", topN, in: 1...limits.maxTopN)
        if rerankK > retrieveK {
            throw .invalidArgument(
                field: "rerank_k", message: "rerank_k (\(rerankK)) must not exceed retrieve_k (\(retrieveK))")
        }
        if topN > retrieveK {
            throw .invalidArgument(
                field: "top_n", message: "top_n (\(topN)) must not exceed retrieve_k (\(retrieveK))")
        }
        if let rescoreK = scan.rescoreK {
            try Self.check("rescore_k", rescoreK, in: retrieveK...max(retrieveK, SearchOptions.maxRescoreK))
        }
        if let nprobe = scan.nprobe { try Self.check("nprobe", nprobe, in: 1...Self.maxNprobe) }
        if let rerankBudget, rerankBudget < .zero {
            throw .invalidArgument(
                field: "rerank_budget_ms", message: "rerank_budget_ms must not be negative (got \(rerankBudget))")
        }
        if rerankK > 0 && !hasReranker {
            throw .failedPrecondition(
                "rerank_k is \(rerankK) but this server has no reranker; send rerank_k = 0 for retrieval only")
        }
    }

    /// More partitions than any store is built with (`cascade index --partitions` allows 65,536).
    static let maxNprobe = 1 << 16

    private static func check(_ field: String, _ value: Int, in range: ClosedRange<Int>) throws(CascadeError) {
        guard range.contains(value) else {
            throw .invalidArgument(
                field: field,
                message: "\(field) must be in \(range.lowerBound)...\(range.upperBound) (got \(value))")
        }
    }
}

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

    public init(
        retrieveK: Int, rerankK: Int, topN: Int, includeText: Bool = false, rerankBudget: Duration? = nil
    ) {
        self.retrieveK = retrieveK
        self.rerankK = rerankK
        self.topN = topN
        self.includeText = includeText
        self.rerankBudget = rerankBudget
    }

    /// Builds a plan from what a caller set (nil: not set) and the server's defaults.
    ///
    /// Values the caller set are taken as they are and validated; defaults bend to fit them, so
    /// `retrieve_k = 5` alone gives `rerank_k = min(default, 5)` and `top_n = min(default, 5)`
    /// instead of an error about a value the caller never sent, and `top_n = 300` alone raises
    /// the default `retrieve_k` to 300. Without a reranker the default `rerank_k` is 0.
    public static func resolve(
        retrieveK: Int?, rerankK: Int?, topN: Int?, includeText: Bool = false, rerankBudget: Duration? = nil,
        defaults: SearchDefaults, limits: Limits, hasReranker: Bool
    ) throws -> SearchPlan {
        let retrieve =
            retrieveK
            ?? min(max(defaults.retrieveK, rerankK ?? 0, topN ?? 0), limits.maxRetrieveK)
        let rerank = rerankK ?? (hasReranker ? min(defaults.rerankK, retrieve, limits.maxRerankK) : 0)
        let top = topN ?? min(defaults.topN, max(retrieve, 1), limits.maxTopN)
        let plan = SearchPlan(
            retrieveK: retrieve, rerankK: rerank, topN: top, includeText: includeText, rerankBudget: rerankBudget)
        try plan.validate(against: limits, hasReranker: hasReranker)
        return plan
    }

    /// Throws `CascadeError.invalidArgument` naming the field, or `.failedPrecondition` when
    /// reranking is asked of a server without a reranker.
    public func validate(against limits: Limits, hasReranker: Bool) throws {
        try Self.check("retrieve_k", retrieveK, in: 1...limits.maxRetrieveK)
        try Self.check("rerank_k", rerankK, in: 0...limits.maxRerankK)
        try Self.check("top_n", topN, in: 1...limits.maxTopN)
        if rerankK > retrieveK {
            throw CascadeError.invalidArgument(
                field: "rerank_k", message: "rerank_k (\(rerankK)) must not exceed retrieve_k (\(retrieveK))")
        }
        if topN > retrieveK {
            throw CascadeError.invalidArgument(
                field: "top_n", message: "top_n (\(topN)) must not exceed retrieve_k (\(retrieveK))")
        }
        if rerankK > 0 && !hasReranker {
            throw CascadeError.failedPrecondition(
                "rerank_k is \(rerankK) but this server has no reranker; send rerank_k = 0 for retrieval only")
        }
    }

    private static func check(_ field: String, _ value: Int, in range: ClosedRange<Int>) throws {
        guard range.contains(value) else {
            throw CascadeError.invalidArgument(
                field: field,
                message: "\(field) must be in \(range.lowerBound)...\(range.upperBound) (got \(value))")
        }
    }
}

import Foundation

/// The measures Cascade reports, each identical to a trec_eval measure.
public enum Measure: String, CaseIterable, Codable, Sendable {
    case mrrAt10 = "MRR@10"
    case ndcgAt10 = "nDCG@10"
    case recallAt10 = "R@10"
    case recallAt100 = "R@100"
    case recallAt1000 = "R@1000"
    case map = "MAP"

    /// The trec_eval / pytrec_eval measure this equals.
    public var trecEvalName: String {
        switch self {
        case .mrrAt10: return "recip_rank on the run cut to 10"
        case .ndcgAt10: return "ndcg_cut_10"
        case .recallAt10: return "recall_10"
        case .recallAt100: return "recall_100"
        case .recallAt1000: return "recall_1000"
        case .map: return "map"
        }
    }
}

/// One value per measure.
public struct Scores: Equatable, Sendable, Codable {
    public var mrrAt10: Double
    public var ndcgAt10: Double
    public var recallAt10: Double
    public var recallAt100: Double
    public var recallAt1000: Double
    public var map: Double

    public static let zero = Scores(
        mrrAt10: 0, ndcgAt10: 0, recallAt10: 0, recallAt100: 0, recallAt1000: 0, map: 0)

    public init(
        mrrAt10: Double, ndcgAt10: Double, recallAt10: Double, recallAt100: Double, recallAt1000: Double,
        map: Double
    ) {
        self.mrrAt10 = mrrAt10
        self.ndcgAt10 = ndcgAt10
        self.recallAt10 = recallAt10
        self.recallAt100 = recallAt100
        self.recallAt1000 = recallAt1000
        self.map = map
    }

    public subscript(measure: Measure) -> Double {
        switch measure {
        case .mrrAt10: return mrrAt10
        case .ndcgAt10: return ndcgAt10
        case .recallAt10: return recallAt10
        case .recallAt100: return recallAt100
        case .recallAt1000: return recallAt1000
        case .map: return map
        }
    }

    /// Arithmetic mean, as trec_eval's "all" line; nil for no scores.
    public static func mean(of scores: [Scores]) -> Scores? {
        guard !scores.isEmpty else { return nil }
        let n = Double(scores.count)
        func average(_ value: (Scores) -> Double) -> Double { scores.reduce(0) { $0 + value($1) } / n }
        return Scores(
            mrrAt10: average(\.mrrAt10), ndcgAt10: average(\.ndcgAt10), recallAt10: average(\.recallAt10),
            recallAt100: average(\.recallAt100), recallAt1000: average(\.recallAt1000), map: average(\.map))
    }
}

/// The measures for one query.
public struct QueryEvaluation: Equatable, Sendable, Codable {
    public let queryID: QueryID
    public let scores: Scores
    /// Relevant (`rel >= 1`) judged documents: the recall denominator.
    public let relevantCount: Int
    public let retrievedCount: Int
}

/// Per-query and mean measures of a run against qrels.
///
/// Conventions (those of trec_eval without `-c`, and of pytrec_eval): a query is evaluated when it
/// is both in the run and in the qrels. A judged query with no relevant document is evaluated and
/// scores 0 on every measure; a run query without judgments is ignored. `mean` averages over the
/// evaluated queries. `meanOverJudged` is trec_eval `-c`: every judged query counts, those the run
/// lacks with 0.
public struct EvaluationReport: Sendable, Codable {
    /// Evaluated queries in byte order of their ids.
    public let perQuery: [QueryEvaluation]
    public let mean: Scores
    public let meanOverJudged: Scores
    /// In the run but not in the qrels: ignored.
    public let unjudgedQueries: [QueryID]
    /// In the qrels but not in the run: left out of `mean`, 0 in `meanOverJudged`.
    public let unretrievedQueries: [QueryID]

    public subscript(query: QueryID) -> QueryEvaluation? { perQuery.first { $0.queryID == query } }
}

/// Computes trec_eval's measures for runs against one set of qrels.
public struct Evaluator: Sendable {
    public let qrels: Qrels

    public init(qrels: Qrels) { self.qrels = qrels }

    public func evaluate(_ run: Run) throws(EvaluationError) -> EvaluationReport {
        let runQueries = run.queryIDs
        let judged = qrels.queryIDs
        var perQuery: [QueryEvaluation] = []
        var unjudged: [QueryID] = []
        for query in runQueries {
            guard let ranking = run.ranking(for: query), let evaluation = evaluate(ranking) else {
                unjudged.append(query)
                continue
            }
            perQuery.append(evaluation)
        }
        guard let mean = Scores.mean(of: perQuery.map(\.scores)) else {
            throw .noQueriesInCommon(judged: judged.count, retrieved: runQueries.count)
        }
        let unretrieved = judged.filter { run.ranking(for: $0) == nil }
        let sum = perQuery.map(\.scores) + Array(repeating: .zero, count: unretrieved.count)
        return EvaluationReport(
            perQuery: perQuery, mean: mean, meanOverJudged: Scores.mean(of: sum)!,
            unjudgedQueries: unjudged, unretrievedQueries: unretrieved)
    }

    /// The measures for one ranking; nil when its query has no judgments.
    public func evaluate(_ ranking: Ranking) -> QueryEvaluation? {
        guard qrels.contains(ranking.queryID) else { return nil }
        let judged = qrels.judgedDocuments(for: ranking.queryID)
        // Documents never judged are trec_eval's RELVALUE_NONPOOL (-1): not relevant, no gain.
        let relevances = ranking.ordered.map { judged[$0.documentID] ?? -1 }
        let relevantCount = qrels.relevantCount(for: ranking.queryID)
        let idealGains = judged.values.filter { $0 > 0 }.sorted(by: >)
        let scores = Scores(
            mrrAt10: Self.reciprocalRank(relevances, cutoff: 10),
            ndcgAt10: Self.ndcg(relevances, idealGains: idealGains, cutoff: 10),
            recallAt10: Self.recall(relevances, relevantCount: relevantCount, cutoff: 10),
            recallAt100: Self.recall(relevances, relevantCount: relevantCount, cutoff: 100),
            recallAt1000: Self.recall(relevances, relevantCount: relevantCount, cutoff: 1000),
            map: Self.averagePrecision(relevances, relevantCount: relevantCount))
        return QueryEvaluation(
            queryID: ranking.queryID, scores: scores, relevantCount: relevantCount,
            retrievedCount: relevances.count)
    }

    static func isRelevant(_ relevance: Int) -> Bool { relevance >= Qrels.relevanceThreshold }

    /// m_recip_rank.c, with the first relevant document counted only within `cutoff`.
    static func reciprocalRank(_ relevances: [Int], cutoff: Int) -> Double {
        guard let index = relevances.prefix(cutoff).firstIndex(where: isRelevant) else { return 0 }
        return 1 / Double(index + 1)
    }

    /// m_ndcg_cut.c: gain is the relevance value, discount log2(rank + 1), ideal from the qrels'
    /// positive relevance values (retrieved or not), both cut at `cutoff`; 0 when there is no gain.
    static func ndcg(_ relevances: [Int], idealGains: [Int], cutoff: Int) -> Double {
        func dcg(_ gains: some Collection<Int>) -> Double {
            var sum = 0.0
            for (index, gain) in gains.enumerated() where gain > 0 {
                sum += Double(gain) / log2(Double(index + 2))
            }
            return sum
        }
        let ideal = dcg(idealGains.prefix(cutoff))
        return ideal > 0 ? dcg(relevances.prefix(cutoff)) / ideal : 0
    }

    /// m_recall.c: relevant retrieved within `cutoff` over all relevant.
    static func recall(_ relevances: [Int], relevantCount: Int, cutoff: Int) -> Double {
        guard relevantCount > 0 else { return 0 }
        return Double(relevances.prefix(cutoff).count(where: isRelevant)) / Double(relevantCount)
    }

    /// m_map.c: precision at each relevant retrieved document, summed, over all relevant.
    static func averagePrecision(_ relevances: [Int], relevantCount: Int) -> Double {
        guard relevantCount > 0 else { return 0 }
        var found = 0
        var sum = 0.0
        for (index, relevance) in relevances.enumerated() where isRelevant(relevance) {
            found += 1
            sum += Double(found) / Double(index + 1)
        }
        return sum / Double(relevantCount)
    }
}

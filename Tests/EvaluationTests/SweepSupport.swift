@testable import Evaluation

/// A hand-built sweep point: `quality` goes to nDCG@10, `mrr` (default the same) to MRR@10.
func point(
    _ retrieveK: Int, _ rerankK: Int, quality: Double, p50: Double, p99: Double? = nil, mrr: Double? = nil,
    qps: Double = 10
) -> SweepPoint {
    let scores = Scores(
        mrrAt10: mrr ?? quality, ndcgAt10: quality, recallAt10: quality, recallAt100: quality,
        recallAt1000: quality, map: quality)
    return SweepPoint(
        cutoffs: Cutoffs(retrieveK: retrieveK, rerankK: rerankK), quality: scores,
        latency: LatencySummary(p50Ms: p50, p99Ms: p99 ?? p50 * 2), throughputQPS: qps)
}

/// A sweep whose frontier is r=10 k=0, r=50 k=0, r=100 k=10, r=100 k=20, r=100 k=50.
let knownSweep = [
    point(100, 20, quality: 0.44, p50: 35, p99: 60),
    point(10, 0, quality: 0.30, p50: 2, p99: 5),
    point(200, 20, quality: 0.43, p50: 36, p99: 50),  // dominated by r=100 k=20
    point(100, 50, quality: 0.45, p50: 80, p99: 120),
    point(50, 10, quality: 0.39, p50: 25, p99: 40),  // dominated by r=100 k=10: slower and worse
    point(200, 100, quality: 0.45, p50: 150, p99: 200),  // as good as r=100 k=50 but slower
    point(50, 0, quality: 0.32, p50: 3, p99: 6),
    point(100, 10, quality: 0.40, p50: 20, p99: 45),
]

extension Frontier {
    var frontierLabels: [String] { frontier.map(\.cutoffs.description) }
}

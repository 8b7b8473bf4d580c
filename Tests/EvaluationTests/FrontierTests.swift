import Testing

@testable import Evaluation

@Test func knownFrontier() throws {
    let frontier = try Frontier(points: knownSweep)
    #expect(frontier.frontierLabels == ["r=10 k=0", "r=50 k=0", "r=100 k=10", "r=100 k=20", "r=100 k=50"])
    #expect(frontier.points.map(\.latency.p50Ms) == [2, 3, 20, 25, 35, 36, 80, 150])
    #expect(frontier.best.cutoffs == Cutoffs(retrieveK: 100, rerankK: 50))
    #expect(!frontier.isOnFrontier(Cutoffs(retrieveK: 200, rerankK: 100)))
}

@Test func cheapestWithinAQualityLoss() throws {
    let frontier = try Frontier(points: knownSweep)
    #expect(frontier.cheapest(within: .absolute(0)).cutoffs.description == "r=100 k=50")
    // 0.45 - 0.01 = 0.44 must admit 0.44 despite rounding.
    #expect(frontier.cheapest(within: .absolute(0.01)).cutoffs.description == "r=100 k=20")
    #expect(frontier.cheapest(within: .absolute(0.05)).cutoffs.description == "r=100 k=10")
    #expect(frontier.cheapest(within: .relative(0.3)).cutoffs.description == "r=50 k=0")
    #expect(frontier.cheapest(within: .absolute(1)).cutoffs.description == "r=10 k=0")
    #expect(frontier.cheapest(within: .absolute(-0.1)).cutoffs.description == "r=100 k=50")
    #expect(frontier.cheapest(within: .relative(.nan)).cutoffs.description == "r=100 k=50")
}

@Test func bestWithinALatencyBudget() throws {
    let frontier = try Frontier(points: knownSweep)
    #expect(frontier.best(withinLatencyBudgetMs: 30)?.cutoffs.description == "r=100 k=10")
    #expect(frontier.best(withinLatencyBudgetMs: 35)?.cutoffs.description == "r=100 k=20")
    #expect(frontier.best(withinLatencyBudgetMs: 1_000)?.cutoffs.description == "r=100 k=50")
    #expect(frontier.best(withinLatencyBudgetMs: 1.5) == nil)
    // A p99 budget: r=200 k=20 (p99 50) fits 55 ms where r=100 k=20 (p99 60) does not.
    #expect(frontier.best(withinLatencyBudgetMs: 55, statistic: .p99)?.cutoffs.description == "r=200 k=20")
}

@Test func frontierOnP99AndOnMRR() throws {
    let byP99 = try Frontier(points: knownSweep, latencyStatistic: .p99)
    #expect(
        byP99.frontierLabels == [
            "r=10 k=0", "r=50 k=0", "r=50 k=10", "r=100 k=10", "r=200 k=20", "r=100 k=20", "r=100 k=50",
        ])
    let sweep = [
        point(10, 0, quality: 0.5, p50: 1, mrr: 0.2), point(20, 0, quality: 0.4, p50: 2, mrr: 0.3),
    ]
    #expect(try Frontier(points: sweep).frontierLabels == ["r=10 k=0"])
    #expect(try Frontier(points: sweep, measure: .mrrAt10).frontierLabels == ["r=10 k=0", "r=20 k=0"])
}

@Test func singlePoint() throws {
    let only = point(100, 10, quality: 0.4, p50: 20)
    let frontier = try Frontier(points: [only])
    #expect(frontier.frontier == [only])
    #expect(frontier.cheapest(within: .relative(0.5)) == only)
    #expect(frontier.best(withinLatencyBudgetMs: 20) == only)
    #expect(frontier.best(withinLatencyBudgetMs: 19.99) == nil)
}

@Test func allEqualPointsCollapseToTheCheapestCutoffs() throws {
    let sweep = [
        point(200, 20, quality: 0.4, p50: 10), point(100, 20, quality: 0.4, p50: 10),
        point(300, 10, quality: 0.4, p50: 10),
    ]
    let frontier = try Frontier(points: sweep)
    #expect(frontier.frontierLabels == ["r=300 k=10"])
    #expect(frontier.points.map(\.cutoffs.description) == ["r=300 k=10", "r=100 k=20", "r=200 k=20"])
    #expect(frontier.cheapest(within: .absolute(0)).cutoffs.description == "r=300 k=10")
    #expect(frontier.best(withinLatencyBudgetMs: 10)?.cutoffs.description == "r=300 k=10")
}

@Test func dominatedDuplicatesAndEqualLatency() throws {
    let sweep = [
        point(10, 0, quality: 0.5, p50: 5),
        point(20, 0, quality: 0.4, p50: 8), point(30, 0, quality: 0.4, p50: 8),  // duplicates, both dominated
        point(40, 5, quality: 0.6, p50: 9), point(40, 10, quality: 0.55, p50: 9),  // same latency, worse
        point(50, 5, quality: 0.6, p50: 12),  // same quality, slower
    ]
    let frontier = try Frontier(points: sweep)
    #expect(frontier.frontierLabels == ["r=10 k=0", "r=40 k=5"])
}

@Test func invalidSweepsAreRejected() throws {
    #expect(throws: SweepError.noPoints) { try Frontier(points: []) }
    let cutoffs = Cutoffs(retrieveK: 10, rerankK: 0)
    #expect(throws: SweepError.duplicateCutoffs(cutoffs)) {
        try Frontier(points: [point(10, 0, quality: 0.1, p50: 1), point(10, 0, quality: 0.2, p50: 2)])
    }
    #expect(throws: SweepError.invalidLatency(cutoffs)) { try Frontier(points: [point(10, 0, quality: 0.1, p50: -1)]) }
    #expect(throws: SweepError.invalidLatency(cutoffs)) {
        try Frontier(points: [point(10, 0, quality: 0.1, p50: .nan)])
    }
    #expect(throws: SweepError.invalidLatency(cutoffs)) {
        try Frontier(points: [point(10, 0, quality: 0.1, p50: .infinity)])
    }
    #expect(throws: SweepError.invalidQuality(cutoffs, .ndcgAt10)) {
        try Frontier(points: [point(10, 0, quality: .nan, p50: 1)])
    }
    #expect(throws: SweepError.invalidQuality(cutoffs, .ndcgAt10)) {
        try Frontier(points: [point(10, 0, quality: -.infinity, p50: 1)])
    }
    #expect(SweepError.noPoints.description == "the sweep has no points")
    #expect(SweepError.duplicateCutoffs(cutoffs).description == "the sweep measures r=10 k=0 twice")
    #expect(SweepError.invalidLatency(cutoffs).description == "latency of r=10 k=0 is negative or not finite")
    #expect(SweepError.invalidQuality(cutoffs, .ndcgAt10).description == "nDCG@10 of r=10 k=0 is not finite")
}

@Test func tableMarksTheFrontierAndListsRecommendations() throws {
    let sweep = [
        point(100, 20, quality: 0.44, p50: 35, p99: 60, mrr: 0.5, qps: 28.5),
        point(10, 0, quality: 0.3, p50: 2, p99: 5.25, mrr: 0.25, qps: 480),
        point(50, 10, quality: 0.29, p50: 25, p99: 40, mrr: 0.2, qps: 39.9),
    ]
    let report = try Frontier(points: sweep).report(qualityLoss: .absolute(0.2), latencyBudgetMs: 1)
    let expected = """
        nDCG@10 against p50 latency; * = on the Pareto frontier
           retrieve_k  rerank_k  MRR@10  nDCG@10   R@100  p50 ms  p99 ms    QPS
        *          10         0  0.2500   0.3000  0.3000    2.00    5.25  480.0
                   50        10  0.2000   0.2900  0.2900   25.00   40.00   39.9
        *         100        20  0.5000   0.4400  0.4400   35.00   60.00   28.5
        best nDCG@10: r=100 k=20
        fastest (p50) within 0.2 nDCG@10 of the best: r=10 k=0
        best nDCG@10 with p50 <= 1.0 ms: none

        """
    #expect(report.table == expected)
}

@Test func reportRoundTripsThroughJSON() throws {
    let report = try Frontier(points: knownSweep).report(qualityLoss: .relative(0.03), latencyBudgetMs: 30)
    let json = try report.json()
    #expect(try SweepReport.decode(json: json) == report)
    let text = String(decoding: json, as: UTF8.self)
    #expect(text.contains(#""onFrontier" : true"#))
    #expect(text.contains(#""retrieveK" : 100"#))
    #expect(report.entries.filter(\.onFrontier).count == 5)
    #expect(report.recommendations.map(\.cutoffs?.description) == ["r=100 k=50", "r=100 k=20", "r=100 k=10"])
}

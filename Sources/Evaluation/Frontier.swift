/// The Pareto frontier of a sweep for one quality measure and one latency statistic.
///
/// A setting is on the frontier when no other is at least as fast and at least as good and
/// strictly better in one of the two. Settings that tie exactly in both are one point on the
/// frontier: the cheapest cutoffs (fewest reranked, then fewest retrieved) stands for them.
public struct Frontier: Sendable {
    public let measure: Measure
    public let latencyStatistic: LatencyStatistic
    /// Every point, fastest first; equal latency: best quality first; then cheapest cutoffs.
    public let points: [SweepPoint]
    /// The frontier, fastest first; quality strictly increases along it.
    public let frontier: [SweepPoint]

    public init(
        points: [SweepPoint], measure: Measure = .ndcgAt10, latencyStatistic: LatencyStatistic = .p50
    ) throws(SweepError) {
        guard !points.isEmpty else { throw .noPoints }
        var seen = Set<Cutoffs>()
        for point in points {
            guard seen.insert(point.cutoffs).inserted else { throw .duplicateCutoffs(point.cutoffs) }
            let latency = point.latency[latencyStatistic]
            guard latency.isFinite, latency >= 0 else { throw .invalidLatency(point.cutoffs) }
            guard point.quality[measure].isFinite else { throw .invalidQuality(point.cutoffs, measure) }
        }
        self.measure = measure
        self.latencyStatistic = latencyStatistic
        self.points = points.sorted { a, b in
            let (la, lb) = (a.latency[latencyStatistic], b.latency[latencyStatistic])
            if la != lb { return la < lb }
            let (qa, qb) = (a.quality[measure], b.quality[measure])
            if qa != qb { return qa > qb }
            return Cutoffs.cheaper(a.cutoffs, b.cutoffs)
        }
        // In that order a point is undominated exactly when it beats the quality of all before it.
        var frontier: [SweepPoint] = []
        for point in self.points where frontier.last.map({ point.quality[measure] > $0.quality[measure] }) ?? true {
            frontier.append(point)
        }
        self.frontier = frontier
    }

    public func isOnFrontier(_ cutoffs: Cutoffs) -> Bool { frontier.contains { $0.cutoffs == cutoffs } }

    public var best: SweepPoint { frontier.last! }

    /// The fastest setting (by this frontier's latency statistic) whose quality is within `loss` of
    /// the best; among equally fast ones the better, then the cheaper. Always a frontier point.
    /// A slack of 1e-12 absorbs rounding in `best - loss`.
    public func cheapest(within loss: QualityLoss) -> SweepPoint {
        let top = best.quality[measure]
        var threshold = loss.threshold(best: top)
        if !(threshold <= top) { threshold = top }  // a negative or NaN loss allows no loss
        return points.first { $0.quality[measure] >= threshold - 1e-12 }!
    }

    /// The best quality whose latency (by `statistic`, default this frontier's) is within
    /// `budgetMs`; among equally good ones the faster, then the cheaper. nil when none fits.
    public func best(withinLatencyBudgetMs budgetMs: Double, statistic: LatencyStatistic? = nil) -> SweepPoint? {
        let statistic = statistic ?? latencyStatistic
        let fitting = points.filter { $0.latency[statistic] <= budgetMs }
        // `points` is fastest-first, so the first of the best is the fastest of them.
        guard let top = fitting.map({ $0.quality[measure] }).max() else { return nil }
        return fitting.first { $0.quality[measure] == top }
    }
}

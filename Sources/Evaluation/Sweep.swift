/// A pair of per-request cutoffs: how many passages stage 1 retrieves, how many stage 2 reranks.
public struct Cutoffs: Hashable, Sendable, Codable, CustomStringConvertible {
    public let retrieveK: Int
    /// 0 means no reranking.
    public let rerankK: Int

    public init(retrieveK: Int, rerankK: Int) {
        self.retrieveK = retrieveK
        self.rerankK = rerankK
    }

    /// The plot's and table's label.
    public var description: String { "r=\(retrieveK) k=\(rerankK)" }

    /// Less compute first: reranking dominates the cost, so fewer reranked passages, then fewer
    /// retrieved. Used only to break exact ties in quality and latency.
    static func cheaper(_ a: Cutoffs, _ b: Cutoffs) -> Bool {
        (a.rerankK, a.retrieveK) < (b.rerankK, b.retrieveK)
    }
}

public enum LatencyStatistic: String, Sendable, Codable, CaseIterable {
    case p50
    case p99
}

/// End-to-end latency percentiles of one setting, in milliseconds.
public struct LatencySummary: Equatable, Sendable, Codable {
    public let p50Ms: Double
    public let p99Ms: Double

    public init(p50Ms: Double, p99Ms: Double) {
        self.p50Ms = p50Ms
        self.p99Ms = p99Ms
    }

    public subscript(statistic: LatencyStatistic) -> Double {
        switch statistic {
        case .p50: return p50Ms
        case .p99: return p99Ms
        }
    }
}

/// One measured setting of a cutoff sweep.
public struct SweepPoint: Equatable, Sendable, Codable {
    public let cutoffs: Cutoffs
    /// Mean measures over the judged queries (`EvaluationReport.mean`).
    public let quality: Scores
    public let latency: LatencySummary
    public let throughputQPS: Double

    public init(cutoffs: Cutoffs, quality: Scores, latency: LatencySummary, throughputQPS: Double) {
        self.cutoffs = cutoffs
        self.quality = quality
        self.latency = latency
        self.throughputQPS = throughputQPS
    }
}

public enum SweepError: Error, Equatable, Sendable, CustomStringConvertible {
    case noPoints
    case duplicateCutoffs(Cutoffs)
    case invalidLatency(Cutoffs)
    case invalidQuality(Cutoffs, Measure)

    public var description: String {
        switch self {
        case .noPoints: return "the sweep has no points"
        case .duplicateCutoffs(let cutoffs): return "the sweep measures \(cutoffs) twice"
        case .invalidLatency(let cutoffs): return "latency of \(cutoffs) is negative or not finite"
        case .invalidQuality(let cutoffs, let measure): return "\(measure.rawValue) of \(cutoffs) is not finite"
        }
    }
}

/// How much quality a recommendation may give up against the best setting.
public enum QualityLoss: Equatable, Sendable, Codable, CustomStringConvertible {
    /// In the measure's own units, e.g. 0.01 nDCG@10.
    case absolute(Double)
    /// A fraction of the best value, e.g. 0.02 for 2 %.
    case relative(Double)

    func threshold(best: Double) -> Double {
        switch self {
        case .absolute(let loss): return best - loss
        case .relative(let fraction): return best * (1 - fraction)
        }
    }

    public var description: String {
        switch self {
        case .absolute(let loss): return "\(loss)"
        case .relative(let fraction): return "\(fraction * 100)%"
        }
    }
}

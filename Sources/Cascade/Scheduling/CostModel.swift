/// What model work costs on this machine, learnt from every batch the scheduler runs: seconds
/// per padded token of each model, seconds per query of a vector-store scan, and tokens per
/// rerank pair (to price a search's rerank stage before its passages are known).
///
/// Each figure is an exponentially weighted mean (weight 0.2 for the newest batch), so it
/// follows the machine when it slows down (another process, thermal limits) within a few batches.
struct CostModel: Sendable {
    var encodeSecondsPerToken: Double
    var rerankSecondsPerToken: Double
    var scanSecondsPerQuery: Double
    var tokensPerPair: Double

    static let weight = 0.2

    mutating func observe(_ work: WorkClass, tokens: Int, seconds: Double) {
        guard tokens > 0, seconds > 0 else { return }
        let perToken = seconds / Double(tokens)
        switch work {
        case .query, .bulk: Self.blend(&encodeSecondsPerToken, perToken)
        case .rerank: Self.blend(&rerankSecondsPerToken, perToken)
        }
    }

    mutating func observeScan(queries: Int, seconds: Double) {
        guard queries > 0, seconds > 0 else { return }
        Self.blend(&scanSecondsPerQuery, seconds / Double(queries))
    }

    /// The pairs of one search, once its passages are known: the next search's rerank is priced
    /// from their lengths before its own passages are retrieved. Rerank calls do not teach it:
    /// their passages are the caller's, and one call of 64 long passages had made every later
    /// search look four times dearer than it was.
    mutating func observeSearchPairs(_ tokenCounts: [Int]) {
        for count in tokenCounts { Self.blend(&tokensPerPair, Double(count)) }
    }

    /// Takes the per-token and per-scan figures of a measurement of the idle machine (see
    /// `ModelScheduler.Core.remeasure`); the pair length stays what searches taught.
    mutating func adopt(measured: CostModel) {
        encodeSecondsPerToken = measured.encodeSecondsPerToken
        rerankSecondsPerToken = measured.rerankSecondsPerToken
        scanSecondsPerQuery = measured.scanSecondsPerQuery
    }

    /// The estimated seconds of `cost`.
    func seconds(of cost: WorkCost) -> Double {
        Double(cost.encodeTokens + cost.bulkTokens) * encodeSecondsPerToken
            + Double(cost.rerankTokens) * rerankSecondsPerToken + Double(cost.scans) * scanSecondsPerQuery
    }

    private static func blend(_ value: inout Double, _ sample: Double) {
        value += weight * (sample - value)
    }
}

/// How much longer admitted requests took than admission estimated, and so how much longer than
/// its estimate admission plans a new request to take.
///
/// Estimates miss on the slow side for reasons the per-token cost model does not see: query
/// encodes of requests admitted later run first, refusals and network work take the same cores,
/// the machine slows down. Planning with a fixed 1.25x margin, then with the 90th percentile of
/// recent ratios, still left 1-5 admitted calls of a 30 s flood past their deadlines; the margin
/// is now the largest of the last `window` ratios, so admission keeps its promise while the
/// machine is as it was. Ratios are learnt only as requests complete, seconds after their
/// admission: when the machine slowed by a third within that time (a 2-core VM, 8 connections),
/// a floor of 1.25 still let 3 of 91 admitted calls finish late, so the floor is 1.5. Under
/// overload the margin costs no goodput (what it refuses would only have waited longer in line);
/// it only refuses sooner when the deadline is barely long enough.
///
/// A ratio counts for `memory` only. Only admitted requests teach the margin, so a margin learnt
/// while the machine was slow, once it refused every caller, never came down: an idle server
/// refused every 2 s search for minutes after a busy spell.
struct Overruns: Sendable {
    private var ratios: [(ratio: Double, at: ContinuousClock.Instant)] = []
    private var next = 0

    static let floor = 1.5
    static let ceiling = 4.0
    static let window = 64
    static let memory = Duration.seconds(30)
    /// Cheap requests' time is mostly fixed overhead (a few milliseconds of RPC and tokenizing),
    /// which a ratio would blow up: only estimates above this teach the margin.
    static let minimumEstimate = 0.05

    mutating func observe(estimate: Double, took: Double, at now: ContinuousClock.Instant = .now) {
        guard estimate >= Self.minimumEstimate else { return }
        let ratio = (ratio: took / estimate, at: now)
        if ratios.count < Self.window {
            ratios.append(ratio)
        } else {
            ratios[next] = ratio
            next = (next + 1) % Self.window
        }
    }

    func headroom(at now: ContinuousClock.Instant = .now) -> Double {
        // Every admission asks: no arrays made on the way.
        let recent = ratios.lazy.filter { $0.at.duration(to: now) < Self.memory }.map(\.ratio).max()
        return Swift.min(Self.ceiling, Swift.max(Self.floor, recent ?? Self.floor))
    }
}

/// The three kinds of model work, in the order they are served when they wait together.
public enum WorkClass: String, Sendable, CaseIterable {
    /// A search's query encode and vector-store scan: short, and first in every search.
    case query
    /// Cross-encoder pairs of searches and Rerank calls.
    case rerank
    /// Embed and Upsert texts: throughput work, served when nothing interactive waits (with aging).
    case bulk

    /// Priority before aging: a query encode outranks reranking, which outranks bulk work.
    var basePriority: Double {
        switch self {
        case .query: 2
        case .rerank: 1
        case .bulk: 0
        }
    }
}

/// A request's model work in tokens (and scans), known from its inputs before any model runs.
public struct WorkCost: Sendable, Equatable {
    public var encodeTokens = 0
    public var scans = 0
    public var rerankTokens = 0
    public var bulkTokens = 0

    public init(encodeTokens: Int = 0, scans: Int = 0, rerankTokens: Int = 0, bulkTokens: Int = 0) {
        self.encodeTokens = encodeTokens
        self.scans = scans
        self.rerankTokens = rerankTokens
        self.bulkTokens = bulkTokens
    }

    static func += (lhs: inout WorkCost, rhs: WorkCost) {
        lhs.encodeTokens += rhs.encodeTokens
        lhs.scans += rhs.scans
        lhs.rerankTokens += rhs.rerankTokens
        lhs.bulkTokens += rhs.bulkTokens
    }

    static func -= (lhs: inout WorkCost, rhs: WorkCost) {
        lhs.encodeTokens -= rhs.encodeTokens
        lhs.scans -= rhs.scans
        lhs.rerankTokens -= rhs.rerankTokens
        lhs.bulkTokens -= rhs.bulkTokens
    }

    /// Interactive work only: what a search or rerank finds ahead of it (bulk work yields to it).
    var interactive: WorkCost { WorkCost(encodeTokens: encodeTokens, scans: scans, rerankTokens: rerankTokens) }
}

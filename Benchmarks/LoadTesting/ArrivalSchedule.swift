import Foundation

/// How open-loop requests are spaced.
public enum Arrivals: String, Codable, Sendable, CaseIterable {
    /// Exactly 1/rate apart.
    case uniform
    /// Exponential gaps with mean 1/rate (a Poisson process): the bursts real traffic has.
    case poisson
}

/// The intended send times of an open-loop run, in nanoseconds from its start. Fixed in advance
/// and independent of the server, which is what lets latency be measured from the intended time.
public struct ArrivalSchedule: Sequence, Sendable {
    public let rate: Double
    public let arrivals: Arrivals
    public let seed: UInt64

    public init(rate: Double, arrivals: Arrivals, seed: UInt64 = 0x5EED) throws(BenchError) {
        guard rate.isFinite, rate > 0 else {
            throw BenchError("--rate must be a positive number of requests per second, got \(rate)")
        }
        guard rate <= 1_000_000 else {
            throw BenchError("--rate \(rate) is above the 1,000,000 requests/s this tool can schedule")
        }
        self.rate = rate
        self.arrivals = arrivals
        self.seed = seed
    }

    public var meanIntervalNanos: Double { 1e9 / rate }

    public func makeIterator() -> Iterator {
        Iterator(schedule: self)
    }

    public struct Iterator: IteratorProtocol {
        private let schedule: ArrivalSchedule
        private var random: SplitMix64
        private var index: UInt64 = 0
        private var elapsed: Double = 0

        init(schedule: ArrivalSchedule) {
            self.schedule = schedule
            self.random = SplitMix64(seed: schedule.seed)
        }

        /// Never nil: the run's request count or duration ends it.
        public mutating func next() -> UInt64? {
            defer { index += 1 }
            switch schedule.arrivals {
            case .uniform:
                // From the index, not a running sum, so rounding never drifts.
                return UInt64((Double(index) * schedule.meanIntervalNanos).rounded())
            case .poisson:
                // The first request goes at 0 like the uniform one; gaps after it are exponential.
                if index > 0 {
                    let u = random.nextUnitInterval()
                    elapsed += -log(1 - u) * schedule.meanIntervalNanos
                }
                return UInt64(elapsed.rounded())
            }
        }
    }
}

/// A tiny seeded generator, so a schedule is reproducible from its seed on every platform.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    mutating func nextUnitInterval() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }
}

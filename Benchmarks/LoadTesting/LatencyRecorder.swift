import CascadeWire
import Histogram

/// Histograms of one run: end-to-end latency (from the intended send time), service time (from
/// the actual send), and each server stage; plus error counts by status code. Microsecond
/// resolution, three significant digits, values up to an hour (longer ones are clamped).
public struct LatencyRecorder: Sendable {
    public static let highestTrackableMicros: UInt64 = 3_600_000_000

    public private(set) var latency = LatencyRecorder.makeHistogram()
    public private(set) var service = LatencyRecorder.makeHistogram()
    public private(set) var stages: [Stage: Histogram<UInt64>] = Dictionary(
        uniqueKeysWithValues: Stage.search.map { ($0, LatencyRecorder.makeHistogram()) })
    /// Failed requests by gRPC status code name.
    public private(set) var errors: [String: Int] = [:]
    /// The first message seen with each code: why the calls failed, which the count cannot say.
    public private(set) var errorMessages: [String: String] = [:]
    public private(set) var completed = 0
    /// Successful requests answered within `deadlineNanos` of being sent (all of them without one).
    public private(set) var onTime = 0
    /// Failed requests, from the actual send to the error: how fast refusals come back.
    public private(set) var failureService = LatencyRecorder.makeHistogram()
    /// When the last request of the run answered, in nanoseconds from its start.
    public private(set) var lastDone: UInt64 = 0
    /// Each request's own deadline (`--deadline-ms`), measured from its actual send, as gRPC's is.
    public let deadlineNanos: UInt64?
    /// Every sample in the order recorded, when asked for (`--samples`): histograms cannot say *when*
    /// in a run the slow ones happened.
    public private(set) var samples: [Sample]?

    public init(deadlineNanos: UInt64? = nil, keepSamples: Bool = false) {
        self.deadlineNanos = deadlineNanos
        samples = keepSamples ? [] : nil
    }

    public var failed: Int { errors.values.reduce(0, +) }
    public var sent: Int { completed + failed }

    /// Latency histograms hold successful requests only; failures are counted by code, so a
    /// server that refuses fast cannot make its latency look better.
    public mutating func record(_ sample: Sample) {
        lastDone = max(lastDone, sample.done)
        samples?.append(sample)
        switch sample.outcome {
        case .success(let timings):
            completed += 1
            if sample.serviceNanos <= deadlineNanos ?? .max { onTime += 1 }
            Self.record(&latency, micros: sample.latencyNanos / 1000)
            Self.record(&service, micros: sample.serviceNanos / 1000)
            for stage in Stage.search {
                Self.record(&stages[stage, default: Self.makeHistogram()], micros: timings[stage])
            }
        case .failure(let code, let message, _):
            errors[code, default: 0] += 1
            if !message.isEmpty && errorMessages[code] == nil { errorMessages[code] = message }
            Self.record(&failureService, micros: sample.serviceNanos / 1000)
        }
    }

    public mutating func merge(_ other: LatencyRecorder) {
        latency.add(other.latency)
        service.add(other.service)
        for (stage, histogram) in other.stages {
            stages[stage, default: Self.makeHistogram()].add(histogram)
        }
        errors.merge(other.errors, uniquingKeysWith: +)
        errorMessages.merge(other.errorMessages) { mine, _ in mine }
        failureService.add(other.failureService)
        completed += other.completed
        onTime += other.onTime
        lastDone = max(lastDone, other.lastDone)
        if let more = other.samples { samples = (samples ?? []) + more }
    }

    static func makeHistogram() -> Histogram<UInt64> {
        Histogram(
            lowestDiscernibleValue: 1, highestTrackableValue: highestTrackableMicros,
            numberOfSignificantValueDigits: .three)
    }

    private static func record(_ histogram: inout Histogram<UInt64>, micros: UInt64) {
        histogram.record(min(micros, highestTrackableMicros))
    }
}

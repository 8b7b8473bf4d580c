import Foundation

/// How long a refused caller is told to wait before it tries again (`Refusal.retryAfter`, sent as
/// `grpc-retry-pushback-ms`).
///
/// Told only "about your own work's worth", 64 closed-loop callers came back every 0.4 s: 38
/// refusals per admitted call, which took a tenth of the cores (RPC work on both ends) and slowed
/// the model passes of the calls that were admitted. The callers waiting to retry number about
/// the refusal rate times the wait they were given (Little's law); spread over the rate at which
/// the scheduler admits, each comes back about when a slot is free for it. Refusals then run at
/// about the admission rate, whatever the number of callers. The wait is never shorter than the
/// one the caller's own request implies, and is jittered so that callers refused together do not
/// return together.
struct RetryPacing: Sendable {
    /// Seconds over which the rates are averaged (an exponential decay with this time constant).
    static let horizon = 2.0
    /// No caller is told to wait longer than this, whatever the rates say.
    static let longest = 30.0

    private var admissions = DecayingRate(horizon: Self.horizon)
    private var refusals = DecayingRate(horizon: Self.horizon)
    /// Mean wait given to recent refusals, weighted like the refusal rate.
    private var givenWait = 0.0

    mutating func admitted(at now: ContinuousClock.Instant) { admissions.add(at: now) }

    /// The wait to give a request refused at `now`, when its own estimate says `atLeast` seconds;
    /// `unit` is a uniform draw in 0..<1 (the jitter).
    mutating func refused(at now: ContinuousClock.Instant, atLeast: Double, unit: Double) -> Double {
        let waiting = refusals.perSecond(at: now) * givenWait
        let admitting = max(admissions.perSecond(at: now), 1 / Self.longest)
        let wait = min(Self.longest, max(atLeast, waiting / admitting) * (0.5 + unit))
        refusals.add(at: now)
        // The mean of recent waits, in step with the refusal rate's decay.
        givenWait += (wait - givenWait) / max(1, refusals.count(at: now))
        return wait
    }
}

/// Events per second, counted with an exponential decay: each event adds 1/horizon, and the sum
/// decays by e^(-t/horizon).
struct DecayingRate: Sendable {
    let horizon: Double
    private var sum = 0.0
    private var last: ContinuousClock.Instant?

    init(horizon: Double) { self.horizon = horizon }

    mutating func add(at now: ContinuousClock.Instant) {
        decay(to: now)
        sum += 1 / horizon
    }

    func perSecond(at now: ContinuousClock.Instant) -> Double {
        guard let last else { return 0 }
        return sum * Self.decayFactor(from: last, to: now, horizon: horizon)
    }

    /// The decayed number of events (rate × horizon).
    func count(at now: ContinuousClock.Instant) -> Double { perSecond(at: now) * horizon }

    private mutating func decay(to now: ContinuousClock.Instant) {
        if let last { sum *= Self.decayFactor(from: last, to: now, horizon: horizon) }
        last = now
    }

    private static func decayFactor(
        from start: ContinuousClock.Instant, to end: ContinuousClock.Instant, horizon: Double
    ) -> Double {
        let seconds = ModelScheduler.seconds(start.duration(to: end))
        return seconds <= 0 ? 1 : exp(-seconds / horizon)
    }
}

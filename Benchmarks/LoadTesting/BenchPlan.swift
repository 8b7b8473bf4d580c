/// The command line's load options as given, before validation.
public struct BenchOptions: Sendable {
    public var concurrency: Int?
    public var rate: Double?
    public var arrivals = "poisson"
    public var maxOutstanding = 1024
    public var requests: Int?
    public var durationSeconds: Double?
    public var warmup = 0
    public var retrieveK: UInt32?
    public var rerankK: UInt32?
    public var topN: UInt32?
    public var sweep: String?
    public var mix: String?
    public var seed: UInt64 = 0x5EED

    public init() {}
}

/// A validated benchmark: the load shape, its bounds, and one or more cutoff settings to run it at.
public struct BenchPlan: Equatable, Sendable {
    public static let defaultRequests = 200

    public var shape: LoadShape
    public var bounds: LoadBounds
    /// Requests sent first at the same shape and not recorded (model warm-up, connection set-up).
    public var warmup: Int
    /// One entry, or one per sweep item; each runs the same load.
    public var settings: [SearchSettings]
    public var isSweep: Bool
    /// A mixed load: classes run at the same time, each reported apart (empty otherwise).
    public var mix: [MixClass] = []

    public init(_ options: BenchOptions) throws(BenchError) {
        if options.mix != nil {
            let clashing = [
                ("--concurrency", options.concurrency != nil), ("--rate", options.rate != nil),
                ("--sweep", options.sweep != nil), ("--retrieve-k", options.retrieveK != nil),
                ("--rerank-k", options.rerankK != nil),
            ].filter(\.1).map(\.0)
            if !clashing.isEmpty {
                throw BenchError(
                    "--mix sets each class's cutoffs and load itself: drop \(clashing.joined(separator: ", "))")
            }
        }
        if options.concurrency != nil, options.rate != nil {
            throw BenchError(
                "--concurrency (closed loop) and --rate (open loop) exclude each other: give one of them")
        }
        if let rate = options.rate {
            guard let arrivals = Arrivals(rawValue: options.arrivals.lowercased()) else {
                throw BenchError("--arrivals must be poisson or uniform, got \"\(options.arrivals)\"")
            }
            guard options.maxOutstanding >= 1 else {
                throw BenchError("--max-outstanding must be at least 1, got \(options.maxOutstanding)")
            }
            let schedule = try ArrivalSchedule(rate: rate, arrivals: arrivals, seed: options.seed)
            shape = .open(schedule: schedule, maxOutstanding: options.maxOutstanding)
        } else {
            let concurrency = options.concurrency ?? 1
            guard concurrency >= 1, concurrency <= 10_000 else {
                throw BenchError("--concurrency must be from 1 to 10000, got \(concurrency)")
            }
            shape = .closed(concurrency: concurrency)
        }

        if let requests = options.requests, requests < 1 {
            throw BenchError("--requests must be at least 1, got \(requests)")
        }
        var durationNanos: UInt64?
        if let seconds = options.durationSeconds {
            guard seconds.isFinite, seconds > 0, seconds <= 86_400 else {
                throw BenchError("--duration must be a number of seconds above 0 and at most 86400, got \(seconds)")
            }
            durationNanos = UInt64(seconds * 1e9)
        }
        let requests = options.requests ?? (durationNanos == nil ? Self.defaultRequests : nil)
        bounds = LoadBounds(requests: requests, durationNanos: durationNanos)

        guard options.warmup >= 0 else {
            throw BenchError("--warmup must be 0 or more requests, got \(options.warmup)")
        }
        warmup = options.warmup

        if let sweep = options.sweep {
            if options.retrieveK != nil || options.rerankK != nil {
                throw BenchError("--sweep sets retrieve_k and rerank_k itself: drop --retrieve-k and --rerank-k")
            }
            settings = try Sweep.parse(sweep).map { SearchSettings(retrieveK: $0.retrieveK, rerankK: $0.rerankK) }
            isSweep = true
        } else {
            settings = [SearchSettings(retrieveK: options.retrieveK, rerankK: options.rerankK)]
            isSweep = false
        }
        if let mix = options.mix {
            self.mix = try Mix.parse(mix, maxOutstanding: options.maxOutstanding, seed: options.seed)
            for index in self.mix.indices { self.mix[index].settings.topN = options.topN }
        }
        for index in settings.indices {
            settings[index].topN = options.topN
            do {
                try settings[index].validate()
            } catch {
                throw BenchError(error.message.replacingFieldNamesWithFlags)
            }
        }
    }

    /// The warm-up phase: the same shape, bounded by the warm-up count only.
    public var warmupBounds: LoadBounds? {
        warmup > 0 ? LoadBounds(requests: warmup, durationNanos: nil) : nil
    }
}

extension String {
    fileprivate var replacingFieldNamesWithFlags: String {
        self.replacing("retrieve_k", with: "--retrieve-k").replacing("rerank_k", with: "--rerank-k")
            .replacing("top_n", with: "--top-n")
    }
}

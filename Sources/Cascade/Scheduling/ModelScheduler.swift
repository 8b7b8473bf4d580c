import Compute
import Foundation
import Synchronization
import Tokenization
import Transformer
import VectorStore

/// Runs every model pass (and the vector-store scan that follows a query encode) for all callers.
///
/// - **Requests are admitted once, whole.** `admit` prices a request's work from its inputs
///   (tokens per model, scans) with a `CostModel` learnt from every batch, adds the work already
///   admitted ahead of it, and refuses it at once (`CascadeError.overloaded`, before any model
///   work) when the estimate passes its deadline or `maxQueueMs`, or when `capacity` requests are
///   already admitted. Admitted work then runs in admission order within its class, so a search
///   whose rerank comes after its query encode is not overtaken by requests admitted later.
/// - **Work of many callers shares forward passes.** Query encodes waiting together run as one
///   batch (then one scan for all of them); rerank pairs and bulk texts of several requests fill
///   batches up to a token budget.
/// - **Classes.** Query encodes before rerank batches before bulk encodes, with aging so that
///   nothing starves. Waiting query encodes also run between two layers of a rerank or bulk
///   pass, so a retrieval-only search waits for at most one layer of one.
/// - **Deadlines.** Work whose deadline passes while it waits is dropped without running, and a
///   cancelled caller's work is dropped at once.
///
/// Why a thread of its own: a forward pass is milliseconds to a second of compute-pool work that
/// already uses every core; on Swift's cooperative pool it would pin a pool thread (starving the
/// gRPC handlers), and two at once would oversubscribe the cores. Callers wait on continuations.
public final class ModelScheduler: Sendable {
    public let settings: SchedulerSettings
    /// Admitted requests allowed at once: the hard bound on memory held by waiting work.
    public let capacity: Int
    let retriever: Retriever
    let reranker: Reranker?
    let store: VectorStore
    let core: Core

    /// Measures the models once (a query encode, a scan, a rerank pair) to seed the cost model,
    /// then starts the worker thread.
    public init(
        retriever: Retriever, reranker: Reranker?, store: VectorStore, settings: SchedulerSettings, capacity: Int
    ) throws {
        precondition(capacity >= 1, "ModelScheduler capacity must be at least 1")
        self.settings = settings
        self.capacity = capacity
        self.retriever = retriever
        self.reranker = reranker
        self.store = store
        let runner = Runner(retriever: retriever, reranker: reranker, store: store, settings: settings)
        // Priced before the first real batch; the first pass also faults the weights in, so the
        // first caller does not pay it.
        core = Core(
            cost: try runner.measure(warm: true),
            longPassLayers: min(retriever.encoder.layers, reranker?.encoder.layers ?? .max))
        ComputePool.shared.setWorkerNice(settings.modelNice)
        let thread = Thread { [core, runner, settings] in
            nameCurrentThread("cascade-models")
            lowerCurrentThreadPriority(to: settings.modelNice)
            core.work(runner)
        }
        // BLAS and deep call chains want more than the 512 KiB Foundation gives secondary threads.
        thread.stackSize = 8 << 20
        thread.start()
    }

    deinit { shutdown() }

    /// Where batch sizes, waits, refusals and drops are reported (the server's metrics).
    public func observe(with observer: any SchedulerObserver) {
        core.observer.withLock { $0 = observer }
    }

    var observer: (any SchedulerObserver)? { core.observer.withLock { $0 } }

    /// Jobs waiting for the model (a job is one request's work of one class).
    public var waiting: Int { core.state.withLock { state in state.jobs.values.reduce(0) { $0 + $1.count } } }

    /// Requests admitted and not yet finished.
    public var admitted: Int { core.state.withLock { $0.live.count } }

    /// Refuses new work and fails every waiting job with `CascadeError.shutDown`; the worker
    /// ends after the batch it is running. Idempotent.
    public func shutdown() {
        let dropped = core.state.withLock { state in
            state.stopped = true
            defer { state.jobs = [:] }
            return state.jobs.values.flatMap { $0 }.compactMap { $0.takeContinuation() }
        }
        for continuation in dropped { continuation.resume(throwing: CascadeError.shutDown) }
        core.wakeUp.signal()
    }

    // MARK: Admission

    /// Admits a request that will need `cost`, or throws `CascadeError.overloaded` (with the
    /// estimate) or `.shutDown`. `bulk` requests also wait behind other bulk work; interactive
    /// ones do not. Every admission must be `finish`ed: use `withAdmission`.
    public func admit(_ cost: WorkCost, deadline: ContinuousClock.Instant?, bulk: Bool = false) throws -> Admission {
        let now = ContinuousClock.now
        var remeasure = false
        let outcome: Result<Admission, CascadeError> = core.state.withLock { state in
            if state.stopped { return .failure(.shutDown) }
            let ahead = state.secondsAhead(of: cost, bulk: bulk, settings: settings)
            let own = state.cost.seconds(of: cost)
            func refuse(_ reason: Refusal.Reason, _ message: String, atLeast: Double) -> Result<Admission, CascadeError>
            {
                let wait = state.pacing.refused(at: now, atLeast: atLeast, unit: Double.random(in: 0..<1))
                return .failure(.overloaded(Refusal(reason: reason, message: message, retryAfter: .seconds(wait))))
            }
            if state.live.count >= capacity {
                let perRequest = state.cost.seconds(of: state.backlog) / Double(max(1, state.live.count))
                return refuse(
                    .queueFull,
                    "server overloaded: \(capacity) requests are already admitted (queue_capacity); retry later",
                    atLeast: perRequest)
            }
            let maxQueue = Double(settings.maxQueueMs) / 1000
            if ahead > maxQueue {
                return refuse(
                    .queueTime,
                    "server busy: about \(Self.ms(ahead)) of admitted work (\(state.live.count) requests) is ahead "
                        + "of this request, more than max_queue_ms (\(settings.maxQueueMs) ms); retry later",
                    atLeast: max(ahead - maxQueue, own))
            }
            if let deadline {
                let left = Self.seconds(now.duration(to: deadline))
                let margin = state.overruns.headroom(at: now)
                let estimate = (ahead + own) * margin
                if estimate > left, state.live.isEmpty {
                    // Nothing is ahead. The estimate may be stale (learnt only from admitted work):
                    // re-measure the idle models, so that a caller whose deadline fits the machine
                    // as it is now is not refused forever. The retry time stays paced: callers
                    // told none came back at once, 29,000 refusals in a 30 s flood.
                    remeasure = state.lastMeasured.duration(to: now) > Self.remeasureAfter
                    state.remeasure = state.remeasure || remeasure
                    return refuse(
                        .deadline,
                        "this request alone would take about \(Self.ms(estimate)) (\(Self.ms(own)) of model "
                            + "work by the current estimate, times \(Self.ratio(margin)) for how late recent "
                            + "requests ran), more than the \(Self.ms(max(0, left))) before its deadline: give it "
                            + "a later deadline\(Self.lessWork(cost))",
                        atLeast: own)
                } else if estimate > left {
                    return refuse(
                        .deadline,
                        "server busy: this request would finish in about \(Self.ms(estimate)) "
                            + "(\(Self.ms(ahead)) of admitted work ahead in \(state.live.count) requests, "
                            + "\(Self.ms(own)) of its own), after its deadline in \(Self.ms(max(0, left))); "
                            + "retry later, or with a later deadline\(Self.lessWork(cost))",
                        atLeast: max(estimate - left, own))
                }
            }
            state.sequence += 1
            let admission = Admission(
                sequence: state.sequence, deadline: deadline, admitted: now, cost: cost, estimate: ahead + own)
            state.live[admission.sequence] = admission
            state.backlog += cost
            state.pacing.admitted(at: now)
            return .success(admission)
        }
        if remeasure { core.wakeUp.signal() }
        switch outcome {
        case .success(let admission): return admission
        case .failure(let error):
            if case .overloaded(let refusal) = error { observer?.refused(refusal.reason) }
            throw error
        }
    }

    /// The least time between two measurements of the idle models that refusals ask for.
    static let remeasureAfter = Duration.seconds(2)

    /// What a caller can send instead to need less model time, as " or with ..." (empty for a
    /// search that does not rerank: its time is a query encode and a scan).
    static func lessWork(_ cost: WorkCost) -> String {
        if cost.rerankTokens > 0 { return cost.scans > 0 ? " or a smaller rerank_k" : " or fewer or shorter passages" }
        return cost.bulkTokens > 0 ? " or fewer or shorter texts" : ""
    }

    /// Releases what `admission` still held in the backlog (an estimate larger than the work, or
    /// a request that failed part-way).
    public func finish(_ admission: Admission) {
        core.state.withLock { state in
            guard state.live.removeValue(forKey: admission.sequence) != nil else { return }
            state.backlog -= admission.remaining
            admission.remaining = WorkCost()
        }
    }

    /// Admits, runs `body`, and finishes the admission however `body` ends. A request that
    /// completes teaches admission how far its estimate was from the truth.
    public func withAdmission<T>(
        _ cost: WorkCost, deadline: ContinuousClock.Instant?, bulk: Bool = false,
        _ body: (Admission) async throws -> T
    ) async throws -> T {
        let admission = try admit(cost, deadline: deadline, bulk: bulk)
        defer { finish(admission) }
        let result = try await body(admission)
        let took = Self.seconds(admission.admitted.duration(to: .now))
        core.state.withLock { $0.overruns.observe(estimate: admission.estimate, took: took) }
        return result
    }

    /// Seconds per token of the cross-encoder, and the estimated seconds of rerank work that will
    /// run before `admission`'s next rerank pair: query encodes of anyone, rerank pairs of those
    /// admitted before it. What budgeted reranking spends its budget against.
    public func rerankQuote(for admission: Admission) -> (wait: Double, secondsPerToken: Double) {
        core.state.withLock { state in
            var ahead = WorkCost()
            for (sequence, other) in state.live where sequence != admission.sequence {
                ahead.encodeTokens += other.remaining.encodeTokens
                ahead.scans += other.remaining.scans
                if sequence < admission.sequence { ahead.rerankTokens += other.remaining.rerankTokens }
            }
            return (state.cost.seconds(of: ahead), state.cost.rerankSecondsPerToken)
        }
    }

    /// Tokens a rerank pair is expected to have before its passage is known (a search's price).
    public var expectedTokensPerPair: Double { core.state.withLock { $0.cost.tokensPerPair } }

    /// Seconds per token of the cross-encoder, by the cost model.
    public var rerankSecondsPerToken: Double { core.state.withLock { $0.cost.rerankSecondsPerToken } }

    static func ms(_ seconds: Double) -> String { "\(Int((seconds * 1000).rounded())) ms" }
    static func ratio(_ value: Double) -> String { String(format: "%.1f", value) }

    // MARK: Work

    /// Encodes one query and scans the store for its best `k` (with other callers' queries).
    public func encodeQuery(
        _ encoding: Encoding, k: Int, options: SearchOptions = SearchOptions(), for admission: Admission
    ) async throws -> QueryOutcome {
        // The store rescores max(k, rescoreK ?? 4k) candidates of a coded store: pinned here, so
        // that a scan at the batch's largest k rescores what this query would alone.
        var options = options
        options.rescoreK = store.codes == .fp32 ? nil : max(k, options.rescoreK ?? 4 * k)
        let output = try await submit(
            Job(work: .query, admission: admission, encodings: [encoding], positions: [0], k: k, options: options))
        return QueryOutcome(
            vector: output.vectors[0], hits: output.hits, started: output.started, encode: output.encode,
            retrieve: output.retrieve)
    }

    /// Cross-encoder logits of tokenized pairs, in input order (batched with other requests' pairs).
    /// `ofSearch`: pairs of retrieved passages, whose lengths price later searches' reranks.
    public func score(_ pairs: [Encoding], ofSearch: Bool, for admission: Admission) async throws -> ScoredPairs {
        guard !pairs.isEmpty else { return ScoredPairs(scores: [], batches: []) }
        let order = lengthOrder(pairs)
        let tokens = pairs.reduce(0) { $0 + $1.count }
        core.state.withLock { state in
            // The price at admission was a guess made before the passages were known.
            state.reprice(admission, rerankTokens: tokens)
            if ofSearch { state.cost.observeSearchPairs(pairs.map(\.count)) }
        }
        let output = try await submit(
            Job(work: .rerank, admission: admission, encodings: order.map { pairs[$0] }, positions: order, k: 0))
        return ScoredPairs(scores: output.scores, batches: output.batches)
    }

    /// Bi-encoder embeddings of tokenized texts, in input order (Embed, Upsert).
    public func embed(_ texts: [Encoding], for admission: Admission) async throws -> EmbeddedTexts {
        guard !texts.isEmpty else { return EmbeddedTexts(vectors: [], started: nil) }
        let order = lengthOrder(texts)
        let output = try await submit(
            Job(work: .bulk, admission: admission, encodings: order.map { texts[$0] }, positions: order, k: 0))
        return EmbeddedTexts(vectors: output.vectors, started: output.started)
    }

    private func submit(_ job: Job) async throws -> JobOutput {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<JobOutput, any Error>) in
                let refusal: (any Error)? = core.state.withLock { state in
                    if job.cancelled { return CancellationError() }
                    if state.stopped { return CascadeError.shutDown }
                    job.continuation = continuation
                    state.enqueue(job)
                    return nil
                }
                if let refusal { continuation.resume(throwing: refusal) } else { core.wakeUp.signal() }
            }
        } onCancel: {
            let continuation = core.state.withLock { state in
                job.cancelled = true
                // A job in the running batch is answered when the batch ends.
                guard !job.running else { return CheckedContinuation<JobOutput, any Error>?.none }
                state.remove(job)
                return job.takeContinuation()
            }
            continuation?.resume(throwing: CancellationError())
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// A query's encode and scan, and when its batch started.
public struct QueryOutcome: Sendable {
    public var vector: [Float]
    public var hits: [Hit]
    public var started: ContinuousClock.Instant
    /// The batch's forward pass and scan (shared with the other queries in it).
    public var encode: Duration
    public var retrieve: Duration
}

public struct ScoredPairs: Sendable {
    public var scores: [Float]
    /// The batches that held these pairs, in the order they ran.
    public var batches: [StageSpan]
    /// When the first batch holding one of these pairs started; nil when there were none.
    public var started: ContinuousClock.Instant? { batches.first?.start }
}

public struct EmbeddedTexts: Sendable {
    public var vectors: [[Float]]
    public var started: ContinuousClock.Instant?
}

/// One admitted request: its place in line and the work it has not done yet.
public final class Admission: @unchecked Sendable {
    let sequence: UInt64
    public let deadline: ContinuousClock.Instant?
    public let admitted: ContinuousClock.Instant
    /// Seconds to completion that admission estimated.
    let estimate: Double
    /// Guarded by the scheduler's lock, as is everything mutable here.
    var remaining: WorkCost

    init(
        sequence: UInt64, deadline: ContinuousClock.Instant?, admitted: ContinuousClock.Instant, cost: WorkCost,
        estimate: Double
    ) {
        self.sequence = sequence
        self.deadline = deadline
        self.admitted = admitted
        self.remaining = cost
        self.estimate = estimate
    }
}

/// Receives what the scheduler and the pipeline do, for metrics.
public protocol SchedulerObserver: Sendable {
    /// One forward pass (with its scan, for queries): how many requests and rows shared it, and its padded tokens.
    func batchRan(_ work: WorkClass, requests: Int, rows: Int, tokens: Int, duration: Duration)
    /// A job's wait from being handed to the scheduler to its first batch.
    func waited(_ work: WorkClass, _ duration: Duration)
    func refused(_ reason: Refusal.Reason)
    /// A job dropped unrun because its deadline passed while it waited.
    func expired(_ work: WorkClass)
    func rerankCache(hits: Int, misses: Int)
    /// A budgeted search reranked fewer candidates than its rerank_k.
    func rerankBudgetCut(requested: Int, reranked: Int)
}

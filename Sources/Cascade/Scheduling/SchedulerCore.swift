import Foundation
import Synchronization
import Tokenization
import Transformer
import VectorStore

/// One request's work of one class: its tokenized inputs in the order batches take them
/// (shortest first, so a batch pads little), and what has been computed so far. Everything
/// mutable is guarded by the scheduler's lock.
final class Job: @unchecked Sendable {
    let work: WorkClass
    let admission: Admission
    let encodings: [Encoding]
    /// `encodings[i]` answers the caller's input `positions[i]`.
    let positions: [Int]
    /// Query jobs: hits wanted, and how the store scans (queries share a scan only when these
    /// are equal, so each gets what it would alone).
    let k: Int
    let options: SearchOptions
    let submitted = ContinuousClock.now
    /// Since when the job has waited without service: what aging counts.
    var readySince = ContinuousClock.now
    var next = 0
    var running = false
    var cancelled = false
    var continuation: CheckedContinuation<JobOutput, any Error>?
    var output: JobOutput

    init(
        work: WorkClass, admission: Admission, encodings: [Encoding], positions: [Int], k: Int,
        options: SearchOptions = SearchOptions()
    ) {
        self.work = work
        self.admission = admission
        self.encodings = encodings
        self.positions = positions
        self.k = k
        self.options = options
        output = JobOutput(
            scores: work == .rerank ? [Float](repeating: 0, count: encodings.count) : [],
            vectors: work == .rerank ? [] : [[Float]](repeating: [], count: encodings.count))
    }

    func takeContinuation() -> CheckedContinuation<JobOutput, any Error>? {
        defer { continuation = nil }
        return continuation
    }

    /// The work `range` of this job stands for in its admission's price.
    func cost(of range: Range<Int>) -> WorkCost {
        let tokens = encodings[range].reduce(0) { $0 + $1.count }
        switch work {
        case .query: return WorkCost(encodeTokens: tokens, scans: range.count)
        case .rerank: return WorkCost(rerankTokens: tokens)
        case .bulk: return WorkCost(bulkTokens: tokens)
        }
    }
}

struct JobOutput: Sendable {
    var scores: [Float]
    var vectors: [[Float]]
    var hits: [Hit] = []
    var started = ContinuousClock.now
    var startedOnce = false
    var encode: Duration = .zero
    var retrieve: Duration = .zero
    /// Each rerank batch that ran some of the job's rows: its time, the job's rows in it, and the
    /// batch's rows and requests (what a trace shows of the sharing). Query and bulk jobs keep
    /// none: nothing reads them, and query batches are the hot path.
    var batches: [StageSpan] = []
}

/// Rows `range` of `job` in a batch.
struct BatchPart {
    let job: Job
    let range: Range<Int>
}

struct Batch {
    let work: WorkClass
    let parts: [BatchPart]
    let started: ContinuousClock.Instant
    let encodings: [Encoding]

    init(work: WorkClass, parts: [BatchPart], started: ContinuousClock.Instant) {
        self.work = work
        self.parts = parts
        self.started = started
        encodings = parts.flatMap { part in part.job.encodings[part.range] }
    }

    var rows: Int { encodings.count }
    /// What the forward pass computes: every row padded to the longest.
    var paddedTokens: Int { rows * (encodings.map(\.count).max() ?? 0) }
}

/// Runs batches: the models and the store, nothing of the scheduler's state.
struct Runner: Sendable {
    let retriever: Retriever
    let reranker: Reranker?
    let store: VectorStore
    let settings: SchedulerSettings

    struct Result {
        var scores: [Float] = []
        var vectors: [[Float]] = []
        var hits: [[Hit]] = []
        var encode: Duration = .zero
        var retrieve: Duration = .zero
    }

    /// One forward pass of each model and one scan on a short text, timed: what prices work
    /// before the first real batch, and again when the models have been idle while refusals
    /// said they were slow. `warm`: run each once untimed first (it faults the weights in).
    func measure(warm: Bool) throws -> CostModel {
        func timed(_ body: () throws -> Void) throws -> Double {
            if warm { try body() }
            let start = ContinuousClock.now
            try body()
            return ModelScheduler.seconds(start.duration(to: .now))
        }
        let text = "how the scheduler prices model work before the first batch runs"
        let query = retriever.encode([text])
        var vectors: [[Float]] = []
        let encode = try timed { vectors = try retriever.encoder.embed(retriever.tokenizer.batch(query)) }
        let scan = try timed { _ = try store.search(vectors, k: 10) }
        var rerank = encode / Double(query[0].count)
        var pairTokens = 128.0
        if let reranker {
            let pair = reranker.encode(query: text, passages: [String(repeating: text + " ", count: 8)])
            rerank =
                try timed { _ = try reranker.encoder.score(reranker.tokenizer.batch(pair)) } / Double(pair[0].count)
            pairTokens = Double(min(reranker.maxLength, 160))
        }
        return CostModel(
            encodeSecondsPerToken: encode / Double(query[0].count), rerankSecondsPerToken: rerank,
            scanSecondsPerQuery: scan, tokensPerPair: pairTokens)
    }

    /// `betweenLayers` runs between two layers of a rerank or bulk pass (query passes are short
    /// and never pause).
    func run(_ batch: Batch, betweenLayers: () -> Void) throws -> Result {
        var result = Result()
        let encodings = batch.encodings
        switch batch.work {
        case .query:
            var clock = ContinuousClock.now
            result.vectors = try retriever.encoder.embed(retriever.tokenizer.batch(encodings))
            result.encode = clock.duration(to: .now)
            clock = .now
            // One scan at the largest k serves every query: ties break by id, so a shorter
            // list is a prefix of a longer one.
            let k = batch.parts.map(\.job.k).max() ?? 1
            let hits = try store.search(result.vectors, k: k, options: batch.parts[0].job.options)
            result.hits = zip(hits, batch.parts).map { Array($0.prefix($1.job.k)) }
            result.retrieve = clock.duration(to: .now)
        case .rerank:
            guard let reranker else { throw CascadeError.failedPrecondition("this server has no reranker") }
            result.scores = try reranker.encoder.score(
                reranker.tokenizer.batch(encodings), betweenLayers: betweenLayers)
            result.encode = batch.started.duration(to: .now)
        case .bulk:
            result.vectors = try retriever.encoder.embed(
                retriever.tokenizer.batch(encodings), betweenLayers: betweenLayers)
            result.encode = batch.started.duration(to: .now)
        }
        return result
    }
}

extension ModelScheduler {
    final class Core: Sendable {
        let state: Mutex<State>
        let wakeUp = DispatchSemaphore(value: 0)
        let observer = Mutex<(any SchedulerObserver)?>(nil)

        init(cost: CostModel, longPassLayers: Int) {
            state = Mutex(State(cost: cost, longPassLayers: longPassLayers))
        }

        private func observe(_ body: (any SchedulerObserver) -> Void) {
            if let observer = observer.withLock({ $0 }) { body(observer) }
        }

        func work(_ runner: Runner) {
            while true {
                wakeUp.wait()
                while true {
                    let (batch, expired, stop, remeasure) = state.withLock { state in
                        let expired = state.dropExpired(now: .now)
                        if state.stopped { return (Batch?.none, expired, true, false) }
                        let batch = state.nextBatch(settings: runner.settings, now: .now)
                        let remeasure = batch == nil && state.remeasure
                        state.remeasure = false
                        return (batch, expired, false, remeasure)
                    }
                    answer(expired: expired)
                    if stop { return }
                    if remeasure { self.remeasure(runner) }
                    guard let batch else { break }
                    run(batch, runner)
                }
            }
        }

        /// Measures the idle models and prices work by what it finds. Asked for by a refusal on an
        /// idle server: the cost model learns only from admitted work, so figures learnt while the
        /// machine was slower (another process, a burst) would refuse callers whose deadlines fit
        /// the machine as it is now, and nothing would correct them. Rerank batches are a row or
        /// two (`rerank_batch_tokens`), like the measured pass, so its figure is taken whole.
        private func remeasure(_ runner: Runner) {
            guard let measured = try? runner.measure(warm: false) else { return }
            state.withLock { state in
                state.cost.adopt(measured: measured)
                state.lastMeasured = .now
            }
        }

        /// Runs `batch` and answers the callers it finishes. Between two layers of a long (rerank
        /// or bulk) pass, the query encodes waiting by then run, batch after batch while more
        /// arrive, for up to `agingMs` per pause: a retrieval-only search waits for one layer of a
        /// long pass, not all of it, and a stream of queries cannot stall the pass for longer.
        private func run(_ batch: Batch, _ runner: Runner) {
            for part in batch.parts where part.range.lowerBound == 0 {
                let waited = part.job.submitted.duration(to: batch.started)
                observe { $0.waited(batch.work, waited) }
            }
            var interleaved = Duration.zero
            let outcome = Swift.Result {
                try runner.run(batch) {
                    let paused = ContinuousClock.now
                    let limit = Duration.milliseconds(runner.settings.agingMs)
                    while paused.duration(to: .now) < limit {
                        let (queries, expired) = state.withLock { state in
                            let expired = state.dropExpired(now: .now)
                            return (state.batch(of: .query, settings: runner.settings, now: .now), expired)
                        }
                        answer(expired: expired)
                        guard let queries else { break }
                        run(queries, runner)
                    }
                    interleaved += paused.duration(to: .now)
                }
            }
            // The pass's own time, without the query batches run inside it.
            let duration = batch.started.duration(to: .now) - interleaved
            let finished = state.withLock { $0.deliver(batch, outcome, duration: duration) }
            observe {
                $0.batchRan(
                    batch.work, requests: Set(batch.parts.map(\.job.admission.sequence)).count,
                    rows: batch.rows, tokens: batch.paddedTokens, duration: duration)
            }
            for (continuation, result) in finished { continuation.resume(with: result) }
        }

        private func answer(expired: [(WorkClass, CheckedContinuation<JobOutput, any Error>)]) {
            for (work, continuation) in expired {
                observe { $0.expired(work) }
                continuation.resume(
                    throwing: CascadeError.deadlineExceeded(
                        "the deadline passed while the request waited for the model; its work was dropped"))
            }
        }
    }

    struct State: ~Copyable {
        var cost: CostModel
        var jobs: [WorkClass: [Job]] = [:]
        var live: [UInt64: Admission] = [:]
        /// The work admitted requests have not done yet, by the prices they were admitted at.
        var backlog = WorkCost()
        var sequence: UInt64 = 0
        var stopped = false
        var overruns = Overruns()
        var pacing = RetryPacing()
        /// When each class last got a batch: what aging counts from.
        var lastServed: [WorkClass: ContinuousClock.Instant] = [:]
        /// When the cost model last learnt from a batch or a measurement, and whether a refusal
        /// asked the worker to measure the idle models (see `Core.remeasure`).
        var lastMeasured = ContinuousClock.now
        var remeasure = false
        /// The fewest layers of a rerank or bulk pass: queries wait at most one of them.
        let longPassLayers: Int

        init(cost: CostModel, longPassLayers: Int) {
            self.cost = cost
            self.longPassLayers = max(1, longPassLayers)
        }

        /// The admitted work that will run before all of a new request's: every query encode
        /// (they go first); the rerank work admitted before it if it reranks, else at most one
        /// layer of the long pass that may be running; and for bulk work, everything.
        func secondsAhead(of cost: WorkCost, bulk: Bool, settings: SchedulerSettings) -> Double {
            if bulk { return self.cost.seconds(of: backlog) }
            var ahead = self.cost.seconds(of: WorkCost(encodeTokens: backlog.encodeTokens, scans: backlog.scans))
            let longBacklog = WorkCost(rerankTokens: backlog.rerankTokens, bulkTokens: backlog.bulkTokens)
            if cost.rerankTokens > 0 {
                ahead += self.cost.seconds(of: WorkCost(rerankTokens: backlog.rerankTokens))
            } else if longBacklog.rerankTokens + longBacklog.bulkTokens > 0 {
                let batch = WorkCost(
                    rerankTokens: min(longBacklog.rerankTokens, settings.rerankBatchTokens),
                    bulkTokens: longBacklog.rerankTokens > 0
                        ? 0 : min(longBacklog.bulkTokens, settings.rerankBatchTokens))
                ahead += self.cost.seconds(of: batch) / Double(longPassLayers)
            }
            return ahead
        }

        /// Keeps each class in admission order.
        mutating func enqueue(_ job: Job) {
            var list = jobs[job.work] ?? []
            let index = list.lastIndex { $0.admission.sequence <= job.admission.sequence }.map { $0 + 1 } ?? 0
            list.insert(job, at: index)
            jobs[job.work] = list
        }

        mutating func remove(_ job: Job) {
            jobs[job.work]?.removeAll { $0 === job }
        }

        mutating func reprice(_ admission: Admission, rerankTokens: Int) {
            guard live[admission.sequence] != nil else { return }
            backlog.rerankTokens += rerankTokens - admission.remaining.rerankTokens
            admission.remaining.rerankTokens = rerankTokens
        }

        /// Takes out the jobs whose deadline has passed; their callers are told by the worker.
        mutating func dropExpired(
            now: ContinuousClock.Instant
        ) -> [(WorkClass, CheckedContinuation<JobOutput, any Error>)] {
            var expired: [(WorkClass, CheckedContinuation<JobOutput, any Error>)] = []
            for work in WorkClass.allCases {
                guard let list = jobs[work] else { continue }
                let (keep, drop) = list.reduce(into: ([Job](), [Job]())) { split, job in
                    // A job in the running pass (queries run between its layers) is answered when it ends.
                    if !job.running, let deadline = job.admission.deadline, deadline <= now {
                        split.1.append(job)
                    } else {
                        split.0.append(job)
                    }
                }
                jobs[work] = keep
                expired += drop.compactMap { job in job.takeContinuation().map { (work, $0) } }
            }
            return expired
        }

        /// The class that ranks highest once aged, and as much of its work as fits the class's
        /// token budget, oldest admission first. A class ages while it has work and gets no batch:
        /// the time its own jobs wait behind each other does not count, or a long queue of rerank
        /// work would outrank every fresh query encode.
        mutating func nextBatch(settings: SchedulerSettings, now: ContinuousClock.Instant) -> Batch? {
            let aging = Double(settings.agingMs) / 1000
            var best: (work: WorkClass, priority: Double)?
            for work in WorkClass.allCases {
                guard let list = jobs[work], var since = list.map(\.readySince).min() else { continue }
                if let served = lastServed[work], served > since { since = served }
                let priority = work.basePriority + ModelScheduler.seconds(since.duration(to: now)) / aging
                if best == nil || priority > best!.priority { best = (work, priority) }
            }
            guard let work = best?.work else { return nil }
            return batch(of: work, settings: settings, now: now)
        }

        /// As much of `work`'s waiting jobs as fits its token budget, oldest admission first; nil
        /// when none waits (or all that wait are in the pass running now).
        mutating func batch(of work: WorkClass, settings: SchedulerSettings, now: ContinuousClock.Instant) -> Batch? {
            guard let list = jobs[work]?.filter({ !$0.running }), !list.isEmpty else { return nil }
            lastServed[work] = now
            // Rerank and bulk batches are kept short: a query that arrives waits for one of them.
            let budget = work == .query ? settings.maxBatchTokens : settings.rerankBatchTokens
            var parts: [BatchPart] = []
            var rows = 0
            var longest = 0
            fill: for job in list {
                if work == .query && job.options != list[0].options { continue }
                var end = job.next
                var full = false
                while end < job.encodings.count {
                    let length = max(longest, job.encodings[end].count)
                    if rows > 0 && (rows + 1) * length > budget {
                        full = true
                        break
                    }
                    rows += 1
                    longest = length
                    end += 1
                }
                if end > job.next {
                    parts.append(BatchPart(job: job, range: job.next..<end))
                    job.running = true
                }
                if full { break fill }
            }
            return parts.isEmpty ? nil : Batch(work: work, parts: parts, started: now)
        }

        /// Hands a batch's results to its jobs; returns the callers to answer (outside the lock).
        mutating func deliver(
            _ batch: Batch, _ outcome: Swift.Result<Runner.Result, any Error>, duration: Duration
        ) -> [(CheckedContinuation<JobOutput, any Error>, Swift.Result<JobOutput, any Error>)] {
            var answers: [(CheckedContinuation<JobOutput, any Error>, Swift.Result<JobOutput, any Error>)] = []
            var row = 0
            if case .success(let result) = outcome {
                lastMeasured = .now
                if batch.work == .query {
                    cost.observe(.query, tokens: batch.paddedTokens, seconds: ModelScheduler.seconds(result.encode))
                    cost.observeScan(queries: batch.rows, seconds: ModelScheduler.seconds(result.retrieve))
                } else {
                    cost.observe(batch.work, tokens: batch.paddedTokens, seconds: ModelScheduler.seconds(duration))
                }
            }
            let now = ContinuousClock.now
            for (partIndex, part) in batch.parts.enumerated() {
                let job = part.job
                job.running = false
                let done = part.range.cost(in: job)
                let charged = job.admission.remaining.clamped(subtracting: done)
                if live[job.admission.sequence] != nil { backlog -= charged }
                job.admission.remaining -= charged
                defer { row += part.range.count }
                if !job.output.startedOnce {
                    job.output.started = batch.started
                    job.output.startedOnce = true
                }
                if job.work == .rerank {
                    job.output.batches.append(
                        StageSpan(
                            stage: .rerank, start: batch.started, end: now,
                            attributes: [
                                "rows": part.range.count, "batch_rows": batch.rows,
                                "batch_requests": batch.parts.count, "batch_tokens": batch.paddedTokens,
                            ]))
                }
                switch outcome {
                case .failure(let error):
                    remove(job)
                    if let continuation = job.takeContinuation() { answers.append((continuation, .failure(error))) }
                    continue
                case .success(let result):
                    if job.cancelled {
                        remove(job)
                        if let continuation = job.takeContinuation() {
                            answers.append((continuation, .failure(CancellationError())))
                        }
                        continue
                    }
                    for (offset, index) in part.range.enumerated() {
                        let position = job.positions[index]
                        switch job.work {
                        case .rerank: job.output.scores[position] = result.scores[row + offset]
                        case .query, .bulk: job.output.vectors[position] = result.vectors[row + offset]
                        }
                    }
                    if job.work == .query {
                        job.output.hits = result.hits[partIndex]
                        job.output.retrieve = result.retrieve
                    }
                    job.output.encode += result.encode
                }
                job.next = part.range.upperBound
                job.readySince = now
                if job.next == job.encodings.count {
                    remove(job)
                    if let continuation = job.takeContinuation() {
                        answers.append((continuation, .success(job.output)))
                    }
                }
            }
            return answers
        }
    }
}

extension Range<Int> {
    fileprivate func cost(in job: Job) -> WorkCost { job.cost(of: self) }
}

extension WorkCost {
    /// `other`, but never more of a kind than this holds (an estimate can be below the truth).
    fileprivate func clamped(subtracting other: WorkCost) -> WorkCost {
        WorkCost(
            encodeTokens: Swift.min(encodeTokens, other.encodeTokens), scans: Swift.min(scans, other.scans),
            rerankTokens: Swift.min(rerankTokens, other.rerankTokens),
            bulkTokens: Swift.min(bulkTokens, other.bulkTokens))
    }
}

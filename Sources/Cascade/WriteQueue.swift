import Compute
import Foundation
import Synchronization

/// Runs store writes one at a time on a dedicated thread, behind a bounded FIFO queue: LMDB has
/// one writer, and an fsync must not block a thread of Swift's cooperative pool. Callers suspend
/// on a continuation while they wait, so waiting costs no thread.
///
/// Overload is refused, not absorbed: when `capacity` writes are already waiting, `run` throws
/// `CascadeError.overloaded`. A caller whose task is cancelled while its job waits gets
/// `CancellationError` at once and the job never runs; a job already running finishes (a BLAS
/// call can't be interrupted) and its result is returned to the cancelled caller.
public final class WriteQueue: Sendable {
    /// The outcome of one job: its value and where its time went.
    public struct Completed<Value: Sendable>: Sendable {
        public var value: Value
        /// From `run` being called to the job starting.
        public var waited: Duration
        /// The job itself.
        public var ran: Duration
    }

    public let capacity: Int
    public let name: String
    private let core = Core()

    /// Starts the worker thread. `capacity` is the number of jobs allowed to wait (at least 1).
    public init(capacity: Int, name: String = "cascade-writes") {
        precondition(capacity >= 1, "WriteQueue capacity must be at least 1")
        self.capacity = capacity
        self.name = name
        // The thread holds the core, not the queue, so dropping the last reference to the queue
        // still runs `deinit`, which stops the thread.
        let thread = Thread { [core] in
            nameCurrentThread(name)
            core.work()
        }
        // Model code keeps its big buffers on the heap, but BLAS and deep call chains want more than
        // the 512 KiB Foundation gives secondary threads by default.
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Jobs waiting to run (not counting the one running).
    public var waiting: Int { core.state.withLock { $0.pending.count } }

    /// Queues `work` and suspends until it ran. Throws `CascadeError.overloaded` when the queue is
    /// full, `CascadeError.shutDown` after `shutdown()`, `CancellationError` when the caller's task
    /// is cancelled before the job started, or whatever `work` throws.
    public func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> Completed<T> {
        let ticket = Ticket()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Completed<T>, any Error>) in
                let enqueued = ContinuousClock.now
                let job = Job(
                    ticket: ticket,
                    execute: {
                        let started = ContinuousClock.now
                        let result = Result { try work() }
                        let ran = started.duration(to: .now)
                        continuation.resume(
                            with: result.map { Completed(value: $0, waited: enqueued.duration(to: started), ran: ran) })
                    },
                    abandon: { continuation.resume(throwing: $0) }
                )
                let refusal: (any Error)? = core.state.withLock { state in
                    if ticket.phase == .cancelled { return CancellationError() }
                    if state.stopped { return CascadeError.shutDown }
                    if state.pending.count >= capacity {
                        return CascadeError.overloaded(
                            Refusal(
                                reason: .queueFull,
                                message: "server overloaded: \(capacity) writes are already waiting "
                                    + "(queue_capacity); retry later",
                                retryAfter: .milliseconds(100)))
                    }
                    ticket.phase = .queued
                    state.pending.append(job)
                    return nil
                }
                if let refusal {
                    continuation.resume(throwing: refusal)
                } else {
                    core.wakeUp.signal()
                }
            }
        } onCancel: {
            let dropped: Job? = core.state.withLock { state in
                switch ticket.phase {
                case .new:
                    ticket.phase = .cancelled
                    return nil
                case .queued:
                    ticket.phase = .cancelled
                    guard let index = state.pending.firstIndex(where: { $0.ticket === ticket }) else { return nil }
                    return state.pending.remove(at: index)
                case .cancelled, .started:
                    return nil
                }
            }
            dropped?.abandon(CancellationError())
        }
    }

    deinit { shutdown() }

    /// Refuses new work, fails every waiting job with `CascadeError.shutDown` and lets the worker
    /// thread end after the job it is running. Idempotent.
    public func shutdown() {
        let dropped: [Job] = core.state.withLock { state in
            state.stopped = true
            defer { state.pending.removeAll() }
            for job in state.pending { job.ticket.phase = .cancelled }
            return state.pending
        }
        for job in dropped { job.abandon(CascadeError.shutDown) }
        core.wakeUp.signal()
    }
}

extension WriteQueue {
    private final class Core: Sendable {
        let state = Mutex(State())
        let wakeUp = DispatchSemaphore(value: 0)

        func work() {
            while true {
                wakeUp.wait()
                let next: Job?? = state.withLock { state in
                    if state.pending.isEmpty { return state.stopped ? .none : .some(nil) }
                    let job = state.pending.removeFirst()
                    job.ticket.phase = .started
                    return .some(job)
                }
                switch next {
                case .none: return
                // One signal per queued job: a job dropped by cancellation leaves a spare one, so
                // the loop may wake to an empty queue.
                case .some(.none): continue
                case .some(.some(let job)): job.execute()
                }
            }
        }
    }

    private struct State: ~Copyable {
        var pending: [Job] = []
        var stopped = false
    }

    private struct Job: Sendable {
        let ticket: Ticket
        let execute: @Sendable () -> Void
        let abandon: @Sendable (any Error) -> Void
    }

    /// One `run` call's progress. `phase` is read and written only under `state`'s lock, which
    /// is what makes this class safe to share.
    private final class Ticket: @unchecked Sendable {
        enum Phase { case new, queued, cancelled, started }
        var phase = Phase.new
    }
}

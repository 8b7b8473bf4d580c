import COpenBLAS
import Foundation
import Synchronization

/// The cores that model runs and vector scans share: a few long-lived worker threads plus the
/// calling thread, running the tasks of one parallel loop at a time.
///
/// Why our own pool and not OpenBLAS's threads: OpenBLAS threads each GEMM on its own, so every
/// layer norm, GELU, softmax and attention product between two GEMMs ran on one core while the
/// other spun in `sched_yield` (a quarter of a MiniLM batch's time, measured with `perf`). Here
/// OpenBLAS runs single-threaded inside each task and the pool splits every step of the forward
/// pass, GEMMs included, across the cores; the idle wait between steps is a spin on one atomic.
///
/// One loop runs at a time. A second caller arriving while a loop runs (or a loop started from
/// inside a task) runs its tasks on its own thread instead of waiting: correct, only not parallel.
/// Workers spin briefly after a loop ends, since the next one usually follows within microseconds,
/// then sleep until woken.
public final class ComputePool: @unchecked Sendable {
    /// The process's pool, sized to the machine's cores until `setComputeThreads` says otherwise.
    public static let shared = ComputePool(threads: ProcessInfo.processInfo.activeProcessorCount)

    /// Threads a loop may use, the caller included.
    public var threads: Int { width.load(ordering: .relaxed) }

    private let width: Atomic<Int>
    private let nice = Atomic<Int>(0)
    /// No thread runs the pool's tasks at a lower nice value than this (see `processNice`).
    private let floorNice: Int
    private let busy = Atomic<Bool>(false)
    /// The current loop's generation in the high bits and its worker count in the low byte, so a
    /// worker reads both in one load and never mistakes one loop's count for another's.
    private let ticket = Atomic<Int>(0)
    private let nextTask = Atomic<Int>(0)
    /// Workers inside the current loop's tasks. The caller waits for these only: a worker that
    /// has not joined by the time the tasks are all claimed (asleep, or without a core) is left
    /// out: waiting for it to be scheduled only to find nothing left to do was most of the 8-10% of
    /// a server's CPU that went to `sched_yield` under 16 retrieval-only callers.
    private let joined = Atomic<Int>(0)
    private let loop: UnsafeMutablePointer<Loop>
    /// Grown only by the thread holding `busy`.
    private var workers: [Worker] = []

    private struct Loop {
        var body: ((_ task: Int, _ slot: Int) -> Void)?
        var count = 0
    }

    private final class Worker: Sendable {
        let slot: Int
        let sleeping = Atomic<Bool>(false)
        let wake = DispatchSemaphore(value: 0)
        init(slot: Int) { self.slot = slot }
    }

    public init(threads: Int, floorNice: Int = processNice) {
        width = Atomic(max(1, min(threads, 255)))
        self.floorNice = floorNice
        loop = .allocate(capacity: 1)
        loop.initialize(to: Loop())
        // Parallelism comes from the pool; a threaded GEMM inside a task would oversubscribe the
        // cores, and OpenBLAS 0.3.21 serialises concurrent threaded level-3 calls on one lock.
        openblas_set_num_threads(1)
    }

    deinit {
        // Only `shared` exists in practice and lives as long as the process; workers hold `self`.
        loop.deinitialize(count: 1)
        loop.deallocate()
    }

    /// Sets how many threads (the caller included) a loop uses; at least 1.
    public func setThreads(_ count: Int) {
        width.store(max(1, min(count, 255)), ordering: .relaxed)
    }

    /// Sets the nice value of the pool's worker threads (each takes it at its next loop); the
    /// thread that calls `run` sets its own with `lowerCurrentThreadPriority`.
    public func setWorkerNice(_ value: Int) {
        nice.store(value, ordering: .relaxed)
    }

    /// Runs `body(task, slot)` for every task in `0..<count` and returns when all have run. `slot`
    /// (below `threads` and `maxSlots`) is the same for tasks run by one thread during this loop, so a
    /// task may use per-slot scratch memory that the caller owns. Tasks are claimed one at a time, so
    /// uneven tasks balance out.
    public func run(_ count: Int, maxSlots: Int = .max, _ body: (_ task: Int, _ slot: Int) -> Void) {
        // Only a niced process pays this system call: its task threads start at nice 0.
        if floorNice > 0, currentThreadNice() < floorNice { lowerCurrentThreadPriority(to: floorNice) }
        let helpers = min(threads, count, maxSlots) - 1
        guard helpers > 0, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for task in 0..<count { body(task, 0) }
            return
        }
        defer { busy.store(false, ordering: .releasing) }
        while workers.count < helpers { startWorker() }
        withoutActuallyEscaping(body) { body in
            loop.pointee = Loop(body: body, count: count)
            nextTask.store(0, ordering: .relaxed)
            let generation = (ticket.load(ordering: .relaxed) >> 8) + 1
            ticket.store(generation << 8 | helpers, ordering: .sequentiallyConsistent)
            for worker in workers.prefix(helpers)
            where worker.sleeping.exchange(false, ordering: .sequentiallyConsistent) {
                worker.wake.signal()
            }
            claimTasks(slot: 0)
            // Closed: a worker that joins from here on sees a new ticket for no slot and leaves the
            // loop alone. Both sides are sequentially consistent, so either a joining worker sees
            // the close, or the count below sees the worker.
            ticket.store((generation + 1) << 8, ordering: .sequentiallyConsistent)
            // A joined worker's last task usually ends within microseconds; past that it may have
            // lost its core (to NIO, say), and spinning would keep it from getting it back.
            var spins = 0
            while joined.load(ordering: .sequentiallyConsistent) > 0 {
                spins += 1
                if spins > 20_000 { sched_yield() }
            }
            loop.pointee.body = nil
        }
    }

    /// Runs `body` over `0..<count` cut into about `threads × 4` contiguous ranges of at least
    /// `grain` items each: for row-wise work like layer norms, where one task per row costs more
    /// in claiming than it does in work.
    public func forEachRange(_ count: Int, grain: Int = 16, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let size = max(grain, (count + threads * 4 - 1) / (threads * 4))
        let tasks = (count + size - 1) / size
        run(tasks) { task, _ in body(task * size..<min(count, (task + 1) * size)) }
    }

    private func claimTasks(slot: Int) {
        let loop = self.loop.pointee
        guard let body = loop.body else { return }
        while true {
            let task = nextTask.wrappingAdd(1, ordering: .relaxed).oldValue
            guard task < loop.count else { return }
            body(task, slot)
        }
    }

    private func startWorker() {
        let worker = Worker(slot: workers.count + 1)
        workers.append(worker)
        // The generation before the loop being started, read here: a thread that starts late
        // must still see that loop as new.
        let generation = ticket.load(ordering: .relaxed) >> 8
        let thread = Thread { [self] in
            nameCurrentThread("cascade-pool-\(worker.slot)")
            self.work(worker, after: generation)
        }
        thread.stackSize = 8 << 20  // BLAS wants more than Foundation's 512 KiB default
        thread.start()
    }

    private func work(_ worker: Worker, after generation: Int) -> Never {
        var seen = generation
        var niceness: Int?
        while true {
            let current = waitForLoop(after: seen, worker)
            let wanted = nice.load(ordering: .relaxed)
            if wanted != niceness {
                niceness = wanted
                lowerCurrentThreadPriority(to: wanted, floor: floorNice)
            }
            seen = current >> 8
            guard worker.slot <= current & 0xFF else { continue }
            joined.add(1, ordering: .sequentiallyConsistent)
            if ticket.load(ordering: .sequentiallyConsistent) == current { claimTasks(slot: worker.slot) }
            joined.subtract(1, ordering: .releasing)
        }
    }

    /// Spins about 100 µs for the next loop, then sleeps on the worker's semaphore. The sleeping
    /// flag and the ticket are both sequentially consistent, so either the worker sees the new
    /// ticket or the caller sees the flag and signals: a wake-up is never lost.
    private func waitForLoop(after generation: Int, _ worker: Worker) -> Int {
        let deadline = DispatchTime.now().uptimeNanoseconds + 100_000
        var spins = 0
        while true {
            let current = ticket.load(ordering: .acquiring)
            if current >> 8 != generation { return current }
            spins += 1
            if spins & 1023 == 0, DispatchTime.now().uptimeNanoseconds > deadline { break }
        }
        while true {
            worker.sleeping.store(true, ordering: .sequentiallyConsistent)
            let current = ticket.load(ordering: .sequentiallyConsistent)
            if current >> 8 != generation {
                // Either we take the flag back, or the caller took it and a signal is on its way.
                if !worker.sleeping.exchange(false, ordering: .sequentiallyConsistent) { worker.wake.wait() }
                return ticket.load(ordering: .acquiring)
            }
            worker.wake.wait()
            let woken = ticket.load(ordering: .acquiring)
            if woken >> 8 != generation { return woken }
        }
    }
}

/// Sets how many threads one model run or vector scan uses (default: all cores). Model work should
/// run one job at a time (as `ModelScheduler` does): a second concurrent job gets no parallelism.
public func setComputeThreads(_ count: Int) {
    ComputePool.shared.setThreads(count)
}

/// The OpenBLAS kernel family in use (e.g. "Haswell", "Zen", "SkylakeX"), for benchmark reports.
public var computeKernelName: String {
    guard let name = openblas_get_corename() else { return "unknown" }
    return String(cString: name)
}

import Foundation
import Synchronization
import Testing

@testable import Compute

/// The pool's contract: every task exactly once, slots in range, real parallelism, and no
/// deadlock or lost task when callers overlap or nest. Serialised so that each test owns its pool.
@Suite(.serialized) struct ComputePoolTests {
    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    /// Runs `count` tasks and returns how often each ran and the slot each ran on.
    func runCounting(_ pool: ComputePool, _ count: Int) -> (runs: [Int], slots: [Int]) {
        var runs = [Int](repeating: 0, count: count)
        var slots = [Int](repeating: -1, count: count)
        runs.withUnsafeMutableBufferPointer { runs in
            slots.withUnsafeMutableBufferPointer { slots in
                pool.run(count) { task, slot in
                    runs[task] += 1
                    slots[task] = slot
                }
            }
        }
        return (runs, slots)
    }

    @Test(arguments: [0, 1, 2, 3, 7, 1000])
    func everyTaskRunsExactlyOnce(count: Int) {
        let pool = ComputePool(threads: 2)
        for _ in 0..<50 {
            let (runs, slots) = runCounting(pool, count)
            #expect(runs.allSatisfy { $0 == 1 })
            #expect(slots.allSatisfy { (0..<2).contains($0) })
        }
    }

    /// Each of two tasks waits (up to 10 s) for the other to start: both see it only when they
    /// really run at the same time on two threads.
    @Test func twoTasksRunAtTheSameTime() {
        let pool = ComputePool(threads: 2)
        for _ in 0..<20 {
            let started = Counter()
            var sawOther = [false, false]
            sawOther.withUnsafeMutableBufferPointer { sawOther in
                pool.run(2) { task, _ in
                    started.value.add(1, ordering: .sequentiallyConsistent)
                    let deadline = Date().addingTimeInterval(10)
                    while started.value.load(ordering: .sequentiallyConsistent) < 2, Date() < deadline {}
                    sawOther[task] = started.value.load(ordering: .sequentiallyConsistent) == 2
                }
            }
            #expect(sawOther == [true, true])
        }
    }

    /// Workers sleep after a quiet spell; a loop after that must still wake them and finish.
    @Test func wakesSleepingWorkers() {
        let pool = ComputePool(threads: 3)
        for _ in 0..<5 {
            #expect(runCounting(pool, 64).runs.allSatisfy { $0 == 1 })
            usleep(5_000)  // well past the ~100 µs spin
        }
    }

    /// The caller leaves a loop without waiting for workers that have not joined it, so workers
    /// join late, between loops and during the close: a task a worker is in must still finish (its
    /// write be seen) before `run` returns, and a late worker must never run a task of a later loop
    /// twice or of a closed one at all.
    @Test func lateWorkersNeverLoseOrRepeatATask() {
        let pool = ComputePool(threads: 3)
        for round in 0..<4000 {
            if round % 500 == 0 { usleep(2_000) }  // let the workers fall asleep now and then
            var done = [Int](repeating: 0, count: 3)
            done.withUnsafeMutableBufferPointer { done in
                pool.run(3) { task, slot in
                    if slot != 0 { usleep(20) }  // a worker's task outlasts the caller's
                    done[task] += 1
                }
            }
            if done != [1, 1, 1] {
                Issue.record("round \(round): tasks ran \(done) times")
                return
            }
        }
    }

    @Test func overlappingCallersEachGetEveryTask() {
        let pool = ComputePool(threads: 2)
        let failures = Counter()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<50 {
                let (runs, slots) = runCounting(pool, 97)
                if !runs.allSatisfy({ $0 == 1 }) || !slots.allSatisfy({ (0..<2).contains($0) }) {
                    failures.value.add(1, ordering: .relaxed)
                }
            }
        }
        #expect(failures.value.load(ordering: .relaxed) == 0)
    }

    @Test func nestedLoopsRunInline() {
        let pool = ComputePool(threads: 2)
        let total = Counter()
        pool.run(6) { _, _ in
            pool.run(5) { _, _ in total.value.add(1, ordering: .relaxed) }
        }
        #expect(total.value.load(ordering: .relaxed) == 30)
    }

    @Test func oneThreadRunsOnTheCaller() {
        let pool = ComputePool(threads: 4)
        pool.setThreads(1)
        #expect(pool.threads == 1)
        let caller = pthread_self()
        var onCaller = true
        pool.run(10) { _, slot in onCaller = onCaller && pthread_equal(pthread_self(), caller) != 0 && slot == 0 }
        #expect(onCaller)
        pool.setThreads(0)
        #expect(pool.threads == 1, "fewer than one thread is one thread")
    }

    @Test func maxSlotsBoundsTheSlots() {
        let pool = ComputePool(threads: 3)
        var slots = [Int](repeating: -1, count: 200)
        slots.withUnsafeMutableBufferPointer { slots in
            pool.run(200, maxSlots: 2) { task, slot in slots[task] = slot }
        }
        #expect(slots.allSatisfy { (0..<2).contains($0) })
    }

    #if os(Linux)
        /// Each worker carries its slot in the name `top -H`, `perf` and debuggers show. Every task
        /// sleeps a little, the caller's too, so that both workers join some loop.
        @Test func workersAreNamedBySlot() {
            let pool = ComputePool(threads: 3)
            let names = Mutex<[Int: String]>([:])
            for _ in 0..<1000 where names.withLock({ $0.count }) < 2 {
                pool.run(16) { _, slot in
                    usleep(200)
                    guard slot > 0 else { return }
                    let name = try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)
                    names.withLock { $0[slot] = name }
                }
            }
            #expect(names.withLock { $0 } == [1: "cascade-pool-1\n", 2: "cascade-pool-2\n"])
        }

        /// A process started under `nice -n 19`: its task threads run at nice 0 all the same, so the
        /// thread calling `run` (here a fresh one at the test's nice) and the workers both take the
        /// floor before they run tasks.
        @Test func everyThreadOfALoopTakesTheFloorNice() {
            let pool = ComputePool(threads: 2, floorNice: 19)
            let seen = Mutex<[Int: Int]>([:])
            let done = DispatchSemaphore(value: 0)
            let caller = Thread {
                for _ in 0..<1000 where seen.withLock({ $0.count }) < 2 {
                    pool.run(16) { _, slot in
                        usleep(200)
                        let nice = currentThreadNice()
                        seen.withLock { $0[slot] = nice }
                    }
                }
                done.signal()
            }
            caller.start()
            done.wait()
            #expect(seen.withLock { $0 } == [0: 19, 1: 19])
        }

        @Test func aThreadIsNeverMadeMoreUrgentThanTheFloor() {
            let niceness = Mutex<[Int]>([])
            let done = DispatchSemaphore(value: 0)
            let thread = Thread {
                lowerCurrentThreadPriority(to: 12, floor: 15)
                let first = currentThreadNice()
                lowerCurrentThreadPriority(to: 18, floor: 15)
                niceness.withLock { $0 = [first, currentThreadNice()] }
                done.signal()
            }
            thread.start()
            done.wait()
            #expect(niceness.withLock { $0 } == [15, 18])
        }
    #endif

    @Test(arguments: [(0, 16), (1, 16), (15, 16), (16, 16), (17, 16), (1000, 16), (1000, 1)])
    func rangesCoverEveryItemOnce(count: Int, grain: Int) {
        let pool = ComputePool(threads: 2)
        var hits = [Int](repeating: 0, count: count)
        hits.withUnsafeMutableBufferPointer { hits in
            pool.forEachRange(count, grain: grain) { range in
                for i in range { hits[i] += 1 }
            }
        }
        #expect(hits.allSatisfy { $0 == 1 })
    }
}

import Dispatch
import Synchronization
import Testing

@testable import Cascade

/// Holds the worker thread inside a job until released, so the tests can fill the queue behind it.
private final class Gate: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let entered = Mutex(false)
    func block() {
        entered.withLock { $0 = true }
        semaphore.wait()
    }
    var isEntered: Bool { entered.withLock { $0 } }
    func open() { semaphore.signal() }
}

/// Records the order jobs ran in and how many ran at once.
private final class Recorder: Sendable {
    private let state = Mutex((order: [Int](), running: 0, mostAtOnce: 0))
    func run(_ index: Int) {
        state.withLock {
            $0.running += 1
            $0.mostAtOnce = max($0.mostAtOnce, $0.running)
            $0.order.append(index)
        }
        state.withLock { $0.running -= 1 }
    }
    var order: [Int] { state.withLock { $0.order } }
    var mostAtOnce: Int { state.withLock { $0.mostAtOnce } }
}

/// Polls until `condition` holds; fails the test after ~5 s. (Not a timing assertion: only a
/// bound on how long to wait for the other thread.)
private func eventually(_ condition: () -> Bool) async throws {
    for _ in 0..<5000 {
        if condition() { return }
        try await Task.sleep(for: .milliseconds(1))
    }
    Issue.record("condition never held")
}

@Suite struct WriteQueueTests {
    #if os(Linux)
        /// The worker thread carries the queue's name where `top -H`, `perf` and debuggers look.
        @Test func theWorkerThreadIsNamed() async throws {
            let queue = WriteQueue(capacity: 1, name: "cascade-test-wq")
            let name = try await queue.run { try String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8) }
            #expect(name.value == "cascade-test-wq\n")
        }
    #endif

    @Test func runsJobsInOrderOneAtATime() async throws {
        let queue = WriteQueue(capacity: 8)
        let recorder = Recorder()
        let gate = Gate()
        let first = Task { try await queue.run { gate.block() } }
        try await eventually { gate.isEntered }
        var tasks: [Task<Void, any Error>] = []
        for index in 0..<5 {
            tasks.append(Task { _ = try await queue.run { recorder.run(index) } })
            // Submit one at a time so the submission order is known.
            try await eventually { queue.waiting == index + 1 }
        }
        gate.open()
        _ = try await first.value
        for task in tasks { try await task.value }
        #expect(recorder.order == [0, 1, 2, 3, 4])
        #expect(recorder.mostAtOnce == 1)
    }

    @Test func returnsValuesAndRethrows() async throws {
        struct Boom: Error, Equatable {}
        let queue = WriteQueue(capacity: 1)
        #expect(try await queue.run { 41 + 1 }.value == 42)
        await #expect(throws: Boom.self) { try await queue.run { throw Boom() } }
    }

    @Test func refusesBeyondCapacity() async throws {
        let queue = WriteQueue(capacity: 2)
        let gate = Gate()
        let blocker = Task { try await queue.run { gate.block() } }
        try await eventually { gate.isEntered }
        let waiting = (0..<2).map { _ in Task { try await queue.run { 1 } } }
        try await eventually { queue.waiting == 2 }
        do {
            _ = try await queue.run { 1 }
            Issue.record("expected overload")
        } catch let error as CascadeError {
            guard case .overloaded(let refusal) = error else { throw error }
            #expect(refusal.reason == .queueFull && refusal.message.contains("2 writes"))
            #expect("\(error)".contains("retry later"))
        }
        gate.open()
        _ = try await blocker.value
        for task in waiting { #expect(try await task.value.value == 1) }
    }

    @Test func cancelledWorkIsDroppedBeforeItRuns() async throws {
        let queue = WriteQueue(capacity: 4)
        let gate = Gate()
        let ran = Mutex(false)
        let blocker = Task { try await queue.run { gate.block() } }
        try await eventually { gate.isEntered }
        let victim = Task { try await queue.run { ran.withLock { $0 = true } } }
        try await eventually { queue.waiting == 1 }
        victim.cancel()
        await #expect(throws: CancellationError.self) { try await victim.value }
        #expect(queue.waiting == 0)
        gate.open()
        _ = try await blocker.value
        // The queue still works, and the dropped job never ran.
        #expect(try await queue.run { 7 }.value == 7)
        #expect(ran.withLock { $0 } == false)
    }

    @Test func alreadyCancelledTasksDoNotQueue() async throws {
        let queue = WriteQueue(capacity: 4)
        let ran = Mutex(false)
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await queue.run { ran.withLock { $0 = true } }
        }
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(ran.withLock { $0 } == false)
    }

    @Test func shutdownFailsWaitingJobsAndRefusesNewOnes() async throws {
        let queue = WriteQueue(capacity: 4)
        let gate = Gate()
        let blocker = Task { try await queue.run { gate.block() } }
        try await eventually { gate.isEntered }
        let waiting = Task { try await queue.run { 1 } }
        try await eventually { queue.waiting == 1 }
        queue.shutdown()
        await #expect(throws: CascadeError.shutDown) { try await waiting.value }
        gate.open()
        _ = try await blocker.value  // the running job still finishes
        await #expect(throws: CascadeError.shutDown) { try await queue.run { 1 } }
    }
}

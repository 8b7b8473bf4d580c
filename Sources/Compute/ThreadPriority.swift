import Foundation

// Linux keeps a nice value per thread, and a new thread takes its creator's. Swift's task threads
// come from libdispatch, and in a process started under `nice -n 19` they ran at nice 0 (`ps -L`);
// the pool's workers started from one of them took that 0 too. So `nice -n 19 cascade index` ran
// its model work at nice 0, and a server beside it (model threads at 10) answered a reranked
// search in 2.9 s instead of 0.3 s. Every thread that runs model work now takes the process's
// nice value as its floor.

/// The nice value the process was started with (`nice -n 19 cascade ...`): its main thread's.
public let processNice: Int = {
    errno = 0
    #if os(Linux)
        let value = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(getpid()))
    #else
        let value = getpriority(PRIO_PROCESS, id_t(getpid()))
    #endif
    return errno == 0 ? Int(value) : 0
}()

/// The calling thread's nice value.
public func currentThreadNice() -> Int {
    errno = 0
    #if os(Linux)
        let value = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
    #else
        let value = getpriority(PRIO_PROCESS, 0)
    #endif
    return errno == 0 ? Int(value) : 0
}

/// Sets the calling thread's nice value to `nice`, or to `floor` (the process's) when that is
/// higher: a thread is never made more urgent than the process it belongs to. A server runs its
/// model threads a little below its network threads, so that a refusal or a short request is
/// answered while a long forward pass holds the cores.
public func lowerCurrentThreadPriority(to nice: Int, floor: Int = processNice) {
    let value = Int32(max(nice, floor))
    #if os(Linux)
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, value)
    #else
        _ = setpriority(PRIO_PROCESS, 0, value)
    #endif
}

/// Names the calling thread as `top -H`, `ps -L`, `perf` and debuggers show it (Linux keeps 15
/// bytes; longer names are cut). Foundation's `Thread.name` does not reach the kernel on Linux, so
/// a thread started from a Swift task showed under the name of the pool thread that started it.
public func nameCurrentThread(_ name: String) {
    #if os(Linux)
        let fd = open("/proc/thread-self/comm", O_WRONLY)
        guard fd >= 0 else { return }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    #else
        _ = name.withCString { pthread_setname_np($0) }
    #endif
}

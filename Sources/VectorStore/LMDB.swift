import CLMDB
import Foundation

/// A failed LMDB call: the operation that failed, LMDB's code and its own explanation.
public struct LMDBError: Error, CustomStringConvertible, Equatable {
    public var code: Int32
    public var operation: String

    public var message: String { String(cString: mdb_strerror(code)) }
    public var description: String {
        var text = "LMDB \(operation) failed: \(message) (code \(code))"
        if code == EIO || code == ENOSPC || code == EFBIG || code == EDQUOT {
            // LMDB reports a short write (full disk, file size limit) as EIO.
            text += "; the disk may be full or the file size limited. The transaction was rolled back"
        }
        return text
    }

    public var isMapFull: Bool { code == MDB_MAP_FULL }
    public var isMapResized: Bool { code == MDB_MAP_RESIZED }
}

@inline(__always)
func check(_ code: Int32, _ operation: @autoclosure () -> String) throws(LMDBError) {
    if code != MDB_SUCCESS { throw LMDBError(code: code, operation: operation()) }
}

/// One LMDB environment (a directory holding data.mdb and lock.mdb).
///
/// `@unchecked Sendable`: opened with MDB_NOTLS, so transactions are not bound to threads; the
/// only call that must not race with transactions (growing the map) is guarded by `MapLock`.
final class Environment: @unchecked Sendable {
    let handle: OpaquePointer
    let readOnly: Bool
    let path: String

    init(directory: URL, maxDatabases: UInt32, mapSize: Int, readOnly: Bool) throws(LMDBError) {
        var env: OpaquePointer?
        try check(mdb_env_create(&env), "env_create")
        guard let env else { throw LMDBError(code: EINVAL, operation: "env_create") }
        self.handle = env
        self.readOnly = readOnly
        self.path = directory.path
        // On a throw from here on, deinit closes the handle.
        try check(mdb_env_set_maxdbs(env, maxDatabases), "env_set_maxdbs")
        // Many concurrent searches each hold a reader slot for the length of a scan.
        try check(mdb_env_set_maxreaders(env, 1022), "env_set_maxreaders")
        try check(mdb_env_set_mapsize(env, mapSize), "env_set_mapsize(\(mapSize))")
        let flags = UInt32(MDB_NOTLS) | (readOnly ? UInt32(MDB_RDONLY) : 0)
        try check(mdb_env_open(env, directory.path, flags, 0o644), "env_open(\(directory.path))")
    }

    /// Guards `setMapSize` against this process's transactions on this environment.
    let mapLock = MapLock()
    /// One write transaction at a time in this process (LMDB's own lock covers other processes,
    /// but a writer waiting inside LMDB while holding `mapLock` could deadlock a resize).
    let writerLock = NSLock()

    deinit { mdb_env_close(handle) }

    struct Info {
        var mapSize: Int
        var usedBytes: Int
        var pageSize: Int
    }

    func info() -> Info {
        var envInfo = MDB_envinfo()
        var stat = MDB_stat()
        mdb_env_info(handle, &envInfo)
        mdb_env_stat(handle, &stat)
        let pageSize = Int(stat.ms_psize)
        return Info(mapSize: envInfo.me_mapsize, usedBytes: (envInfo.me_last_pgno + 1) * pageSize, pageSize: pageSize)
    }

    /// Whether this process reads the map at random (see `readAtRandom`), and whether the map now
    /// in place carries that advice (a remap, when the map grows, drops it).
    private var randomReads = false
    private var adviceCurrent = false
    private let adviceLock = NSLock()

    var readsAtRandom: Bool { adviceLock.withLock { randomReads } }

    /// Turns off the read-ahead around page faults for the whole map (`MADV_RANDOM`, what LMDB's
    /// `MDB_NORDAHEAD` does at open), for a process that searches a partitioned store: its faults
    /// land at random (B-tree leaves, passage records), and each would read the device's whole
    /// read-ahead window (8 MiB on the machine measured). What it scans it asks for itself
    /// (`prefetchMapped`). `leafValue` is any value of a read transaction that sits in a leaf page:
    /// a page's first 8 bytes are its number, which gives the map's start.
    func readAtRandom(leafValue: UnsafeRawBufferPointer) {
        adviceLock.lock()
        defer { adviceLock.unlock() }
        guard !adviceCurrent, let pointer = leafValue.baseAddress else { return }
        let info = info()
        let page = info.pageSize
        let leaf = Int(bitPattern: pointer) & ~(page - 1)
        let number = UnsafeRawPointer(bitPattern: leaf)!.load(as: UInt64.self)
        let base = leaf - Int(number) * page
        // The first page is a meta page: LMDB's magic right after the page header, or not the map.
        guard number < UInt64(info.mapSize / page),
            UnsafeRawPointer(bitPattern: base)!.load(fromByteOffset: 16, as: UInt32.self) == 0xBEEF_C0DE,
            madvise(UnsafeMutableRawPointer(bitPattern: base), info.mapSize, MADV_RANDOM) == 0
        else { return }
        randomReads = true
        adviceCurrent = true
    }

    /// Caller guarantees no transaction of this process is active (see `MapLock`).
    func setMapSize(_ size: Int) throws(LMDBError) {
        try check(mdb_env_set_mapsize(handle, size), "env_set_mapsize(\(size))")
        adviceLock.withLock { adviceCurrent = false }
    }
}

/// Starts reading the pages under `value`, a value in the map, without waiting. A page fault in
/// the map reads the device's whole read-ahead window around the page (`read_ahead_kb`: 8 MiB on
/// the machine measured) unless the page is already cached or on its way; asked for first, a
/// value read at random from a store bigger than memory (a vector a search rescores) costs its
/// own pages, and several such reads go to the device together.
func prefetchMapped(_ value: UnsafeRawBufferPointer) {
    guard let start = value.baseAddress, value.count > 0 else { return }
    let page = Int(pageSize)
    let first = Int(bitPattern: start) & ~(page - 1)
    let end = Int(bitPattern: start) + value.count
    _ = madvise(UnsafeMutableRawPointer(bitPattern: first), end - first, MADV_WILLNEED)
}

private let pageSize = sysconf(Int32(_SC_PAGESIZE))

/// LMDB forbids opening one environment twice in a process (its locks are per process), so
/// every store on the same directory shares one `Environment`.
final class EnvironmentRegistry: @unchecked Sendable {
    static let shared = EnvironmentRegistry()

    private final class Weak {
        weak var env: Environment?
        init(_ env: Environment) { self.env = env }
    }

    private let lock = NSLock()
    private var open: [String: Weak] = [:]

    /// The open environment for `directory`, or a new one made by `make`.
    func environment<E: Error>(for directory: URL, make: () throws(E) -> Environment) throws(E) -> Environment {
        let key = directory.standardizedFileURL.resolvingSymlinksInPath().path
        lock.lock()
        defer { lock.unlock() }
        if let env = open[key]?.env { return env }
        let env = try make()
        open[key] = Weak(env)
        return env
    }
}

/// A named database inside an environment.
struct Database: Sendable {
    let dbi: MDB_dbi
    let name: String
}

/// A read or write transaction. Not Sendable: used by one task from begin to end.
final class Transaction {
    private(set) var handle: OpaquePointer?
    let readOnly: Bool

    init(_ env: Environment, readOnly: Bool) throws(LMDBError) {
        var txn: OpaquePointer?
        let flags = readOnly ? UInt32(MDB_RDONLY) : 0
        try check(mdb_txn_begin(env.handle, nil, flags, &txn), readOnly ? "txn_begin(read)" : "txn_begin(write)")
        self.handle = txn
        self.readOnly = readOnly
    }

    deinit { abort() }

    func commit() throws(LMDBError) {
        guard let txn = handle else { return }
        handle = nil
        try check(mdb_txn_commit(txn), "txn_commit")
    }

    func abort() {
        guard let txn = handle else { return }
        handle = nil
        mdb_txn_abort(txn)
    }

    func openDatabase(_ name: String, flags: Int32, create: Bool) throws(LMDBError) -> Database {
        var dbi: MDB_dbi = 0
        let all = UInt32(flags) | (create ? UInt32(MDB_CREATE) : 0)
        try check(mdb_dbi_open(handle, name, all, &dbi), "dbi_open(\(name))")
        return Database(dbi: dbi, name: name)
    }

    /// The value points into the memory map; valid until this transaction ends or writes to `db`.
    func get(_ db: Database, key: UnsafeRawBufferPointer) throws(LMDBError) -> UnsafeRawBufferPointer? {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val()
        let rc = mdb_get(handle, db.dbi, &k, &v)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "get(\(db.name))")
        return UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
    }

    func put(_ db: Database, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws(LMDBError) {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        try check(mdb_put(handle, db.dbi, &k, &v, 0), "put(\(db.name))")
    }

    /// Reserves `count` bytes for the value and lets `fill` write them in place (no extra copy).
    func putReserved(
        _ db: Database, key: UnsafeRawBufferPointer, count: Int, fill: (UnsafeMutableRawBufferPointer) -> Void
    ) throws(LMDBError) {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: count, mv_data: nil)
        try check(mdb_put(handle, db.dbi, &k, &v, UInt32(MDB_RESERVE)), "put(\(db.name))")
        fill(UnsafeMutableRawBufferPointer(start: v.mv_data, count: count))
    }

    /// Returns false when the key was absent.
    @discardableResult
    func delete(_ db: Database, key: UnsafeRawBufferPointer) throws(LMDBError) -> Bool {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        let rc = mdb_del(handle, db.dbi, &k, nil)
        if rc == MDB_NOTFOUND { return false }
        try check(rc, "del(\(db.name))")
        return true
    }

    /// Deletes `db` itself, as if it had never been created (tests make format 1 stores with it).
    func dropDatabase(_ db: Database) throws(LMDBError) {
        try check(mdb_drop(handle, db.dbi, 1), "drop(\(db.name))")
    }

    /// Bytes of the pages `db` holds (branch, leaf and overflow).
    func bytes(_ db: Database) throws(LMDBError) -> Int {
        var stat = MDB_stat()
        try check(mdb_stat(handle, db.dbi, &stat), "stat(\(db.name))")
        return (stat.ms_branch_pages + stat.ms_leaf_pages + stat.ms_overflow_pages) * Int(stat.ms_psize)
    }

    /// Deletes every entry of `db` (the database itself stays).
    func empty(_ db: Database) throws(LMDBError) {
        try check(mdb_drop(handle, db.dbi, 0), "drop(\(db.name))")
    }

    func cursor(_ db: Database) throws(LMDBError) -> Cursor {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(handle, db.dbi, &cursor), "cursor_open(\(db.name))")
        return Cursor(handle: cursor!, database: db)
    }
}

/// Walks a database in key order; must not outlive its transaction.
final class Cursor {
    let handle: OpaquePointer
    let database: Database

    init(handle: OpaquePointer, database: Database) {
        self.handle = handle
        self.database = database
    }

    deinit { mdb_cursor_close(handle) }

    typealias Entry = (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)

    func first() throws(LMDBError) -> Entry? { try move(MDB_FIRST) }
    func next() throws(LMDBError) -> Entry? { try move(MDB_NEXT) }

    /// The first entry whose key is at least `key`.
    func seek(atLeast key: UnsafeRawBufferPointer) throws(LMDBError) -> Entry? {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val()
        let rc = mdb_cursor_get(handle, &k, &v, MDB_SET_RANGE)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "cursor_get(\(database.name))")
        return (
            UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size),
            UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
        )
    }

    /// Deletes the entry the cursor is on.
    func deleteCurrent() throws(LMDBError) {
        try check(mdb_cursor_del(handle, 0), "cursor_del(\(database.name))")
    }

    private func move(_ op: MDB_cursor_op) throws(LMDBError) -> Entry? {
        var k = MDB_val()
        var v = MDB_val()
        let rc = mdb_cursor_get(handle, &k, &v, op)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "cursor_get(\(database.name))")
        return (
            UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size),
            UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
        )
    }
}

/// Lets many transactions run at once but gives one caller the environment to itself, which
/// `mdb_env_set_mapsize` needs. Prefers the exclusive side so a stream of searches cannot
/// starve a writer that must grow the map.
final class MapLock: @unchecked Sendable {
    private let condition = NSCondition()
    private var active = 0
    private var exclusive = false
    private var exclusiveWaiting = 0

    func withShared<T>(_ body: () throws -> T) rethrows -> T {
        condition.lock()
        while exclusive || exclusiveWaiting > 0 { condition.wait() }
        active += 1
        condition.unlock()
        defer {
            condition.lock()
            active -= 1
            if active == 0 { condition.broadcast() }
            condition.unlock()
        }
        return try body()
    }

    func withExclusive<T>(_ body: () throws -> T) rethrows -> T {
        condition.lock()
        exclusiveWaiting += 1
        while exclusive || active > 0 { condition.wait() }
        exclusiveWaiting -= 1
        exclusive = true
        condition.unlock()
        defer {
            condition.lock()
            exclusive = false
            condition.broadcast()
            condition.unlock()
        }
        return try body()
    }
}

/// Fixed-width little helpers for keys: slots and block numbers are native UInt32 (MDB_INTEGERKEY).
@inline(__always)
func withKey<T>(_ value: UInt32, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
    var v = value
    return try withUnsafeBytes(of: &v) { try body($0) }
}

@inline(__always)
func withKey<T>(_ value: String, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
    var s = value
    return try s.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
}

extension UnsafeRawBufferPointer {
    func loadUInt32() -> UInt32 { loadUnaligned(as: UInt32.self) }
    func loadUInt64() -> UInt64 { loadUnaligned(as: UInt64.self) }
}

import CLMDB
import Foundation

/// Passages and their vectors in one LMDB environment, searched exactly over the memory map.
///
/// One writer at a time (serialised here and by LMDB across processes), any number of readers;
/// every read runs in one LMDB read transaction, so it sees the store before or after a write,
/// never in between.
public final class VectorStore: Sendable {
    public static let maxK = 1000
    public static let formatVersion = Schema.formatVersion

    public let model: StoreModel
    public let path: String
    /// Rows a block holds; a partition takes whole blocks.
    public let blockSize: Int
    /// How the scanned blocks hold vectors; fixed at creation.
    public let codes: VectorCodes
    /// Full-precision vectors per `full` value (see FullVectors); fixed at creation.
    let fullGroup: Int
    let layout: BlockLayout
    /// Opened with `open(existingAt:readOnly: true)`, or sharing a read-only environment.
    public let readOnly: Bool
    let env: Environment
    let dbs: Databases
    var mapLock: MapLock { env.mapLock }

    private init(env: Environment, dbs: Databases, header: Header, path: String, readOnly: Bool) {
        self.env = env
        self.readOnly = readOnly || env.readOnly
        self.dbs = dbs
        self.model = header.model
        self.blockSize = header.blockSize
        self.codes = header.codes
        self.fullGroup = header.fullGroup
        self.layout = BlockLayout(codes: header.codes, dimension: header.model.dimension, blockSize: header.blockSize)
        self.path = path
    }

    /// What a store fixes at creation.
    struct Header {
        var model: StoreModel
        var blockSize: Int
        var codes: VectorCodes
        var fullGroup: Int
    }

    /// The full-precision vectors kept for rescoring (stores with codes only).
    func fullVectors() throws -> FullVectors {
        FullVectors(db: try dbs.required(dbs.full, "full"), dimension: model.dimension, group: fullGroup)
    }

    /// Opens or creates; refuses (StoreError.modelMismatch) a store built with another model.
    public static func open(at directory: URL, model: StoreModel) throws -> VectorStore {
        try open(at: directory, model: model, options: StoreOptions())
    }

    public static func open(at directory: URL, model: StoreModel, options: StoreOptions) throws -> VectorStore {
        guard model.dimension > 0 else {
            throw StoreError.invalidOption("dimension must be positive, got \(model.dimension)")
        }
        guard options.blockSize > 0 && options.blockSize <= 1 << 20 else {
            throw StoreError.invalidOption("blockSize must be in 1...\(1 << 20), got \(options.blockSize)")
        }
        let path = directory.path
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw StoreError.notAStore(path: path, reason: "it is a file, not a directory")
            }
        } else {
            do {
                try fm.createDirectory(at: directory, withIntermediateDirectories: true)
            } catch {
                throw StoreError.notAStore(
                    path: path, reason: "cannot create the directory: \(error.localizedDescription)")
            }
        }
        let dataFile = directory.appendingPathComponent("data.mdb").path
        let existed = fm.fileExists(atPath: dataFile)
        if !existed {
            let others =
                (try? fm.contentsOfDirectory(atPath: path))?.filter { $0 != "lock.mdb" && !$0.hasPrefix(".") } ?? []
            guard others.isEmpty else {
                throw StoreError.notAStore(
                    path: path,
                    reason:
                        "the directory holds other files (\(others.sorted().prefix(3).joined(separator: ", "))) and no data.mdb"
                )
            }
        }
        let env = try openEnvironment(directory, mapSize: options.initialMapSize, readOnly: false)
        guard !env.readOnly else {
            throw StoreError.readOnly(operation: "open for writing (this process has it open read-only)", path: path)
        }
        let (dbs, header): (Databases, Header) = try mapCorrupt(path) {
            let txn = try Transaction(env, readOnly: false)
            defer { txn.abort() }
            let dbs = try Databases(txn, create: true)
            if try txn.metaBytes(dbs, Schema.MetaKey.format) == nil {
                guard !existed else {
                    throw StoreError.notAStore(
                        path: path, reason: "data.mdb is an LMDB file without a vector store's metadata")
                }
                let codes = options.codes ?? .fp32
                // Plain fp32 stores stay format 1, which older builds read.
                try txn.putMeta(dbs, Schema.MetaKey.format, integer: codes == .fp32 ? 1 : 4)
                if codes != .fp32 {
                    try withKey(codes.rawValue) { try txn.putMeta(dbs, Schema.MetaKey.codes, $0) }
                    let group = FullVectors.group(dimension: model.dimension)
                    try txn.putMeta(dbs, Schema.MetaKey.fullGroup, integer: UInt64(group))
                }
                let json = try JSONEncoder().encode(model)
                try json.withUnsafeBytes { try txn.putMeta(dbs, Schema.MetaKey.model, $0) }
                try txn.putMeta(dbs, Schema.MetaKey.blockSize, integer: UInt64(options.blockSize))
                try txn.putCounters(dbs, Counters(count: 0, nextSlot: 0))
            }
            let header = try readHeader(txn, dbs, path: path)
            try txn.commit()
            return (dbs, header)
        }
        guard header.model == model else {
            throw StoreError.modelMismatch(stored: header.model, requested: model, path: path)
        }
        if let requested = options.codes, requested != header.codes {
            throw StoreError.codesMismatch(stored: header.codes, requested: requested, path: path)
        }
        return VectorStore(env: env, dbs: dbs, header: header, path: path, readOnly: false)
    }

    /// Opens an existing store without knowing its model (stats, read-only tools).
    public static func open(existingAt directory: URL, readOnly: Bool = false) throws -> VectorStore {
        let path = directory.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw StoreError.notAStore(path: path, reason: "no such directory")
        }
        guard isDirectory.boolValue else {
            throw StoreError.notAStore(path: path, reason: "it is a file, not a directory")
        }
        guard FileManager.default.fileExists(atPath: directory.appendingPathComponent("data.mdb").path) else {
            throw StoreError.notAStore(path: path, reason: "no data.mdb in it")
        }
        let env = try openEnvironment(directory, mapSize: 1 << 20, readOnly: readOnly)
        let (dbs, header): (Databases, Header) = try mapCorrupt(path) {
            let txn = try Transaction(env, readOnly: true)
            defer { txn.abort() }
            let dbs: Databases
            do {
                dbs = try Databases(txn, create: false)
            } catch let error as LMDBError where error.code == MDB_NOTFOUND {
                throw StoreError.notAStore(
                    path: path, reason: "data.mdb is an LMDB file without a vector store's databases")
            }
            let header = try readHeader(txn, dbs, path: path)
            try txn.commit()  // keeps the database handles open for later transactions
            return (dbs, header)
        }
        let missing = [dbs.full, dbs.parts, dbs.owner, dbs.pfree, dbs.rows, dbs.rfree].contains { $0 == nil }
        if missing && !readOnly && !env.readOnly {
            // A writer may turn the store into a later format (repartition): it needs every
            // database, which an older store may lack.
            let all = try mapCorrupt(path) {
                let txn = try Transaction(env, readOnly: false)
                defer { txn.abort() }
                let all = try Databases(txn, create: true)
                try txn.commit()
                return all
            }
            return VectorStore(env: env, dbs: all, header: header, path: path, readOnly: false)
        }
        return VectorStore(env: env, dbs: dbs, header: header, path: path, readOnly: readOnly)
    }

    private static func openEnvironment(_ directory: URL, mapSize: Int, readOnly: Bool) throws -> Environment {
        let result = Result { () throws(LMDBError) -> Environment in
            try EnvironmentRegistry.shared.environment(for: directory) { () throws(LMDBError) -> Environment in
                try Environment(
                    directory: directory, maxDatabases: Schema.databaseCount, mapSize: max(mapSize, 1 << 20),
                    readOnly: readOnly)
            }
        }
        switch result {
        case .success(let env):
            // A data file cut short (a copy that stopped early) opens without complaint, and the
            // first read of a page past its end kills the process with SIGBUS.
            let needed = env.info().usedBytes
            let file = directory.appendingPathComponent("data.mdb").path
            if let size = (try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? Int, size < needed {
                throw StoreError.corrupt(
                    path: directory.path,
                    reason:
                        "data.mdb is \(size) bytes, shorter than the \(needed) its pages need: the file was cut short")
            }
            return env
        case .failure(let error):
            if error.code == MDB_INVALID || error.code == MDB_VERSION_MISMATCH {
                throw StoreError.notAStore(
                    path: directory.path, reason: "data.mdb is not an LMDB file (\(error.message))")
            }
            throw error
        }
    }

    private static func readHeader(_ txn: Transaction, _ dbs: Databases, path: String) throws -> Header {
        guard let format = try txn.metaBytes(dbs, Schema.MetaKey.format), format.count == 8 else {
            throw StoreError.notAStore(path: path, reason: "no format version in its metadata")
        }
        let version = Int(format.loadUInt64())
        guard version <= Schema.formatVersion else {
            throw StoreError.newerFormat(path: path, found: version, supported: Schema.formatVersion)
        }
        guard let modelBytes = try txn.metaBytes(dbs, Schema.MetaKey.model),
            let model = try? JSONDecoder().decode(StoreModel.self, from: Data(modelBytes))
        else {
            throw StoreError.corrupt(path: path, reason: "the model record in its metadata is missing or unreadable")
        }
        guard let block = try txn.metaBytes(dbs, Schema.MetaKey.blockSize), block.count == 8, block.loadUInt64() > 0
        else {
            throw StoreError.corrupt(path: path, reason: "the block size in its metadata is missing or malformed")
        }
        var codes = VectorCodes.fp32
        if let bytes = try txn.metaBytes(dbs, Schema.MetaKey.codes) {
            guard let stored = VectorCodes(rawValue: String(decoding: bytes, as: UTF8.self)) else {
                throw StoreError.corrupt(path: path, reason: "unknown vector codes in its metadata")
            }
            codes = stored
        }
        let fullGroup = try mapCorrupt(path) { try FullVectors.group(txn, dbs) }
        return Header(model: model, blockSize: Int(block.loadUInt64()), codes: codes, fullGroup: fullGroup)
    }

    /// Turns internal corruption reports into errors naming this store.
    static func mapCorrupt<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as CorruptMeta {
            throw StoreError.corrupt(path: path, reason: error.reason)
        }
    }

    // MARK: - Transactions

    /// Runs `body` in a read transaction (a consistent snapshot).
    func read<T>(_ body: (Transaction) throws -> T) throws -> T {
        while true {
            do {
                return try mapLock.withShared {
                    let txn = try Transaction(env, readOnly: true)
                    defer { txn.abort() }
                    return try VectorStore.mapCorrupt(path) { try body(txn) }
                }
            } catch let error as LMDBError where error.isMapResized {
                // Another process grew the map: adopt its size and start again.
                try mapLock.withExclusive { try env.setMapSize(0) }
            }
        }
    }

    /// Runs `body` in a write transaction and commits it; growing the map and retrying when full.
    /// `body` must be repeatable: it reads and writes only through the transaction.
    func write<T>(operation: String, estimatedBytes: Int, _ body: (Transaction) throws -> T) throws -> T {
        guard !readOnly else { throw StoreError.readOnly(operation: operation, path: path) }
        env.writerLock.lock()
        defer { env.writerLock.unlock() }
        try reserve(estimatedBytes)
        while true {
            do {
                return try mapLock.withShared {
                    let txn = try Transaction(env, readOnly: false)
                    defer { txn.abort() }
                    let result = try VectorStore.mapCorrupt(path) { try body(txn) }
                    try txn.commit()
                    return result
                }
            } catch let error as LMDBError where error.isMapFull {
                try grow(to: env.info().mapSize * 2)
            } catch let error as LMDBError where error.isMapResized {
                try mapLock.withExclusive { try env.setMapSize(0) }
            }
        }
    }

    /// Grows the map ahead of a write that will need `bytes` more (copy-on-write needs room for
    /// old and new pages), so big batches rarely run into MDB_MAP_FULL and start over.
    private func reserve(_ bytes: Int) throws {
        let info = env.info()
        let needed = info.usedBytes + 2 * bytes + (4 << 20)
        if needed > info.mapSize { try grow(to: max(needed, info.mapSize * 2)) }
    }

    private func grow(to size: Int) throws {
        let rounded = (size + (1 << 20) - 1) & ~((1 << 20) - 1)
        try mapLock.withExclusive { try env.setMapSize(rounded) }
    }

    /// Current map size in bytes (grows with the data).
    public var mapSize: Int { env.info().mapSize }
}

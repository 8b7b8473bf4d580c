import Foundation

public struct Passage: Sendable, Hashable, Codable {
    public var id: String
    public var text: String

    public init(id: String, text: String) {
        self.id = id
        self.text = text
    }
}

public struct Hit: Sendable, Equatable {
    public var id: String
    public var score: Float

    public init(id: String, score: Float) {
        self.id = id
        self.score = score
    }
}

public enum Similarity: String, Sendable, Codable {
    /// Raw inner product.
    case dot
    /// Vectors and queries are L2-normalised, so the inner product is the cosine.
    case cosine
}

/// What the stored vectors were made with; a store refuses vectors from any other model.
public struct StoreModel: Sendable, Equatable, Codable, CustomStringConvertible {
    public var fingerprint: String
    public var dimension: Int
    public var pooling: String
    public var similarity: Similarity

    public init(fingerprint: String, dimension: Int, pooling: String, similarity: Similarity) {
        self.fingerprint = fingerprint
        self.dimension = dimension
        self.pooling = pooling
        self.similarity = similarity
    }

    public var description: String {
        "fingerprint \(fingerprint), dimension \(dimension), pooling \(pooling), similarity \(similarity.rawValue)"
    }
}

public struct StoreStats: Sendable, Codable {
    public var count: Int
    public var model: StoreModel
    public var formatVersion: Int
    public var bytesOnDisk: Int
    public var path: String
    public var codes: VectorCodes
    /// What a scan reads per vector (codes and, for int8, its scale).
    public var bytesPerVector: Int
    /// Live vectors per partition (empty when the store is not partitioned).
    public var partitionSizes: [Int]
    /// Bytes of the blocks a search scans: what must stay in memory for scans to run at memory speed.
    public var scannedBytes: Int
    /// Bytes of the full-precision vectors kept for rescoring (0 for fp32 codes); read only for
    /// the candidates of each search, so they can stay on disk.
    public var rescoreBytes: Int
    /// Partitions a search probes when it names none (nil when the store is not partitioned).
    public var defaultNprobe: Int?
    /// Whether `defaultNprobe` was measured by `calibrateNprobe` (else it is the eighth rule).
    public var nprobeCalibrated: Bool
    /// The precisions of the encoders that made the stored vectors, sorted; empty when no write
    /// said (imported vectors, or written before this was kept).
    public var encoderPrecisions: [String]
}

/// How a store keeps the vectors it scans, fixed when the store is created.
public enum VectorCodes: String, Sendable, Codable, CaseIterable {
    /// 4 bytes a component, exact scores.
    case fp32
    /// IEEE half precision, 2 bytes a component; candidates are rescored from fp32.
    case fp16
    /// 1 byte a component and a float scale a vector; candidates are rescored from fp32.
    case int8

    /// Bytes a scan reads for one vector of `dimension` components.
    public func bytesPerVector(dimension: Int) -> Int {
        switch self {
        case .fp32: return 4 * dimension
        case .fp16: return 2 * dimension
        case .int8: return dimension + 4
        }
    }
}

/// Per-search choices for compact codes and partitions; nil takes the store's default.
public struct SearchOptions: Sendable, Equatable {
    /// Candidates taken from the code scan and rescored exactly from full-precision vectors
    /// (ignored for fp32 codes, whose scores are exact); default 4 x k, never below k.
    public var rescoreK: Int?
    /// Partitions probed (ignored when the store is not partitioned); default the store's (see
    /// `VectorStore.calibrateNprobe`); the partition count or more searches all of them.
    public var nprobe: Int?

    public init(rescoreK: Int? = nil, nprobe: Int? = nil) {
        self.rescoreK = rescoreK
        self.nprobe = nprobe
    }

    public static let maxRescoreK = 100_000
}

/// Choices fixed when a store is created (block size) or tuned per process (map size).
public struct StoreOptions: Sendable {
    /// Vectors per LMDB value; a search does one BLAS call per block.
    public var blockSize: Int
    /// Memory map size to start with; it doubles whenever a write needs more.
    public var initialMapSize: Int
    /// How a new store keeps its vectors (nil: fp32). An existing store keeps the codes it was
    /// created with, and refuses to open (StoreError.codesMismatch) when others are named here.
    public var codes: VectorCodes?

    public init(blockSize: Int = 1024, initialMapSize: Int = 64 << 20, codes: VectorCodes? = nil) {
        self.blockSize = blockSize
        self.initialMapSize = initialMapSize
        self.codes = codes
    }
}

extension VectorStore {
    /// The block size for stores meant to be partitioned: each partition owns whole blocks, so
    /// smaller blocks waste less of each partition's last one (a 1,024-row block holds a whole
    /// partition of a million vectors split 4,000 ways four times over).
    public static let partitionedBlockSize = 256
}

public enum StoreError: Error, CustomStringConvertible, Equatable {
    case modelMismatch(stored: StoreModel, requested: StoreModel, path: String)
    case unknownIds([String])
    case notAStore(path: String, reason: String)
    case newerFormat(path: String, found: Int, supported: Int)
    case corrupt(path: String, reason: String)
    case dimensionMismatch(id: String?, expected: Int, got: Int)
    case invalidVector(id: String?, reason: String)
    case invalidId(id: String, reason: String)
    case invalidK(Int)
    case invalidOption(String)
    case readOnly(operation: String, path: String)
    case codesMismatch(stored: VectorCodes, requested: VectorCodes, path: String)

    public var description: String {
        switch self {
        case .modelMismatch(let stored, let requested, let path):
            return "vector store \(path) was built with another model: stored (\(stored)), requested (\(requested))"
        case .unknownIds(let ids):
            let shown = ids.prefix(10).map { "\"\($0)\"" }.joined(separator: ", ")
            let more = ids.count > 10 ? " and \(ids.count - 10) more" : ""
            return "unknown ids (nothing was deleted): \(shown)\(more)"
        case .notAStore(let path, let reason):
            return "\(path) is not a vector store: \(reason)"
        case .newerFormat(let path, let found, let supported):
            return "vector store \(path) has format version \(found); this build reads up to version \(supported)"
        case .corrupt(let path, let reason):
            return "vector store \(path) is damaged: \(reason)"
        case .dimensionMismatch(let id, let expected, let got):
            let what = id.map { "vector of id \"\($0)\"" } ?? "query vector"
            return "\(what) has \(got) dimensions; the store holds \(expected)-dimensional vectors"
        case .invalidVector(let id, let reason):
            let what = id.map { "vector of id \"\($0)\"" } ?? "query vector"
            return "\(what) is invalid: \(reason)"
        case .invalidId(let id, let reason):
            return "invalid id \"\(id.prefix(64))\": \(reason)"
        case .invalidK(let k):
            return "k must be in 1...\(VectorStore.maxK), got \(k)"
        case .invalidOption(let reason):
            return "invalid store option: \(reason)"
        case .readOnly(let operation, let path):
            return "cannot \(operation): vector store \(path) was opened read-only"
        case .codesMismatch(let stored, let requested, let path):
            return
                "vector store \(path) keeps \(stored.rawValue) codes, not \(requested.rawValue); codes are fixed when a store is created"
        }
    }
}

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
}

/// Choices fixed when a store is created (block size) or tuned per process (map size).
public struct StoreOptions: Sendable {
    /// Vectors per LMDB value; a search does one BLAS call per block.
    public var blockSize: Int
    /// Memory map size to start with; it doubles whenever a write needs more.
    public var initialMapSize: Int

    public init(blockSize: Int = 1024, initialMapSize: Int = 64 << 20) {
        self.blockSize = blockSize
        self.initialMapSize = initialMapSize
    }
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
        }
    }
}

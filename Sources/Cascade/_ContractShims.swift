// THROWAWAY: stand-ins for the contract types of Tokenization, Transformer and VectorStore so this
// target compiles before those parts are merged. Delete this file once they are.
import Foundation
import Tokenization

public enum Truncation: Sendable { case longestFirst, onlySecond }
public final class BertTokenizer: Sendable {
    public init(directory: URL) throws { fatalError("shim") }
    public var maxLength: Int { 512 }
    public var padId: Int32 { 0 }
    public func tokenize(_ text: String) -> [String] { [] }
    public func encode(_ text: String, maxLength: Int? = nil) -> Encoding { Encoding(ids: [], typeIds: []) }
    public func encode(
        _ first: String, _ second: String, maxLength: Int? = nil, truncation: Truncation = .longestFirst
    ) -> Encoding { Encoding(ids: [], typeIds: []) }
    public func batch(_ encodings: [Encoding]) -> TokenBatch { TokenBatch(encodings) }
}

public enum PoolingMode: String, Sendable, Codable { case cls, mean }
public struct Pooling: Sendable, Equatable, Codable {
    public var mode: PoolingMode
    public var normalize: Bool
    public static func read(from directory: URL) throws -> Pooling? { nil }
}
public final class SentenceEncoder: Sendable {
    public init(directory: URL, pooling: Pooling? = nil) throws { fatalError("shim") }
    public var dimension: Int { 0 }
    public var pooling: Pooling { Pooling(mode: .cls, normalize: false) }
    public var architecture: String { "" }
    public var fingerprint: String { "" }
    public func embed(_ batch: TokenBatch) throws -> [[Float]] { [] }
}
public final class CrossEncoder: Sendable {
    public init(directory: URL) throws { fatalError("shim") }
    public var architecture: String { "" }
    public var fingerprint: String { "" }
    public func score(_ batch: TokenBatch) throws -> [Float] { [] }
}
public func setComputeThreads(_ count: Int) {}

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
}
public enum Similarity: String, Sendable, Codable { case dot, cosine }
public struct StoreModel: Sendable, Equatable, Codable {
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
}
public struct StoreStats: Sendable, Codable {
    public var count: Int
    public var model: StoreModel
    public var formatVersion: Int
    public var bytesOnDisk: Int
    public var path: String
}
public final class VectorStore: Sendable {
    public static func open(at directory: URL, model: StoreModel) throws -> VectorStore { fatalError("shim") }
    public static func open(existingAt directory: URL, readOnly: Bool = false) throws -> VectorStore {
        fatalError("shim")
    }
    public var model: StoreModel { fatalError("shim") }
    public var count: Int { 0 }
    public func upsert(_ items: [(passage: Passage, vector: [Float])]) throws {}
    public func delete(ids: [String]) throws {}
    public func search(_ query: [Float], k: Int) throws -> [Hit] { [] }
    public func passages(ids: [String]) throws -> [Passage?] { [] }
    public func passage(id: String) throws -> Passage? { nil }
    public func stats() throws -> StoreStats { fatalError("shim") }
}
public enum StoreError: Error { case unknownIds([String]) }

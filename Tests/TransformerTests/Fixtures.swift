import Foundation
import Tokenization

@testable import Transformer

enum Fixtures {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let directory = packageRoot.appendingPathComponent("Tests/Fixtures/Transformer")

    static func tiny(_ name: String, _ format: String = "safetensors") -> URL {
        directory.appendingPathComponent("tiny-\(name)-\(format)")
    }

    /// The real all-MiniLM-L6-v2 folder; throws a message saying how to get it when absent.
    static func miniLM() throws -> URL {
        let path =
            ProcessInfo.processInfo.environment["CASCADE_MINILM_DIR"]
            ?? packageRoot.appendingPathComponent(".cache/models/all-MiniLM-L6-v2").path
        guard FileManager.default.fileExists(atPath: path + "/model.safetensors") else {
            throw FixtureError("all-MiniLM-L6-v2 not found at \(path): run scripts/fetch-model.sh")
        }
        return URL(fileURLWithPath: path)
    }

    struct TinyModel: Decodable {
        var last_hidden_state: [[[Double]]]
        var cls: [[Double]]
        var mean: [[Double]]
        var cls_normalized: [[Double]]
        var mean_normalized: [[Double]]
        var logits: [Double]?
    }

    struct TinyReference: Decodable {
        var input_ids: [[Int32]]
        var token_type_ids: [[Int32]]
        var attention_mask: [[Int32]]
        var models: [String: TinyModel]

        /// Each row without its padding.
        var encodings: [Encoding] {
            (0..<input_ids.count).map { row in
                let n = Int(attention_mask[row].reduce(0, +))
                return Encoding(ids: Array(input_ids[row][..<n]), typeIds: Array(token_type_ids[row][..<n]))
            }
        }

        var batch: TokenBatch { TokenBatch(encodings) }
    }

    struct Sentence: Decodable {
        var text: String
        var input_ids: [Int32]
        var embedding: [Double]
    }

    struct Pair: Decodable {
        var input_ids: [Int32]
        var token_type_ids: [Int32]
        var logit: Double
    }

    struct MiniLMReference: Decodable {
        var sentences: [Sentence]
        var pairs: [Pair]
    }

    static func load<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: directory.appendingPathComponent(name)))
    }

    static let tinyReference: TinyReference = try! load("tiny-reference.json", as: TinyReference.self)
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func maxAbsDiff(_ a: [Float], _ b: [Double]) -> Double {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).map { abs(Double($0) - $1) }.max() ?? 0
}

func cosine(_ a: [Float], _ b: [Double]) -> Double {
    let dot = zip(a, b).map { Double($0) * $1 }.reduce(0, +)
    let na = a.map { Double($0) * Double($0) }.reduce(0, +).squareRoot()
    let nb = b.map { $0 * $0 }.reduce(0, +).squareRoot()
    return dot / (na * nb)
}

func encoding(_ ids: [Int32]) -> Encoding {
    Encoding(ids: ids, typeIds: [Int32](repeating: 0, count: ids.count))
}

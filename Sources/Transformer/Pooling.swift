import Foundation
import Tokenization

public enum PoolingMode: String, Sendable, Codable {
    case cls
    case mean
}

/// How token vectors become one sentence vector, as sentence-transformers' `Pooling` (+ `Normalize`).
public struct Pooling: Sendable, Equatable, Codable {
    public var mode: PoolingMode
    /// L2-normalise the pooled vector (a `Normalize` module in sentence-transformers).
    public var normalize: Bool

    public init(mode: PoolingMode, normalize: Bool) {
        self.mode = mode
        self.normalize = normalize
    }

    /// From sentence-transformers files (modules.json, 1_Pooling/config.json); nil when absent.
    public static func read(from directory: URL) throws -> Pooling? {
        let modulesURL = directory.appendingPathComponent("modules.json")
        guard let data = FileManager.default.contents(atPath: modulesURL.path) else { return nil }
        let modules: [Module]
        do {
            modules = try JSONFile.decode([Module].self, from: data)
        } catch {
            throw ModelError.badConfig(file: modulesURL.path, reason: "not a JSON list of modules (\(error))")
        }
        guard let pooling = modules.first(where: { $0.type.hasSuffix("Pooling") }) else { return nil }
        let path = pooling.path ?? "1_Pooling"
        let configURL = directory.appendingPathComponent(path).appendingPathComponent("config.json")
        guard let configData = FileManager.default.contents(atPath: configURL.path) else {
            throw ModelError.badConfig(file: modulesURL.path, reason: "pooling module's \(path)/config.json is missing")
        }
        let enabled: [String]
        do {
            enabled = try JSONFile.decode(PoolingConfig.self, from: configData).enabled
        } catch {
            throw ModelError.badConfig(
                file: configURL.path, reason: error.path.isEmpty ? "not a JSON object" : error.description)
        }
        let normalize = modules.contains { $0.type.hasSuffix("Normalize") }
        switch enabled {
        case ["pooling_mode_cls_token"]: return Pooling(mode: .cls, normalize: normalize)
        case ["pooling_mode_mean_tokens"]: return Pooling(mode: .mean, normalize: normalize)
        default:
            let modes = enabled.isEmpty ? "none" : enabled.joined(separator: ", ")
            throw ModelError.badConfig(
                file: configURL.path,
                reason: "pooling modes enabled: \(modes); supported: exactly one of pooling_mode_cls_token, "
                    + "pooling_mode_mean_tokens")
        }
    }

    /// One entry of modules.json: `{"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}`.
    private struct Module: Decodable {
        var type: String
        var path: String?

        enum CodingKeys: CodingKey { case type, path }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            type = try c.value(String.self, .type, else: "must be a string") ?? ""
            path = try c.value(String.self, .path, else: "must be a string")
        }
    }

    /// 1_Pooling/config.json: one `pooling_mode_*` flag per mode (cls_token, mean_tokens,
    /// max_tokens, ...), so the modes are whichever such keys are true.
    private struct PoolingConfig: Decodable {
        /// The enabled modes' keys, sorted.
        var enabled: [String]

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: JSONFile.AnyKey.self)
            enabled = c.allKeys.filter { key in
                // Flags only: other keys (word_embedding_dimension, include_prompt) are not modes.
                key.stringValue.hasPrefix("pooling_mode_") && (try? c.decode(Bool.self, forKey: key)) == true
            }.map(\.stringValue).sorted()
        }
    }

    /// The pooled vector of sequence `sequence` of a forward pass.
    func pool(_ s: Scratch, sequence: Int) -> [Float] {
        let width = s.width
        var out = [Float](repeating: 0, count: width)
        out.withUnsafeMutableBufferPointer { o in
            switch mode {
            case .cls:
                let row = s.row(sequence, 0)
                for j in 0..<width { o[j] = row[j] }
            case .mean:
                let n = s.tokens.lengths[sequence]
                for i in 0..<n {
                    let row = s.row(sequence, i)
                    for j in 0..<width { o[j] += row[j] }
                }
                let inverse = 1 / Float(n)
                for j in 0..<width { o[j] *= inverse }
            }
            if normalize {
                var squares: Float = 0
                for j in 0..<width { squares += o[j] * o[j] }
                let inverse = 1 / Swift.max(squares.squareRoot(), 1e-12)
                for j in 0..<width { o[j] *= inverse }
            }
        }
        return out
    }
}

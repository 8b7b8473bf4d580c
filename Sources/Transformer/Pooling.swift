import Foundation

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
        guard let modules = (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]] else {
            throw ModelError.badConfig(file: modulesURL.path, reason: "not a JSON list of modules")
        }
        let types = modules.map { $0["type"] as? String ?? "" }
        guard let index = types.firstIndex(where: { $0.hasSuffix("Pooling") }) else { return nil }
        let path = modules[index]["path"] as? String ?? "1_Pooling"
        let configURL = directory.appendingPathComponent(path).appendingPathComponent("config.json")
        guard let configData = FileManager.default.contents(atPath: configURL.path) else {
            throw ModelError.badConfig(file: modulesURL.path, reason: "pooling module's \(path)/config.json is missing")
        }
        guard let config = (try? JSONSerialization.jsonObject(with: configData)) as? [String: Any] else {
            throw ModelError.badConfig(file: configURL.path, reason: "not a JSON object")
        }
        let normalize = types.contains { $0.hasSuffix("Normalize") }
        let enabled = config.filter { $0.key.hasPrefix("pooling_mode_") && ($0.value as? Bool) == true }.map(\.key)
        switch enabled.sorted() {
        case ["pooling_mode_cls_token"]: return Pooling(mode: .cls, normalize: normalize)
        case ["pooling_mode_mean_tokens"]: return Pooling(mode: .mean, normalize: normalize)
        default:
            let modes = enabled.isEmpty ? "none" : enabled.sorted().joined(separator: ", ")
            throw ModelError.badConfig(
                file: configURL.path,
                reason: "pooling modes enabled: \(modes); supported: exactly one of pooling_mode_cls_token, "
                    + "pooling_mode_mean_tokens")
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

import Foundation
import Testing

@testable import Tokenization

enum TestSupport {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures/Tokenization")

    /// The real all-MiniLM-L6-v2 folder (env CASCADE_MINILM_DIR or .cache/models/all-MiniLM-L6-v2).
    static func modelDirectory() throws -> URL {
        let env = ProcessInfo.processInfo.environment["CASCADE_MINILM_DIR"]
        let url =
            env.map { URL(fileURLWithPath: $0) }
            ?? packageRoot.appendingPathComponent(".cache/models/all-MiniLM-L6-v2")
        guard FileManager.default.fileExists(atPath: url.appendingPathComponent("vocab.txt").path) else {
            throw ModelMissing(path: url.path)
        }
        return url
    }

    struct ModelMissing: Error, CustomStringConvertible {
        let path: String
        var description: String {
            "all-MiniLM-L6-v2 not found at \(path): run scripts/fetch-model.sh (or set CASCADE_MINILM_DIR)"
        }
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("cascade-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func writeJSON(_ object: Any, to url: URL) throws {
        try JSONSerialization.data(withJSONObject: object).write(to: url)
    }

    /// A folder holding only the model's tokenizer.json with `normalizer` replaced.
    static func tokenizerJSONFolder(normalizer: [String: Any]) throws -> URL {
        let dir = try temporaryDirectory()
        let base = try modelDirectory().appendingPathComponent("tokenizer.json")
        var root = try JSONSerialization.jsonObject(with: Data(contentsOf: base)) as! [String: Any]
        root["normalizer"] = normalizer
        try writeJSON(root, to: dir.appendingPathComponent("tokenizer.json"))
        return dir
    }

    /// A folder holding only the model's vocab.txt (or its unmodified tokenizer.json) and a
    /// tokenizer_config.json whose options match `normalizer`.
    static func configFolder(normalizer: [String: Any], file: String = "vocab.txt") throws -> URL {
        let dir = try temporaryDirectory()
        try FileManager.default.copyItem(
            at: try modelDirectory().appendingPathComponent(file), to: dir.appendingPathComponent(file))
        let config: [String: Any] = [
            "do_lower_case": normalizer["lowercase"] ?? true,
            "strip_accents": normalizer["strip_accents"] ?? NSNull(),
            "tokenize_chinese_chars": normalizer["handle_chinese_chars"] ?? true,
            "model_max_length": 512,
        ]
        try writeJSON(config, to: dir.appendingPathComponent("tokenizer_config.json"))
        return dir
    }
}

import Foundation
import Testing
import Tokenization

@testable import Transformer

/// Broken model folders and bad input give errors naming the file, field or tensor, never a crash.
@Suite struct ErrorTests {
    /// A copy of a tiny fixture folder in a fresh temporary directory.
    func copy(_ name: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cascade-model-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: Fixtures.tiny(name), to: dir)
        return dir
    }

    func edit(_ dir: URL, _ file: String, replacing old: String, with new: String) throws {
        let url = dir.appendingPathComponent(file)
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text.contains(old))
        try text.replacingOccurrences(of: old, with: new).write(to: url, atomically: true, encoding: .utf8)
    }

    func message(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test func missingConfig() throws {
        let dir = try copy("bert")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.removeItem(at: dir.appendingPathComponent("config.json"))
        let text = message { _ = try SentenceEncoder(directory: dir) }
        #expect(text.contains("no config.json") && text.contains(dir.path), "\(text)")
    }

    @Test func unknownArchitecture() throws {
        let dir = try copy("bert-cls")
        defer { try? FileManager.default.removeItem(at: dir) }
        try edit(dir, "config.json", replacing: "\"model_type\": \"bert\"", with: "\"model_type\": \"gpt2\"")
        let text = message { _ = try CrossEncoder(directory: dir) }
        #expect(text.contains("config.json") && text.contains("unsupported architecture 'gpt2'"), "\(text)")
    }

    @Test func badConfigField() throws {
        let dir = try copy("bert")
        defer { try? FileManager.default.removeItem(at: dir) }
        try edit(dir, "config.json", replacing: "\"num_attention_heads\": 4", with: "\"num_attention_heads\": 5")
        let text = message { _ = try SentenceEncoder(directory: dir) }
        #expect(text.contains("config.json") && text.contains("not a multiple of 5 heads"), "\(text)")
    }

    @Test func wrongTensorShape() throws {
        // The config promises a bigger intermediate layer than the weights have.
        let dir = try copy("bert")
        defer { try? FileManager.default.removeItem(at: dir) }
        try edit(dir, "config.json", replacing: "\"intermediate_size\": 64", with: "\"intermediate_size\": 96")
        let text = message { _ = try SentenceEncoder(directory: dir) }
        let expected =
            "model.safetensors: tensor 'encoder.layer.0.intermediate.dense.weight' has shape [64, 32], expected [96, 32]"
        #expect(text == expected, "\(text)")
    }

    @Test func missingClassifier() throws {
        let text = message { _ = try CrossEncoder(directory: Fixtures.tiny("bert")) }
        #expect(text.contains("config.json") && text.contains("no classification head"), "\(text)")
        let weights = try SafetensorsFile(path: Fixtures.tiny("bert").appendingPathComponent("model.safetensors").path)
        let missing = message { _ = try CrossEncoder(encoderDirectory: Fixtures.tiny("bert"), head: weights) }
        #expect(missing.contains("tensor 'pooler.dense.weight' is missing"), "\(missing)")
    }

    @Test func truncatedSafetensors() throws {
        let dir = try copy("bert")
        defer { try? FileManager.default.removeItem(at: dir) }
        let handle = try FileHandle(forWritingTo: dir.appendingPathComponent("model.safetensors"))
        let size = try handle.seekToEnd()
        try handle.truncate(atOffset: size / 2)
        try handle.close()
        let text = message { _ = try SentenceEncoder(directory: dir) }
        #expect(text.contains("model.safetensors") && text.contains("truncated"), "\(text)")
    }

    @Test func missingWeights() throws {
        let dir = try copy("bert")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.removeItem(at: dir.appendingPathComponent("model.safetensors"))
        let text = message { _ = try SentenceEncoder(directory: dir) }
        #expect(text.contains("no weights file") && text.contains("model.safetensors"), "\(text)")
    }

    @Test func unsupportedPooling() throws {
        let dir = try copy("bert")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(
            at: dir.appendingPathComponent("1_Pooling"), withIntermediateDirectories: true)
        let modules =
            #"[{"path": "", "type": "sentence_transformers.models.Transformer"}, "#
            + #"{"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]"#
        try modules.write(to: dir.appendingPathComponent("modules.json"), atomically: true, encoding: .utf8)
        try #"{"pooling_mode_cls_token": false, "pooling_mode_max_tokens": true}"#
            .write(to: dir.appendingPathComponent("1_Pooling/config.json"), atomically: true, encoding: .utf8)
        let text = message { _ = try SentenceEncoder(directory: dir) }
        #expect(text.contains("1_Pooling/config.json") && text.contains("pooling_mode_max_tokens"), "\(text)")
    }

    @Test func invalidInput() throws {
        let encoder = try SentenceEncoder(directory: Fixtures.tiny("bert"))
        let outside = message { _ = try encoder.embed(TokenBatch([encoding([1, 600, 2])])) }
        #expect(outside == "invalid input: row 0, token 1: id 600 is outside the vocabulary (size 500)", "\(outside)")
        let tooLong = message { _ = try encoder.embed(TokenBatch([encoding([Int32](repeating: 5, count: 65))])) }
        #expect(tooLong == "invalid input: row 0 has 65 tokens; the model takes at most 64", "\(tooLong)")
        let empty = message { _ = try encoder.embed(TokenBatch([encoding([1, 2]), encoding([])])) }
        #expect(empty == "invalid input: row 1 has no tokens", "\(empty)")
        var gap = TokenBatch([encoding([1, 2, 3])])
        gap.attentionMask[1] = 0
        let hole = message { _ = try encoder.embed(gap) }
        #expect(hole == "invalid input: row 0: attention mask has a real token after padding", "\(hole)")
        var short = TokenBatch([encoding([1, 2, 3])])
        short.inputIds.removeLast()
        let shape = message { _ = try encoder.embed(short) }
        #expect(shape == "invalid input: token batch arrays do not match its shape 1 x 3", "\(shape)")
        let type = message { _ = try encoder.embed(TokenBatch([Encoding(ids: [1, 2], typeIds: [0, 2])])) }
        #expect(type.contains("token type 2 is outside 0..<2"), "\(type)")
    }
}

import Foundation
import Testing

@testable import Transformer

/// A model folder's JSON files that are wrong say which file and which field, and how.
@Suite struct ConfigFileTests {
    static let bert = #"""
        {"model_type": "bert", "vocab_size": 500, "hidden_size": 32, "num_hidden_layers": 2,
         "num_attention_heads": 4, "intermediate_size": 64}
        """#

    func message(_ json: String) -> String {
        do {
            _ = try EncoderConfig.parse(Data(json.utf8), file: "/m/config.json")
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    func replacing(_ old: String, with new: String, in json: String = bert) -> String {
        #expect(json.contains(old))
        return json.replacingOccurrences(of: old, with: new)
    }

    @Test func absentFieldsTakeTransformersDefaults() throws {
        let config = try EncoderConfig.parse(Data(Self.bert.utf8), file: "config.json")
        #expect(config.family == .bert && config.architectures == [])
        #expect(config.maxPositions == 512 && config.typeVocabSize == 2 && config.numLabels == 2)
        #expect(config.layerNormEps == 1e-12 && config.headSize == 8)
        let labelled = replacing(#""vocab_size""#, with: #""id2label": {"0": "a", "1": "b", "2": "c"}, "vocab_size""#)
        #expect(try EncoderConfig.parse(Data(labelled.utf8), file: "config.json").numLabels == 3)
    }

    @Test func wrongTypesAndValuesNameTheField() {
        #expect(
            message(replacing(#""hidden_size": 32"#, with: #""hidden_size": "32""#))
                == "/m/config.json: field 'hidden_size' must be a positive integer")
        #expect(
            message(replacing(#""num_hidden_layers": 2"#, with: #""num_hidden_layers": 0"#))
                == "/m/config.json: field 'num_hidden_layers' must be a positive integer")
        #expect(
            message(replacing(#""vocab_size": 500, "#, with: ""))
                == "/m/config.json: field 'vocab_size' is missing")
        #expect(
            message(replacing(#""vocab_size""#, with: #""layer_norm_eps": "small", "vocab_size""#))
                == "/m/config.json: field 'layer_norm_eps' must be a number")
        #expect(
            message(replacing(#""vocab_size""#, with: #""hidden_act": "relu", "vocab_size""#))
                == "/m/config.json: field 'hidden_act' 'relu' is not supported (gelu)")
        #expect(
            message(replacing(#""vocab_size""#, with: #""architectures": "BertModel", "vocab_size""#))
                == "/m/config.json: field 'architectures' must be a list of class names")
        #expect(
            message(#"{"model_type": "distilbert", "vocab_size": 500, "dim": 32, "n_layers": 2, "n_heads": 4}"#)
                == "/m/config.json: field 'hidden_dim' is missing")
    }

    @Test func aFileThatIsNotAConfigSaysSo() {
        #expect(message("[1]") == "/m/config.json: not a JSON object")
        #expect(message("{").hasPrefix("/m/config.json: not valid JSON"))
        #expect(message(#"{"vocab_size": 5}"#) == "/m/config.json: field 'model_type' is missing")
        #expect(message(#"{"model_type": 7}"#) == "/m/config.json: field 'model_type' must be a string")
        #expect(
            message(#"{"model_type": "gpt2"}"#)
                == "/m/config.json: unsupported architecture 'gpt2' (supported: bert, distilbert)")
    }

    @Test func aBadSafetensorsHeaderEntryNamesTheTensor() throws {
        let header = #"{"__metadata__": {"format": "pt"}, "w": {"dtype": "F32", "shape": [2], "data_offsets": [0]}}"#
        var bytes = withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { Data($0) }
        bytes.append(Data(header.utf8))
        bytes.append(Data(count: 8))
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cascade-header-\(UUID()).safetensors")
        try bytes.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(throws: WeightsError.malformed(file: url.lastPathComponent, reason: "bad header entry for 'w'")) {
            try SafetensorsFile(path: url.path)
        }
        // The same header with a whole entry loads, its metadata skipped.
        let good = header.replacingOccurrences(of: "[0]", with: "[0, 8]")
        var goodBytes = withUnsafeBytes(of: UInt64(good.utf8.count).littleEndian) { Data($0) }
        goodBytes.append(Data(good.utf8))
        goodBytes.append(Data(count: 8))
        try goodBytes.write(to: url)
        #expect(try SafetensorsFile(path: url.path).tensorNames == ["w"])
    }
}

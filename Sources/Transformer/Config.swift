import Foundation

/// What a model folder's files say is wrong with them; every case names the file (and field or tensor).
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case missingConfig(path: String)
    case badConfig(file: String, reason: String)
    case unsupportedArchitecture(file: String, name: String)
    case invalidInput(String)

    public var description: String {
        switch self {
        case .missingConfig(let path):
            return "no config.json in \(path) (expected a Hugging Face model folder)"
        case .badConfig(let file, let reason):
            return "\(file): \(reason)"
        case .unsupportedArchitecture(let file, let name):
            return "\(file): unsupported architecture '\(name)' (supported: bert, distilbert)"
        case .invalidInput(let reason):
            return "invalid input: \(reason)"
        }
    }
}

/// The model families the engine runs.
public enum ModelFamily: String, Sendable, Equatable {
    case bert
    case distilbert
}

/// The fields of a Hugging Face `config.json` the forward pass needs, under one set of names for both
/// families (DistilBERT's `dim`, `n_layers`, `n_heads`, `hidden_dim` map onto BERT's names).
public struct EncoderConfig: Sendable, Equatable {
    public var family: ModelFamily
    public var architectures: [String]
    public var vocabSize: Int
    public var hiddenSize: Int
    public var numLayers: Int
    public var numHeads: Int
    public var intermediateSize: Int
    public var maxPositions: Int
    /// 0 for DistilBERT, which has no segment embeddings.
    public var typeVocabSize: Int
    public var layerNormEps: Float
    public var numLabels: Int
    /// The raw bytes, so a fingerprint changes with any field.
    public var fileBytes: Data

    public var headSize: Int { hiddenSize / numHeads }

    public static func read(from directory: URL) throws -> EncoderConfig {
        let url = directory.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ModelError.missingConfig(path: directory.path)
        }
        return try parse(data, file: url.path)
    }

    static func parse(_ data: Data, file: String) throws -> EncoderConfig {
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelError.badConfig(file: file, reason: "not a JSON object")
        }
        func int(_ key: String, default value: Int? = nil) throws -> Int {
            guard let raw = json[key] else {
                if let value { return value }
                throw ModelError.badConfig(file: file, reason: "missing field '\(key)'")
            }
            guard let number = raw as? NSNumber, number.doubleValue == number.doubleValue.rounded(),
                number.intValue > 0
            else { throw ModelError.badConfig(file: file, reason: "field '\(key)' must be a positive integer") }
            return number.intValue
        }
        let architectures = json["architectures"] as? [String] ?? []
        guard let modelType = json["model_type"] as? String else {
            throw ModelError.badConfig(file: file, reason: "missing field 'model_type'")
        }
        guard let family = ModelFamily(rawValue: modelType) else {
            throw ModelError.unsupportedArchitecture(file: file, name: modelType)
        }
        let labels = (json["id2label"] as? [String: Any])?.count
        var config: EncoderConfig
        switch family {
        case .bert:
            let activation = json["hidden_act"] as? String ?? "gelu"
            guard activation == "gelu" else {
                throw ModelError.badConfig(file: file, reason: "hidden_act '\(activation)' is not supported (gelu)")
            }
            let positionType = json["position_embedding_type"] as? String ?? "absolute"
            guard positionType == "absolute" else {
                throw ModelError.badConfig(
                    file: file, reason: "position_embedding_type '\(positionType)' is not supported (absolute)")
            }
            config = EncoderConfig(
                family: family, architectures: architectures, vocabSize: try int("vocab_size"),
                hiddenSize: try int("hidden_size"), numLayers: try int("num_hidden_layers"),
                numHeads: try int("num_attention_heads"), intermediateSize: try int("intermediate_size"),
                maxPositions: try int("max_position_embeddings", default: 512),
                typeVocabSize: try int("type_vocab_size", default: 2),
                layerNormEps: Float((json["layer_norm_eps"] as? NSNumber)?.doubleValue ?? 1e-12),
                numLabels: try int("num_labels", default: labels ?? 2), fileBytes: data)
        case .distilbert:
            let activation = json["activation"] as? String ?? "gelu"
            guard activation == "gelu" else {
                throw ModelError.badConfig(file: file, reason: "activation '\(activation)' is not supported (gelu)")
            }
            // DistilBERT hard-codes its layer norm epsilon.
            config = EncoderConfig(
                family: family, architectures: architectures, vocabSize: try int("vocab_size"),
                hiddenSize: try int("dim"), numLayers: try int("n_layers"), numHeads: try int("n_heads"),
                intermediateSize: try int("hidden_dim"),
                maxPositions: try int("max_position_embeddings", default: 512), typeVocabSize: 0,
                layerNormEps: 1e-12, numLabels: try int("num_labels", default: labels ?? 2), fileBytes: data)
        }
        guard config.hiddenSize % config.numHeads == 0 else {
            throw ModelError.badConfig(
                file: file, reason: "hidden size \(config.hiddenSize) is not a multiple of \(config.numHeads) heads")
        }
        return config
    }
}

import Foundation
import Tokenization

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

    static func parse(_ data: Data, file: String) throws(ModelError) -> EncoderConfig {
        /// The file's failures as the model's: they name the file and the field.
        func decode<T: Decodable>(_ type: T.Type) throws(ModelError) -> T {
            do {
                return try JSONFile.decode(T.self, from: data)
            } catch {
                if error.path.isEmpty {
                    throw .badConfig(
                        file: file, reason: error.reason.hasPrefix("must be") ? "not a JSON object" : error.reason)
                }
                throw .badConfig(file: file, reason: "field '\(error.path)' \(error.reason)")
            }
        }
        let modelType = try decode(ModelType.self).modelType
        guard ModelFamily(rawValue: modelType) != nil else {
            throw .unsupportedArchitecture(file: file, name: modelType)
        }
        let config = try decode(ConfigFile.self).encoderConfig(fileBytes: data)
        guard config.hiddenSize % config.numHeads == 0 else {
            throw .badConfig(
                file: file, reason: "hidden size \(config.hiddenSize) is not a multiple of \(config.numHeads) heads")
        }
        return config
    }
}

/// The field every Hugging Face config.json has, which says how to read the rest.
private struct ModelType: Decodable {
    var modelType: String

    enum CodingKeys: String, CodingKey { case modelType = "model_type" }
}

/// config.json as transformers writes it for BERT and DistilBERT, which name the same sizes
/// differently (DistilBERT's `dim`, `n_layers`, `n_heads`, `hidden_dim`, `activation`). Absent
/// optional fields take transformers' defaults, as candle's `bert::Config` does with serde
/// defaults; fields the forward pass does not use (dropouts, token ids) are not read.
struct ConfigFile: Decodable {
    var family: ModelFamily
    var architectures: [String]
    var vocabSize, hiddenSize, numLayers, numHeads, intermediateSize: Int
    var maxPositions = 512
    /// 0 for DistilBERT, which has no segment embeddings.
    var typeVocabSize = 2
    /// DistilBERT hard-codes BERT's default.
    var layerNormEps = 1e-12
    /// `num_labels`, else the number of `id2label` entries, else 2.
    var numLabels = 2

    enum CodingKeys: String, CodingKey {
        case architectures, id2label
        case modelType = "model_type", vocabSize = "vocab_size", maxPositionEmbeddings = "max_position_embeddings"
        case numLabels = "num_labels"
        // BERT's names.
        case hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers", numAttentionHeads =
            "num_attention_heads"
        case intermediateSize = "intermediate_size", hiddenAct = "hidden_act", typeVocabSize = "type_vocab_size"
        case layerNormEps = "layer_norm_eps", positionEmbeddingType = "position_embedding_type"
        // DistilBERT's.
        case dim, activation
        case nLayers = "n_layers", nHeads = "n_heads", hiddenDim = "hidden_dim"
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        guard let family = ModelFamily(rawValue: try c.decode(String.self, forKey: .modelType)) else {
            throw c.failure(.modelType, "is not a supported architecture (bert, distilbert)")
        }
        self.family = family
        let bert = family == .bert
        architectures = try c.value([String].self, .architectures, else: "must be a list of class names") ?? []
        vocabSize = try c.size(.vocabSize)
        hiddenSize = try c.size(bert ? .hiddenSize : .dim)
        numLayers = try c.size(bert ? .numHiddenLayers : .nLayers)
        numHeads = try c.size(bert ? .numAttentionHeads : .nHeads)
        intermediateSize = try c.size(bert ? .intermediateSize : .hiddenDim)
        maxPositions = try c.size(.maxPositionEmbeddings, default: maxPositions)
        try c.only("gelu", bert ? .hiddenAct : .activation)
        if bert {
            typeVocabSize = try c.size(.typeVocabSize, default: typeVocabSize)
            layerNormEps = try c.value(Double.self, .layerNormEps, else: "must be a number") ?? layerNormEps
            try c.only("absolute", .positionEmbeddingType)
        } else {
            typeVocabSize = 0
        }
        let labels = try c.value([String: String].self, .id2label, else: "must be an object of label names")
        numLabels = try c.size(.numLabels, default: labels?.count ?? numLabels)
    }

    func encoderConfig(fileBytes: Data) -> EncoderConfig {
        EncoderConfig(
            family: family, architectures: architectures, vocabSize: vocabSize, hiddenSize: hiddenSize,
            numLayers: numLayers, numHeads: numHeads, intermediateSize: intermediateSize, maxPositions: maxPositions,
            typeVocabSize: typeVocabSize, layerNormEps: Float(layerNormEps), numLabels: numLabels,
            fileBytes: fileBytes)
    }
}

extension KeyedDecodingContainer {
    /// A size (a count of layers, heads, positions...): a positive integer; required unless it has a default.
    fileprivate func size(_ key: Key, default fallback: Int? = nil) throws -> Int {
        let reason = "must be a positive integer"
        guard let value = try value(Int.self, key, else: reason) ?? fallback else { throw failure(key, "is missing") }
        guard value > 0 else { throw failure(key, reason) }
        return value
    }

    /// A choice the forward pass implements one way of (`hidden_act`: gelu); absent means that one.
    fileprivate func only(_ supported: String, _ key: Key) throws {
        let choice = try value(String.self, key, else: "must be a string") ?? supported
        guard choice == supported else { throw failure(key, "'\(choice)' is not supported (\(supported))") }
    }
}

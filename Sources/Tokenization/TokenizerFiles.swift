import Foundation

/// What BertTokenizer needs from a model folder, read from tokenizer.json (when present) or
/// vocab.txt, plus tokenizer_config.json for model_max_length, the special tokens' names and the
/// lowercasing options (which, when set there, win over tokenizer.json's, as in transformers).
struct TokenizerFiles {
    var vocabulary: Vocabulary
    var normalizer: BertNormalizer?
    var preTokenizes = true
    var unkToken = "[UNK]"
    var clsToken = "[CLS]"
    var sepToken = "[SEP]"
    var padToken = "[PAD]"
    var maskToken = "[MASK]"
    var continuingPrefix = "##"
    var maxInputCharsPerWord = 100
    /// Matched in the raw text before normalization (tokenizers' added vocabulary).
    var addedTokens: [(content: String, id: Int32)] = []
    var modelMaxLength = 512

    static func load(directory: URL) throws -> TokenizerFiles {
        let json = directory.appendingPathComponent("tokenizer.json")
        let txt = directory.appendingPathComponent("vocab.txt")
        let configURL = directory.appendingPathComponent("tokenizer_config.json")
        let config =
            FileManager.default.fileExists(atPath: configURL.path)
            ? try readJSON(TokenizerConfig.self, from: configURL) : TokenizerConfig()
        var files: TokenizerFiles
        if FileManager.default.fileExists(atPath: json.path) {
            files = try fromTokenizerJSON(json)
        } else if FileManager.default.fileExists(atPath: txt.path) {
            files = TokenizerFiles(vocabulary: try Vocabulary.load(vocabTxt: txt))
            files.normalizer = BertNormalizer()
        } else {
            var isFolder: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: directory.path, isDirectory: &isFolder)
            throw exists && isFolder.boolValue
                ? TokenizerError.noVocabulary(directory: directory.path)
                : TokenizerError.noFolder(directory: directory.path)
        }
        // transformers builds BertTokenizer's normalizer from these keys, over tokenizer.json's.
        if config.normalizerOptions.setsAny {
            files.normalizer = config.normalizerOptions.apply(to: files.normalizer ?? BertNormalizer())
        }
        files.applySpecialTokens(config, fromConfigOnly: !files.addedTokens.isEmpty)
        if let limit = config.modelMaxLength {
            files.modelMaxLength = limit < 512 ? Int(limit) : 512
        }
        return files
    }

    static func fromTokenizerJSON(_ url: URL) throws -> TokenizerFiles {
        let file = url.path
        let root = try readJSON(TokenizerJSON.self, from: url)
        if let type = root.model.type, type != "WordPiece" {
            throw TokenizerError.unsupported(file: file, field: "model.type", value: type)
        }
        if root.model.vocab.isEmpty { throw TokenizerError.emptyVocabulary(file: file) }
        var files = TokenizerFiles(vocabulary: Vocabulary(ids: root.model.vocab, source: file))
        files.unkToken = root.model.unkToken ?? files.unkToken
        files.continuingPrefix = root.model.continuingPrefix ?? files.continuingPrefix
        files.maxInputCharsPerWord = root.model.maxInputCharsPerWord ?? files.maxInputCharsPerWord

        if let normalizer = root.normalizer {
            guard normalizer.type == "BertNormalizer" else {
                throw TokenizerError.unsupported(
                    file: file, field: "normalizer.type", value: normalizer.type ?? "missing")
            }
            files.normalizer = normalizer.options.apply(to: BertNormalizer())
        } else {
            files.normalizer = nil
        }
        if let pre = root.preTokenizer {
            guard pre.type == "BertPreTokenizer" else {
                throw TokenizerError.unsupported(file: file, field: "pre_tokenizer.type", value: pre.type ?? "missing")
            }
            files.preTokenizes = true
        } else {
            files.preTokenizes = false
        }
        files.addedTokens = (root.addedTokens ?? []).filter { !$0.content.isEmpty }.map { ($0.content, $0.id) }
        files.clsToken = root.postProcessor?.cls ?? files.clsToken
        files.sepToken = root.postProcessor?.sep ?? files.sepToken
        files.padToken = root.padToken ?? files.padToken
        return files
    }

    /// Special token names from tokenizer_config.json.
    mutating func applySpecialTokens(_ config: TokenizerConfig, fromConfigOnly: Bool) {
        if let v = config.unkToken, !fromConfigOnly { unkToken = v }
        if let v = config.clsToken, !fromConfigOnly { clsToken = v }
        if let v = config.sepToken, !fromConfigOnly { sepToken = v }
        if let v = config.padToken { padToken = v }
        if let v = config.maskToken, !fromConfigOnly { maskToken = v }
        if addedTokens.isEmpty {
            // transformers registers the special tokens as added tokens when building from vocab.txt.
            for token in [padToken, unkToken, clsToken, sepToken, maskToken] {
                if let id = vocabulary.id(for: token), !addedTokens.contains(where: { $0.content == token }) {
                    addedTokens.append((token, id))
                }
            }
        }
    }
}

/// Reads one of a model folder's JSON files; failures name the file and the field.
func readJSON<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
    let data: Data
    do {
        data = try Data(contentsOf: url)
    } catch {
        throw TokenizerError.unreadable(file: url.path, reason: error.localizedDescription)
    }
    do {
        return try JSONFile.decode(T.self, from: data)
    } catch {
        let topLevel = error.path.isEmpty && error.reason.hasPrefix("must be")
        throw TokenizerError.malformed(
            file: url.path, field: error.path, reason: topLevel ? "the top level is not a JSON object" : error.reason)
    }
}

/// The BertNormalizer options a file sets, each absent (`.none`), null (`.some(nil)`: the
/// default, or for strip_accents "follow lowercase") or a value.
struct NormalizerOptions {
    var lowercase: Bool?? = .none
    var stripAccents: Bool?? = .none
    var chineseChars: Bool?? = .none
    var cleanText: Bool?? = .none

    static let reason = "is not true, false or null"

    var setsAny: Bool { [lowercase, stripAccents, chineseChars, cleanText].contains { $0 != .none } }

    func apply(to normalizer: BertNormalizer) -> BertNormalizer {
        var normalizer = normalizer
        if case .some(let value) = lowercase { normalizer.lowercase = value ?? true }
        if case .some(let value) = stripAccents { normalizer.stripAccents = value }
        if case .some(let value) = chineseChars { normalizer.handleChineseChars = value ?? true }
        if case .some(let value) = cleanText { normalizer.cleanText = value ?? true }
        return normalizer
    }
}

/// tokenizer_config.json: transformers' names for the normalizer options, the special tokens
/// (a string or an AddedToken object) and model_max_length. Other keys are not read.
struct TokenizerConfig: Decodable {
    var normalizerOptions = NormalizerOptions()
    var unkToken, clsToken, sepToken, padToken, maskToken: String?
    /// At least 1; often a huge sentinel (1e30) meaning "no limit".
    var modelMaxLength: Double?

    enum CodingKeys: String, CodingKey {
        case doLowerCase = "do_lower_case", stripAccents = "strip_accents"
        case tokenizeChineseChars = "tokenize_chinese_chars", modelMaxLength = "model_max_length"
        case unkToken = "unk_token", clsToken = "cls_token", sepToken = "sep_token", padToken = "pad_token"
        case maskToken = "mask_token"
    }

    init() {}

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        normalizerOptions.lowercase = try c.flag(.doLowerCase, else: NormalizerOptions.reason)
        normalizerOptions.stripAccents = try c.flag(.stripAccents, else: NormalizerOptions.reason)
        normalizerOptions.chineseChars = try c.flag(.tokenizeChineseChars, else: NormalizerOptions.reason)
        func name(_ key: CodingKeys) throws -> String? {
            try c.value(TokenName.self, key, else: "is not a token string")?.name
        }
        (unkToken, clsToken, sepToken) = (try name(.unkToken), try name(.clsToken), try name(.sepToken))
        (padToken, maskToken) = (try name(.padToken), try name(.maskToken))
        modelMaxLength = try c.value(Double.self, .modelMaxLength, else: "must be a positive number")
        if let limit = modelMaxLength, !(limit >= 1) { throw c.failure(.modelMaxLength, "must be a positive number") }
    }

    /// A token's name: `"[CLS]"` or `{"content": "[CLS]", "lstrip": false, ...}`.
    struct TokenName: Decodable {
        var name: String

        enum CodingKeys: CodingKey { case content }

        init(from decoder: any Decoder) throws {
            if let name = try? decoder.singleValueContainer().decode(String.self) {
                self.name = name
                return
            }
            let c = try decoder.container(keyedBy: CodingKeys.self)
            guard let content = c.ifValid(String.self, .content) else {
                throw DecodingError.typeMismatch(
                    String.self, .init(codingPath: decoder.codingPath, debugDescription: "no string content"))
            }
            name = content
        }
    }
}

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
        let config = FileManager.default.fileExists(atPath: configURL.path) ? try readObject(configURL) : [:]
        var files: TokenizerFiles
        if FileManager.default.fileExists(atPath: json.path) {
            files = try fromTokenizerJSON(json)
        } else if FileManager.default.fileExists(atPath: txt.path) {
            files = TokenizerFiles(vocabulary: try Vocabulary.load(vocabTxt: txt))
            files.normalizer = BertNormalizer()
        } else {
            throw TokenizerError.noVocabulary(directory: directory.path)
        }
        // transformers builds BertTokenizer's normalizer from these keys, over tokenizer.json's.
        let options = ["do_lower_case", "strip_accents", "tokenize_chinese_chars"]
        if options.contains(where: { config[$0] != nil }) {
            try files.applyNormalizerOptions(config, file: configURL.path)
        }
        try files.applySpecialTokens(config, file: configURL.path, fromConfigOnly: !files.addedTokens.isEmpty)
        if let limit = config["model_max_length"] {
            guard let number = limit as? NSNumber, number.doubleValue >= 1 else {
                throw TokenizerError.malformed(
                    file: configURL.path, field: "model_max_length", reason: "must be a positive number")
            }
            files.modelMaxLength = number.doubleValue < 512 ? number.intValue : 512
        }
        return files
    }

    static func fromTokenizerJSON(_ url: URL) throws -> TokenizerFiles {
        let file = url.path
        let root = try readObject(url)
        guard let model = root["model"] as? [String: Any] else {
            throw TokenizerError.malformed(file: file, field: "model", reason: "is missing or not an object")
        }
        if let type = model["type"], (type as? String) != "WordPiece" {
            throw TokenizerError.unsupported(file: file, field: "model.type", value: "\(type)")
        }
        guard let rawVocab = model["vocab"] as? [String: Any] else {
            throw TokenizerError.malformed(
                file: file, field: "model.vocab", reason: "is missing or not an object of token to id")
        }
        var ids: [TokenKey: Int32] = [:]
        ids.reserveCapacity(rawVocab.count)
        for (token, value) in rawVocab {
            guard let number = value as? NSNumber, let id = Int32(exactly: number.doubleValue), id >= 0 else {
                throw TokenizerError.malformed(
                    file: file, field: "model.vocab.\(token)", reason: "is not a non-negative integer id")
            }
            ids[TokenKey(token)] = id
        }
        if ids.isEmpty { throw TokenizerError.emptyVocabulary(file: file) }
        var files = TokenizerFiles(vocabulary: Vocabulary(ids: ids, source: file))
        if let unk = model["unk_token"] as? String { files.unkToken = unk }
        if let prefix = model["continuing_subword_prefix"] as? String { files.continuingPrefix = prefix }
        if let limit = model["max_input_chars_per_word"] as? NSNumber { files.maxInputCharsPerWord = limit.intValue }

        switch root["normalizer"] {
        case nil, is NSNull:
            files.normalizer = nil
        case let normalizer as [String: Any]:
            guard (normalizer["type"] as? String) == "BertNormalizer" else {
                throw TokenizerError.unsupported(
                    file: file, field: "normalizer.type", value: "\(normalizer["type"] ?? "missing")")
            }
            files.normalizer = BertNormalizer()
            try files.applyNormalizerOptions(normalizer, file: file, prefix: "normalizer.", json: true)
        default:
            throw TokenizerError.malformed(file: file, field: "normalizer", reason: "is not an object")
        }
        switch root["pre_tokenizer"] {
        case nil, is NSNull:
            files.preTokenizes = false
        case let pre as [String: Any] where (pre["type"] as? String) == "BertPreTokenizer":
            files.preTokenizes = true
        case let pre as [String: Any]:
            throw TokenizerError.unsupported(
                file: file, field: "pre_tokenizer.type", value: "\(pre["type"] ?? "missing")")
        default:
            throw TokenizerError.malformed(file: file, field: "pre_tokenizer", reason: "is not an object")
        }
        if let added = root["added_tokens"] {
            guard let list = added as? [[String: Any]] else {
                throw TokenizerError.malformed(file: file, field: "added_tokens", reason: "is not a list of objects")
            }
            for (i, token) in list.enumerated() {
                guard let content = token["content"] as? String, let id = token["id"] as? NSNumber else {
                    throw TokenizerError.malformed(
                        file: file, field: "added_tokens[\(i)]", reason: "needs a string 'content' and an integer 'id'")
                }
                if !content.isEmpty { files.addedTokens.append((content, id.int32Value)) }
            }
        }
        if let post = root["post_processor"] as? [String: Any] {
            // BertProcessing: "cls": ["[CLS]", 101]; TemplateProcessing: the single template's specials.
            if let cls = post["cls"] as? [Any], let name = cls.first as? String { files.clsToken = name }
            if let sep = post["sep"] as? [Any], let name = sep.first as? String { files.sepToken = name }
            if let single = post["single"] as? [[String: Any]] {
                let specials = single.compactMap { ($0["SpecialToken"] as? [String: Any])?["id"] as? String }
                if let first = specials.first, let last = specials.last, specials.count >= 2 {
                    files.clsToken = first
                    files.sepToken = last
                }
            }
        }
        if let padding = root["padding"] as? [String: Any], let pad = padding["pad_token"] as? String {
            files.padToken = pad
        }
        return files
    }

    /// Overrides the normalizer options that `object` sets: do_lower_case / strip_accents /
    /// tokenize_chinese_chars (tokenizer_config.json) or the BertNormalizer fields lowercase /
    /// strip_accents / handle_chinese_chars / clean_text (tokenizer.json). An explicit null
    /// strip_accents means "follow lowercase".
    mutating func applyNormalizerOptions(
        _ object: [String: Any], file: String, prefix: String = "", json: Bool = false
    ) throws {
        func flag(_ key: String) throws -> Bool?? {
            switch object[key] {
            case nil: return .none
            case is NSNull: return .some(nil)
            case let value as Bool: return .some(value)
            default:
                throw TokenizerError.malformed(file: file, field: prefix + key, reason: "is not true, false or null")
            }
        }
        var normalizer = self.normalizer ?? BertNormalizer()
        if case .some(let value) = try flag(json ? "lowercase" : "do_lower_case") {
            normalizer.lowercase = value ?? true
        }
        if case .some(let value) = try flag("strip_accents") { normalizer.stripAccents = value }
        if case .some(let value) = try flag(json ? "handle_chinese_chars" : "tokenize_chinese_chars") {
            normalizer.handleChineseChars = value ?? true
        }
        if json, case .some(let value) = try flag("clean_text") { normalizer.cleanText = value ?? true }
        self.normalizer = normalizer
    }

    /// Special token names from tokenizer_config.json (a string or an AddedToken object).
    mutating func applySpecialTokens(_ config: [String: Any], file: String, fromConfigOnly: Bool) throws {
        func name(_ key: String) throws -> String? {
            switch config[key] {
            case nil, is NSNull: return nil
            case let value as String: return value
            case let value as [String: Any]:
                if let content = value["content"] as? String { return content }
                fallthrough
            default: throw TokenizerError.malformed(file: file, field: key, reason: "is not a token string")
            }
        }
        if let v = try name("unk_token"), !fromConfigOnly { unkToken = v }
        if let v = try name("cls_token"), !fromConfigOnly { clsToken = v }
        if let v = try name("sep_token"), !fromConfigOnly { sepToken = v }
        if let v = try name("pad_token") { padToken = v }
        if let v = try name("mask_token"), !fromConfigOnly { maskToken = v }
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

func readObject(_ url: URL) throws -> [String: Any] {
    let data: Data
    do {
        data = try Data(contentsOf: url)
    } catch {
        throw TokenizerError.unreadable(file: url.path, reason: error.localizedDescription)
    }
    let value: Any
    do {
        value = try JSONSerialization.jsonObject(with: data)
    } catch {
        throw TokenizerError.malformed(
            file: url.path, field: "", reason: "not valid JSON (\(error.localizedDescription))")
    }
    guard let object = value as? [String: Any] else {
        throw TokenizerError.malformed(file: url.path, field: "", reason: "the top level is not a JSON object")
    }
    return object
}

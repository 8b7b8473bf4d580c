/// The parts of a Hugging Face tokenizer.json a BERT WordPiece tokenizer has. Required parts
/// (the model and its vocabulary) fail naming their field; optional ones a reader can do without
/// (the post-processor's and padding's token names) are taken when they have the expected shape.
struct TokenizerJSON: Decodable {
    var model: Model
    /// nil: no normalizer (absent or null).
    var normalizer: Normalizer?
    /// nil: no pre-tokenizer (absent or null).
    var preTokenizer: Typed?
    var addedTokens: [AddedToken]?
    var postProcessor: PostProcessor?
    var padToken: String?

    enum CodingKeys: String, CodingKey {
        case model, normalizer, padding
        case preTokenizer = "pre_tokenizer", addedTokens = "added_tokens", postProcessor = "post_processor"
        case padToken = "pad_token"
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let notObject = "is missing or not an object"
        guard let model = try c.value(Model.self, .model, else: notObject) else { throw c.failure(.model, notObject) }
        self.model = model
        normalizer = try c.value(Normalizer.self, .normalizer, else: "is not an object")
        preTokenizer = try c.value(Typed.self, .preTokenizer, else: "is not an object")
        addedTokens = try c.value([AddedToken].self, .addedTokens, else: "is not a list of objects")
        postProcessor = c.ifValid(PostProcessor.self, .postProcessor)
        if let padding = try? c.nestedContainer(keyedBy: CodingKeys.self, forKey: .padding) {
            padToken = padding.ifValid(String.self, .padToken)
        }
    }

    /// `model`: its type, and for WordPiece, the vocabulary and its options.
    struct Model: Decodable {
        /// nil: not stated (WordPiece assumed).
        var type: String?
        /// Empty when `type` is another model's, which the reader refuses by name.
        var vocab: [TokenKey: Int32] = [:]
        var unkToken: String?
        var continuingPrefix: String?
        var maxInputCharsPerWord: Int?

        enum CodingKeys: String, CodingKey {
            case type, vocab
            case unkToken = "unk_token", continuingPrefix = "continuing_subword_prefix"
            case maxInputCharsPerWord = "max_input_chars_per_word"
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            type = try c.value(String.self, .type, else: "must be a string")
            guard type == nil || type == "WordPiece" else { return }
            let reason = "is missing or not an object of token to id"
            guard let vocab = try c.value(Vocab.self, .vocab, else: reason) else { throw c.failure(.vocab, reason) }
            self.vocab = vocab.ids
            unkToken = c.ifValid(String.self, .unkToken)
            continuingPrefix = c.ifValid(String.self, .continuingPrefix)
            maxInputCharsPerWord = c.ifValid(Int.self, .maxInputCharsPerWord)
        }
    }

    /// `model.vocab`: token -> id, every id a non-negative integer.
    struct Vocab: Decodable {
        var ids: [TokenKey: Int32] = [:]

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: JSONFile.AnyKey.self)
            let reason = "is not a non-negative integer id"
            ids.reserveCapacity(c.allKeys.count)
            for key in c.allKeys {
                guard let id = try c.value(Int32.self, key, else: reason), id >= 0 else { throw c.failure(key, reason) }
                ids[TokenKey(key.stringValue)] = id
            }
        }
    }

    /// `normalizer`: its type and, for a BertNormalizer, its options.
    struct Normalizer: Decodable {
        var type: String?
        var options = NormalizerOptions()

        enum CodingKeys: String, CodingKey {
            case type, lowercase
            case stripAccents = "strip_accents", handleChineseChars = "handle_chinese_chars"
            case cleanText = "clean_text"
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            type = c.ifValid(String.self, .type)
            guard type == "BertNormalizer" else { return }
            options.lowercase = try c.flag(.lowercase, else: NormalizerOptions.reason)
            options.stripAccents = try c.flag(.stripAccents, else: NormalizerOptions.reason)
            options.chineseChars = try c.flag(.handleChineseChars, else: NormalizerOptions.reason)
            options.cleanText = try c.flag(.cleanText, else: NormalizerOptions.reason)
        }
    }

    /// An object whose `type` says what it is (`{"type": "BertPreTokenizer"}`).
    struct Typed: Decodable {
        var type: String?

        enum CodingKeys: CodingKey { case type }

        init(from decoder: any Decoder) throws {
            type = try decoder.container(keyedBy: CodingKeys.self).ifValid(String.self, .type)
        }
    }

    /// `{"id": 101, "content": "[CLS]", "special": true, ...}`: matched in the raw text.
    struct AddedToken: Decodable {
        var content: String
        var id: Int32

        enum CodingKeys: CodingKey { case content, id }

        init(from decoder: any Decoder) throws {
            do {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                (content, id) = (try c.decode(String.self, forKey: .content), try c.decode(Int32.self, forKey: .id))
            } catch {
                throw JSONFile.Failure(
                    path: JSONFile.path(decoder.codingPath), reason: "needs a string 'content' and an integer 'id'")
            }
        }
    }

    /// The [CLS]/[SEP] names: BertProcessing's `"cls": ["[CLS]", 101]`, or the first and last
    /// special tokens of TemplateProcessing's `single` template.
    struct PostProcessor: Decodable {
        var cls: String?
        var sep: String?

        enum CodingKeys: String, CodingKey {
            case cls, sep, single
            case specialToken = "SpecialToken"
            case id
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            func firstString(_ key: CodingKeys) -> String? {
                guard var pair = try? c.nestedUnkeyedContainer(forKey: key) else { return nil }
                return try? pair.decode(String.self)
            }
            (cls, sep) = (firstString(.cls), firstString(.sep))
            guard var single = try? c.nestedUnkeyedContainer(forKey: .single) else { return }
            var specials: [String] = []
            while !single.isAtEnd {
                // A piece is {"SpecialToken": {"id": "[CLS]", ...}} or {"Sequence": {...}}.
                guard let piece = try? single.nestedContainer(keyedBy: CodingKeys.self) else {
                    _ = try? single.decodeNil()
                    break
                }
                if let special = try? piece.nestedContainer(keyedBy: CodingKeys.self, forKey: .specialToken),
                    let id = special.ifValid(String.self, .id)
                {
                    specials.append(id)
                }
            }
            if let first = specials.first, let last = specials.last, specials.count >= 2 {
                (cls, sep) = (first, last)
            }
        }
    }
}

import Foundation

/// How a text pair that is too long gets cut (tokenizers' `TruncationStrategy`).
public enum Truncation: Sendable {
    /// Cut the longer text first, as tokenizers' `longest_first`.
    case longestFirst
    /// Cut only the second text; when it is too short to absorb the whole cut (where tokenizers
    /// raises an error), fall back to `longestFirst` so the result still fits.
    case onlySecond
}

/// BERT WordPiece tokenization with the same ids as Hugging Face tokenizers' fast BertTokenizer
/// (BertNormalizer + BertPreTokenizer + WordPiece + the [CLS]/[SEP] template).
public final class BertTokenizer: Sendable {
    public let vocabulary: Vocabulary
    public let normalizer: BertNormalizer?
    /// model_max_length from tokenizer_config.json, capped at 512 (BERT's position embeddings).
    public let maxLength: Int
    public let padId: Int32
    public let clsId: Int32
    public let sepId: Int32
    public let unkId: Int32
    private let preTokenizes: Bool
    private let wordPiece: WordPiece
    private let addedTokens: AddedTokens
    /// Added tokens' strings by id, for ids outside the WordPiece vocabulary.
    private let addedStrings: [Int32: String]

    /// tokenizer.json when present, else vocab.txt (+ tokenizer_config.json for lowercasing etc.)
    public init(directory: URL) throws {
        let files = try TokenizerFiles.load(directory: directory)
        vocabulary = files.vocabulary
        normalizer = files.normalizer
        preTokenizes = files.preTokenizes
        maxLength = files.modelMaxLength
        unkId = try files.vocabulary.require(files.unkToken)
        clsId = try files.vocabulary.require(files.clsToken)
        sepId = try files.vocabulary.require(files.sepToken)
        padId = files.vocabulary.id(for: files.padToken) ?? 0
        wordPiece = WordPiece(
            vocabulary: files.vocabulary, unkId: unkId, continuingPrefix: files.continuingPrefix,
            maxInputCharsPerWord: files.maxInputCharsPerWord)
        addedTokens = AddedTokens(files.addedTokens)
        addedStrings = Dictionary(
            files.addedTokens.map { ($0.id, $0.content) }, uniquingKeysWith: { first, _ in first })
    }

    /// Word pieces, no specials.
    public func tokenize(_ text: String) -> [String] {
        ids(text).map { id in
            if let token = vocabulary.token(for: id), !token.isEmpty { return token }
            return addedStrings[id] ?? ""
        }
    }

    /// Word-piece ids, no specials, no truncation.
    public func ids(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        var normalized: [UInt32] = []
        var scratch: [UInt32] = []
        var pieceScratch = WordPiece.Scratch()
        let scalars = text.unicodeScalars.map(\.value)
        addedTokens.split(scalars) { segment, addedId in
            if let addedId {
                ids.append(addedId)
                return
            }
            if let normalizer {
                normalizer.normalize(scalars[segment], into: &normalized, scratch: &scratch)
            } else {
                normalized.removeAll(keepingCapacity: true)
                normalized.append(contentsOf: scalars[segment])
            }
            if preTokenizes {
                BertPreTokenizer.forEachWord(in: normalized) {
                    wordPiece.tokenize(normalized[$0], into: &ids, scratch: &pieceScratch)
                }
            } else if !normalized.isEmpty {
                wordPiece.tokenize(normalized[...], into: &ids, scratch: &pieceScratch)
            }
        }
        return ids
    }

    /// True when `ids(text)` is not empty: the text holds something this tokenizer reads, not
    /// only whitespace, control and format characters (U+200B, U+FEFF, NUL) or, for a tokenizer
    /// that strips accents, lone combining marks. An ASCII letter or digit always makes a token,
    /// so most texts answer without being tokenized.
    public func producesTokens(_ text: String) -> Bool {
        let asciiAlphanumeric = text.utf8.contains { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
        }
        if asciiAlphanumeric { return true }
        return !ids(text).isEmpty
    }

    /// [CLS] t [SEP], cut to `maxLength` (default: `self.maxLength`) tokens in all.
    public func encode(_ text: String, maxLength: Int? = nil) -> Encoding {
        var pieces = ids(text)
        let budget = max(0, (maxLength ?? self.maxLength) - 2)
        if pieces.count > budget { pieces.removeSubrange(budget...) }
        let ids = [clsId] + pieces + [sepId]
        return Encoding(ids: ids, typeIds: [Int32](repeating: 0, count: ids.count))
    }

    /// [CLS] a [SEP] b [SEP], cut to `maxLength` (default: `self.maxLength`) tokens in all.
    public func encode(
        _ first: String, _ second: String, maxLength: Int? = nil, truncation: Truncation = .longestFirst
    ) -> Encoding {
        var a = ids(first)
        var b = ids(second)
        Self.truncate(&a, &b, budget: max(0, (maxLength ?? self.maxLength) - 3), strategy: truncation)
        var ids = [clsId]
        ids.reserveCapacity(a.count + b.count + 3)
        ids += a
        ids.append(sepId)
        ids += b
        ids.append(sepId)
        let typeIds = [Int32](repeating: 0, count: a.count + 2) + [Int32](repeating: 1, count: b.count + 1)
        return Encoding(ids: ids, typeIds: typeIds)
    }

    /// Pads with `padId` to the longest encoding.
    public func batch(_ encodings: [Encoding]) -> TokenBatch {
        TokenBatch(encodings, padId: padId)
    }

    /// tokenizers' `truncate_encodings` for a pair, `budget` being max_length minus the specials.
    static func truncate(_ a: inout [Int32], _ b: inout [Int32], budget: Int, strategy: Truncation) {
        let total = a.count + b.count
        guard total > budget else { return }
        if strategy == .onlySecond && b.count > total - budget {
            b.removeSubrange((b.count - (total - budget))...)
            return
        }
        // Keep the shorter one whole if the longer one can take the cut; else split the budget,
        // the odd token going to the longer (to the second on a tie).
        var n1 = min(a.count, b.count)
        var n2 = n1 > budget ? n1 : max(n1, budget - n1)
        if n1 + n2 > budget {
            n1 = budget / 2
            n2 = n1 + budget % 2
        }
        let (keepA, keepB) = a.count > b.count ? (n2, n1) : (n1, n2)
        if a.count > keepA { a.removeSubrange(keepA...) }
        if b.count > keepB { b.removeSubrange(keepB...) }
    }
}

/// tokenizers' added vocabulary for tokens matched in the raw text (normalized: false):
/// leftmost match wins, the longest among those starting there.
struct AddedTokens: Sendable {
    private let tokens: [(scalars: [UInt32], id: Int32)]
    private let firstScalars: Set<UInt32>

    init(_ tokens: [(content: String, id: Int32)]) {
        self.tokens = tokens.map { ($0.content.unicodeScalars.map(\.value), $0.id) }
            .sorted { $0.scalars.count > $1.scalars.count }
        firstScalars = Set(self.tokens.compactMap(\.scalars.first))
    }

    /// Calls `body` for each stretch of ordinary text (id nil) and each added token (its id), in order.
    func split(_ text: [UInt32], _ body: (Range<Int>, Int32?) -> Void) {
        var segmentStart = 0
        var i = 0
        while i < text.count {
            if firstScalars.contains(text[i]), let token = match(text, at: i) {
                if segmentStart < i { body(segmentStart..<i, nil) }
                body(i..<(i + token.scalars.count), token.id)
                i += token.scalars.count
                segmentStart = i
            } else {
                i += 1
            }
        }
        if segmentStart < text.count { body(segmentStart..<text.count, nil) }
    }

    private func match(_ text: [UInt32], at i: Int) -> (scalars: [UInt32], id: Int32)? {
        for token in tokens where token.scalars.count <= text.count - i {
            if text[i..<(i + token.scalars.count)].elementsEqual(token.scalars) { return token }
        }
        return nil
    }
}

/// Hugging Face tokenizers' `WordPiece` model: greedy longest-match-first over the vocabulary,
/// continuing pieces carry the `##` prefix, and a word that cannot be covered (or is longer than
/// `maxInputCharsPerWord` scalars) becomes the single unknown token.
struct WordPiece: Sendable {
    let unkId: Int32
    let maxInputCharsPerWord: Int
    /// Every token, for a word's first piece.
    private let initial: ByteTable
    /// Tokens that start with the prefix, keyed without it, so a lookup needs no concatenation.
    private let continuing: ByteTable
    /// No vocabulary entry is longer than this (in scalars), so longer candidates are skipped.
    private let longestToken: Int

    /// Reusable buffers for one tokenization call (a word's UTF-8 bytes and scalar offsets).
    struct Scratch {
        var utf8: [UInt8] = []
        var offsets: [Int] = []
    }

    init(vocabulary: Vocabulary, unkId: Int32, continuingPrefix: String = "##", maxInputCharsPerWord: Int = 100) {
        self.unkId = unkId
        self.maxInputCharsPerWord = maxInputCharsPerWord
        var initial = ByteTable(capacity: vocabulary.count)
        var continuing = ByteTable(capacity: vocabulary.count)
        var longest = 1
        let prefix = Array(continuingPrefix.utf8)
        for (key, id) in vocabulary.ids {
            let bytes = Array(key.string.utf8)
            initial.insert(bytes, id: id)
            longest = max(longest, key.string.unicodeScalars.count)
            if !prefix.isEmpty && bytes.starts(with: prefix) {
                continuing.insert(bytes[prefix.count...], id: id)
            }
        }
        self.initial = initial
        self.continuing = continuing
        self.longestToken = longest
    }

    /// Appends the ids of `word`'s pieces to `ids`.
    func tokenize(_ word: ArraySlice<UInt32>, into ids: inout [Int32], scratch: inout Scratch) {
        if word.count > maxInputCharsPerWord {
            ids.append(unkId)
            return
        }
        scratch.utf8.removeAll(keepingCapacity: true)
        scratch.offsets.removeAll(keepingCapacity: true)
        for cp in word {
            scratch.offsets.append(scratch.utf8.count)
            appendUTF8(cp, to: &scratch.utf8)
        }
        scratch.offsets.append(scratch.utf8.count)
        let mark = ids.count
        let n = word.count
        let offsets = scratch.offsets
        let complete: Bool = scratch.utf8.withUnsafeBufferPointer { utf8 in
            var start = 0
            while start < n {
                var end = min(n, start + longestToken)
                var found: Int32?
                while start < end {
                    let piece = UnsafeBufferPointer(rebasing: utf8[offsets[start]..<offsets[end]])
                    found = start == 0 ? initial.lookup(piece) : continuing.lookup(piece)
                    if found != nil { break }
                    end -= 1
                }
                guard let id = found else { return false }
                ids.append(id)
                start = end
            }
            return true
        }
        if !complete {
            ids.removeSubrange(mark...)
            ids.append(unkId)
        }
    }
}

@inline(__always) func appendUTF8(_ cp: UInt32, to out: inout [UInt8]) {
    switch cp {
    case 0..<0x80:
        out.append(UInt8(cp))
    case 0x80..<0x800:
        out.append(UInt8(0xC0 | (cp >> 6)))
        out.append(UInt8(0x80 | (cp & 0x3F)))
    case 0x800..<0x10000:
        out.append(UInt8(0xE0 | (cp >> 12)))
        out.append(UInt8(0x80 | ((cp >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (cp & 0x3F)))
    default:
        out.append(UInt8(0xF0 | (cp >> 18)))
        out.append(UInt8(0x80 | ((cp >> 12) & 0x3F)))
        out.append(UInt8(0x80 | ((cp >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (cp & 0x3F)))
    }
}

/// Hugging Face tokenizers' `WordPiece` model: greedy longest-match-first over the vocabulary,
/// continuing pieces carry the `##` prefix, and a word that cannot be covered (or is longer than
/// `maxInputCharsPerWord` scalars) becomes the single unknown token.
struct WordPiece: Sendable {
    let vocabulary: Vocabulary
    let unkId: Int32
    let continuingPrefix: String
    let maxInputCharsPerWord: Int
    /// Tokens that start with the prefix, keyed without it, so a lookup needs no concatenation.
    private let continuing: [TokenKey: Int32]
    /// No vocabulary entry is longer than this (in scalars), so longer candidates are skipped.
    private let longestToken: Int

    init(vocabulary: Vocabulary, unkId: Int32, continuingPrefix: String = "##", maxInputCharsPerWord: Int = 100) {
        self.vocabulary = vocabulary
        self.unkId = unkId
        self.continuingPrefix = continuingPrefix
        self.maxInputCharsPerWord = maxInputCharsPerWord
        var continuing: [TokenKey: Int32] = [:]
        var longest = 1
        for (key, id) in vocabulary.ids {
            let token = key.string
            let length = token.unicodeScalars.count
            if !continuingPrefix.isEmpty && token.utf8.starts(with: continuingPrefix.utf8) {
                let piece = String(token.unicodeScalars.dropFirst(continuingPrefix.unicodeScalars.count))
                continuing[TokenKey(piece)] = id
                longest = max(longest, length - continuingPrefix.unicodeScalars.count)
            }
            longest = max(longest, length)
        }
        self.continuing = continuing
        self.longestToken = longest
    }

    /// Appends the ids of `word`'s pieces to `ids`.
    func tokenize(_ word: ArraySlice<UInt32>, into ids: inout [Int32]) {
        if word.count > maxInputCharsPerWord {
            ids.append(unkId)
            return
        }
        let mark = ids.count
        var start = word.startIndex
        while start < word.endIndex {
            var end = min(word.endIndex, start + longestToken)
            var found: Int32?
            while start < end {
                var key = ""
                for cp in word[start..<end] { key.unicodeScalars.append(Unicode.Scalar(cp).unsafelyUnwrapped) }
                found = start == word.startIndex ? vocabulary.ids[TokenKey(key)] : continuing[TokenKey(key)]
                if found != nil { break }
                end -= 1
            }
            guard let id = found else {
                ids.removeSubrange(mark...)
                ids.append(unkId)
                return
            }
            ids.append(id)
            start = end
        }
    }
}

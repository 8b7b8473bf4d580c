/// Hugging Face tokenizers' `BertPreTokenizer`: split on whitespace (dropped) and around every
/// punctuation character (kept as a word of its own).
enum BertPreTokenizer {
    /// Calls `body` with each word of `text` as a range of indices.
    static func forEachWord(in text: [UInt32], _ body: (Range<Int>) -> Void) {
        var start = 0
        for (i, cp) in text.enumerated() {
            if UnicodeClasses.isWhitespace(cp) {
                if start < i { body(start..<i) }
                start = i + 1
            } else if UnicodeClasses.isPunctuation(cp) {
                if start < i { body(start..<i) }
                body(i..<(i + 1))
                start = i + 1
            }
        }
        if start < text.count { body(start..<text.count) }
    }
}

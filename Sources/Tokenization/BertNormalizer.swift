/// Hugging Face tokenizers' `BertNormalizer`, on Unicode scalars (never grapheme clusters, which
/// would glue combining marks and emoji sequences together where tokenizers does not).
public struct BertNormalizer: Sendable, Equatable {
    /// Drop NUL, U+FFFD and control/format characters; turn every whitespace into a space.
    public var cleanText: Bool
    /// Put spaces around CJK ideographs so each becomes a word.
    public var handleChineseChars: Bool
    /// nil: follow `lowercase`, as tokenizers and the original BERT do.
    public var stripAccents: Bool?
    public var lowercase: Bool

    public init(
        cleanText: Bool = true, handleChineseChars: Bool = true, stripAccents: Bool? = nil, lowercase: Bool = true
    ) {
        self.cleanText = cleanText
        self.handleChineseChars = handleChineseChars
        self.stripAccents = stripAccents
        self.lowercase = lowercase
    }

    var stripsAccents: Bool { stripAccents ?? lowercase }

    /// Normalizes `input` into `output` (cleared first). Steps in tokenizers' order: clean,
    /// CJK spacing, NFD + drop non-spacing marks, lowercase. `scratch` avoids reallocations.
    func normalize(_ input: ArraySlice<UInt32>, into output: inout [UInt32], scratch: inout [UInt32]) {
        output.removeAll(keepingCapacity: true)
        var nonASCII = false
        for cp in input {
            if cleanText {
                if cp == 0 || cp == 0xFFFD || UnicodeClasses.isRemoved(cp) { continue }
                if UnicodeClasses.isWhitespace(cp) {
                    output.append(0x20)
                    continue
                }
            }
            if cp >= 0x80 { nonASCII = true }
            if handleChineseChars && cp >= 0x3400 && UnicodeClasses.isChinese(cp) {
                output.append(0x20)
                output.append(cp)
                output.append(0x20)
            } else {
                output.append(cp)
            }
        }
        if !nonASCII {
            if lowercase {
                for i in output.indices where output[i] >= 0x41 && output[i] <= 0x5A { output[i] += 0x20 }
            }
            return
        }
        if stripsAccents {
            Self.decompose(output, into: &scratch)
            output.removeAll(keepingCapacity: true)
            for cp in scratch where !UnicodeClasses.isNonspacingMark(cp) { output.append(cp) }
        }
        if lowercase {
            swap(&output, &scratch)
            output.removeAll(keepingCapacity: true)
            for cp in scratch {
                if cp < 0x80 {
                    output.append(cp >= 0x41 && cp <= 0x5A ? cp + 0x20 : cp)
                } else if let scalar = Unicode.Scalar(cp) {
                    // Full mapping, context free, like Rust's `char::to_lowercase` (İ → i + U+0307).
                    for lower in scalar.properties.lowercaseMapping.unicodeScalars { output.append(lower.value) }
                }
            }
        }
    }

    /// NFD: full canonical decomposition, then canonical ordering of combining marks.
    static func decompose(_ input: [UInt32], into out: inout [UInt32]) {
        out.removeAll(keepingCapacity: true)
        var needsOrdering = false
        for cp in input {
            let start = out.count
            UnicodeClasses.appendDecomposition(of: cp, to: &out)
            if !needsOrdering {
                for i in start..<out.count where UnicodeClasses.combiningClass(out[i]) != 0 {
                    needsOrdering = true
                    break
                }
            }
        }
        if needsOrdering { canonicalOrder(&out) }
    }

    /// Stable sort of every run of non-starters by combining class (insertion sort: runs are short).
    static func canonicalOrder(_ s: inout [UInt32]) {
        var i = 0
        while i < s.count {
            guard UnicodeClasses.combiningClass(s[i]) != 0 else {
                i += 1
                continue
            }
            var end = i
            while end < s.count && UnicodeClasses.combiningClass(s[end]) != 0 { end += 1 }
            if end - i > 1 {
                for j in (i + 1)..<end {
                    let value = s[j]
                    let ccc = UnicodeClasses.combiningClass(value)
                    var k = j
                    while k > i && UnicodeClasses.combiningClass(s[k - 1]) > ccc {
                        s[k] = s[k - 1]
                        k -= 1
                    }
                    s[k] = value
                }
            }
            i = end
        }
    }
}

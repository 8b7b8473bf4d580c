/// Character classes as Hugging Face tokenizers sees them, over the generated tables in
/// UnicodeTables.swift (whose Unicode version differs from Swift's own properties).
enum UnicodeClasses {
    static func inRanges(_ table: [UInt32], _ cp: UInt32) -> Bool {
        var low = 0
        var high = table.count / 2
        while low < high {
            let mid = (low + high) / 2
            if cp < table[2 * mid] {
                high = mid
            } else if cp > table[2 * mid + 1] {
                low = mid + 1
            } else {
                return true
            }
        }
        return false
    }

    /// Dropped by clean_text: NUL, U+FFFD and tokenizers' "control" (Cc, Cf, Co, Cs but not \t \n \r).
    @inline(__always) static func isRemoved(_ cp: UInt32) -> Bool {
        if cp < 0x80 { return (cp < 0x20 && cp != 0x09 && cp != 0x0A && cp != 0x0D) || cp == 0x7F }
        return inRanges(removedRanges, cp)
    }

    /// Rust's `char::is_whitespace` (the White_Space property), which Swift's matches.
    @inline(__always) static func isWhitespace(_ cp: UInt32) -> Bool {
        if cp < 0x80 { return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D) }
        return Unicode.Scalar(cp)?.properties.isWhitespace ?? false
    }

    @inline(__always) static func isPunctuation(_ cp: UInt32) -> Bool {
        if cp < 0x80 {
            return (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) || (cp >= 0x5B && cp <= 0x60)
                || (cp >= 0x7B && cp <= 0x7E)
        }
        return inRanges(punctuationRanges, cp)
    }

    @inline(__always) static func isNonspacingMark(_ cp: UInt32) -> Bool {
        cp >= 0x300 && inRanges(nonspacingMarkRanges, cp)
    }

    /// tokenizers' `is_chinese_char`: the CJK ideograph blocks (not kana, not hangul).
    @inline(__always) static func isChinese(_ cp: UInt32) -> Bool {
        switch cp {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
            0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }

    /// Code point → (start, count) in `decompositionTable`.
    static let decompositions: [UInt32: (start: Int, count: Int)] = {
        var map: [UInt32: (start: Int, count: Int)] = [:]
        var i = 0
        while i < decompositionTable.count {
            let count = Int(decompositionTable[i + 1])
            map[decompositionTable[i]] = (i + 2, count)
            i += 2 + count
        }
        return map
    }()

    /// Appends the canonical decomposition of `cp` (NFD before reordering).
    @inline(__always) static func appendDecomposition(of cp: UInt32, to out: inout [UInt32]) {
        if cp < 0xC0 {
            out.append(cp)
        } else if cp >= 0xAC00 && cp <= 0xD7A3 {
            let s = cp - 0xAC00
            out.append(0x1100 + s / 588)
            out.append(0x1161 + (s % 588) / 28)
            if s % 28 != 0 { out.append(0x11A7 + s % 28) }
        } else if let entry = decompositions[cp] {
            out.append(contentsOf: decompositionTable[entry.start..<(entry.start + entry.count)])
        } else {
            out.append(cp)
        }
    }

    @inline(__always) static func combiningClass(_ cp: UInt32) -> UInt8 {
        if cp < 0x300 { return 0 }
        return Unicode.Scalar(cp)?.properties.canonicalCombiningClass.rawValue ?? 0
    }
}

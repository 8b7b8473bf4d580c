import Foundation

/// The one rule for passage ids, wherever they come from (an RPC, a corpus file, an import, a
/// direct store write): not empty, no control characters, no leading or trailing whitespace,
/// and at most a byte limit once in Unicode NFC, the form ids are compared and stored in, so
/// "café" typed with a precomposed é and with e + U+0301 is one passage.
public enum PassageID {
    /// Why a string cannot be a passage id; the description reads after the field's name
    /// ("ids[2] must not be empty").
    public enum Problem: Error, Sendable, Equatable, CustomStringConvertible {
        case empty
        case tooLong(bytes: Int, limit: Int)
        /// `scalar` is the first control character (Unicode category Cc), `offset` its position
        /// in scalars.
        case controlCharacter(scalar: UInt32, offset: Int)
        case surroundingWhitespace

        public var description: String {
            switch self {
            case .empty: return "must not be empty"
            case .tooLong(let bytes, let limit): return "is \(bytes) bytes; the limit is \(limit)"
            case .controlCharacter(let scalar, let offset):
                let hex = String(scalar, radix: 16, uppercase: true)
                return "holds a control character (U+\(String(repeating: "0", count: max(0, 4 - hex.count)) + hex) "
                    + "at position \(offset)); ids must be printable text"
            case .surroundingWhitespace: return "must not start or end with whitespace"
            }
        }
    }

    /// `id` in NFC, or the first rule it breaks. `maxBytes` bounds the UTF-8 of the NFC form.
    public static func checked(_ id: String, maxBytes: Int) throws(Problem) -> String {
        guard !id.isEmpty else { throw .empty }
        for (offset, scalar) in id.unicodeScalars.enumerated() where scalar.properties.generalCategory == .control {
            throw .controlCharacter(scalar: scalar.value, offset: offset)
        }
        let scalars = id.unicodeScalars
        if scalars.first!.properties.isWhitespace || scalars.last!.properties.isWhitespace {
            throw .surroundingWhitespace
        }
        let normal = nfc(id)
        let bytes = normal.utf8.count
        guard bytes <= maxBytes else { throw .tooLong(bytes: bytes, limit: maxBytes) }
        return normal
    }

    /// `id` in NFC (ASCII is already).
    public static func nfc(_ id: String) -> String {
        if id.utf8.allSatisfy({ $0 < 0x80 }) { return id }
        return id.precomposedStringWithCanonicalMapping
    }
}

/// A vocabulary key compared by its exact scalars. Swift's String equality and hashing follow
/// canonical equivalence (U+1F7D "ώ" == U+03CE "ώ"), but tokenizers' vocabulary lookups are
/// byte-exact, so keys hash and compare their UTF-8 bytes.
struct TokenKey: Hashable, Sendable {
    let string: String

    init(_ string: String) { self.string = string }

    static func == (a: TokenKey, b: TokenKey) -> Bool {
        a.string.utf8.elementsEqual(b.string.utf8)
    }

    func hash(into hasher: inout Hasher) {
        let done: Void? = string.utf8.withContiguousStorageIfAvailable {
            hasher.combine(bytes: UnsafeRawBufferPointer($0))
        }
        if done == nil {
            for byte in string.utf8 { hasher.combine(byte) }
        }
    }
}

import Foundation
import Testing

@testable import Tokenization

/// Lowercasing and whitespace come from Swift's Unicode properties, not from generated tables;
/// they must agree with tokenizers on every code point (unicode_reference.json, written by
/// scripts/fixtures/make_unicode_tables.py).
@Suite struct UnicodeAgreementTests {
    static func reference() throws -> [String: Any] {
        let url = TestSupport.fixtures.appendingPathComponent("unicode_reference.json")
        return try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }

    @Test func lowercaseMappingMatchesTokenizersEverywhere() throws {
        let table = try Self.reference()["lowercase"] as! [String: [NSNumber]]
        #expect(table.count > 1000)
        var differences: [String] = []
        for cp in UInt32(0x80)..<0x110000 {
            guard let scalar = Unicode.Scalar(cp) else { continue }
            let swift = scalar.properties.lowercaseMapping.unicodeScalars.map(\.value)
            let expected = table[String(cp)]?.map(\.uint32Value) ?? [cp]
            if swift != expected { differences.append(String(cp, radix: 16)) }
        }
        #expect(differences.isEmpty, "lowercase differs at U+\(differences.prefix(10))")
    }

    @Test func whitespaceMatchesTokenizersEverywhere() throws {
        let list = try Self.reference()["whitespace"] as! [NSNumber]
        let expected = Set(list.map(\.uint32Value))
        #expect(expected.contains(0x3000) && expected.contains(0x20))
        var differences: [String] = []
        for cp in UInt32(0)..<0x110000 where Unicode.Scalar(cp) != nil {
            if UnicodeClasses.isWhitespace(cp) != expected.contains(cp) { differences.append(String(cp, radix: 16)) }
        }
        #expect(differences.isEmpty, "whitespace differs at U+\(differences)")
    }

    @Test func decompositionReordersCombiningMarks() {
        // ậ typed as a + U+0302 (ccc 230) + U+0323 (ccc 220) → NFD puts the dot below first.
        var out: [UInt32] = []
        BertNormalizer.decompose([0x61, 0x302, 0x323, 0x1EA0, 0xD55C], into: &out)
        #expect(out == [0x61, 0x323, 0x302, 0x41, 0x323, 0x1112, 0x1161, 0x11AB])
    }
}

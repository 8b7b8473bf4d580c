import Testing

@testable import Tokenization

@Test func moduleLinks() {
    #expect(Bool(true))
}

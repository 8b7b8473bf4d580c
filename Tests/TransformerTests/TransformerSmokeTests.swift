import Testing

@testable import Transformer

@Test func moduleLinks() {
    #expect(Bool(true))
}

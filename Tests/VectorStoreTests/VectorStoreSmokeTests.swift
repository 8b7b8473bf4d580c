import Testing

@testable import VectorStore

@Test func moduleLinks() {
    #expect(Bool(true))
}

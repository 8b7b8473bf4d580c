import Testing

@testable import Evaluation

@Test func moduleLinks() {
    #expect(Bool(true))
}

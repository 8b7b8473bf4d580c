/// A mistake in the benchmark's input (flags, query file); the message says what to fix.
public struct BenchError: Error, Equatable, CustomStringConvertible, Sendable {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// A `host:port` target; IPv6 literals go in brackets (`[::1]:50051`).
public struct ServerAddress: Equatable, Sendable, CustomStringConvertible {
    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init(parsing text: String) throws(BenchError) {
        let text = text.trimmingSpaces
        let hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"),
                text.index(after: close) < text.endIndex, text[text.index(after: close)] == ":"
            else {
                throw BenchError("--target \"\(text)\": an IPv6 target must look like [::1]:50051")
            }
            hostPart = text[text.index(after: text.startIndex)..<close]
            portPart = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw BenchError("--target \"\(text)\" has no port: use host:port, e.g. 127.0.0.1:50051")
            }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
            if hostPart.contains(":") {
                throw BenchError("--target \"\(text)\": put an IPv6 address in brackets, e.g. [::1]:50051")
            }
        }
        guard !hostPart.isEmpty else {
            throw BenchError("--target \"\(text)\" has no host: use host:port, e.g. 127.0.0.1:50051")
        }
        guard let port = Int(portPart), (1...65535).contains(port) else {
            throw BenchError("--target \"\(text)\": port \"\(portPart)\" must be a number from 1 to 65535")
        }
        self.host = String(hostPart)
        self.port = port
    }

    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// A `host:port` target; IPv6 literals go in brackets (`[::1]:50051`). The one parser of the
/// `cascade` client's `--server` and cascade-bench's `--target`.
public struct ServerAddress: Equatable, Sendable, CustomStringConvertible {
    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `flag` names the option in the messages, which say what to write instead.
    public init(parsing text: String, flag: String = "--target") throws(AddressError) {
        let text = String(text.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
        let hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"),
                text.index(after: close) < text.endIndex, text[text.index(after: close)] == ":"
            else {
                throw AddressError("\(flag) \"\(text)\": an IPv6 target must look like [::1]:50051")
            }
            hostPart = text[text.index(after: text.startIndex)..<close]
            portPart = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw AddressError("\(flag) \"\(text)\" has no port: use host:port, e.g. 127.0.0.1:50051")
            }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
            if hostPart.contains(":") {
                throw AddressError("\(flag) \"\(text)\": put an IPv6 address in brackets, e.g. [::1]:50051")
            }
        }
        guard !hostPart.isEmpty else {
            throw AddressError("\(flag) \"\(text)\" has no host: use host:port, e.g. 127.0.0.1:50051")
        }
        guard let port = Int(portPart), (1...65535).contains(port) else {
            throw AddressError("\(flag) \"\(text)\": port \"\(portPart)\" must be a number from 1 to 65535")
        }
        self.host = String(hostPart)
        self.port = port
    }

    /// An IPv6 literal (the host held brackets), which gRPC targets name apart from DNS names.
    public var isIPv6: Bool { host.contains(":") }

    public var description: String {
        isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// A `host:port` that is not one; the message names the flag and shows the right form.
public struct AddressError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

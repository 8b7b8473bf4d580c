import Foundation
import GRPCCore
import NIOCore

/// A port the server could not listen on, in a user's words rather than as NIO's bind error
/// (`transportError: "Server transport threw an error." (cause: "bind(...): Address already in
/// use) (errno: 98)")`), naming which of its two listeners failed.
public struct ListenError: Error, CustomStringConvertible {
    public var listener: String
    public var host: String
    public var port: Int
    public var errno: CInt

    public var description: String {
        let reason =
            switch errno {
            case EADDRINUSE:
                "the address is in use (another process listens there; port 0 lets the kernel pick a free one)"
            case EACCES: "permission denied (ports below 1024 need privileges)"
            case EADDRNOTAVAIL: "no interface of this machine has that address"
            default: String(cString: strerror(errno))
            }
        return "cannot listen for \(listener) on \(host):\(port): \(reason)"
    }

    /// The error `body` throws, as a ListenError when a bind failed under it.
    static func naming<T>(
        _ listener: String, host: String, port: Int, _ body: () async throws -> T
    ) async throws -> T {
        do {
            return try await body()
        } catch {
            guard let errno = bindErrno(in: error) else { throw error }
            throw ListenError(listener: listener, host: host, port: port, errno: errno)
        }
    }

    /// The errno of a failed bind, looked for through the causes grpc-swift wraps it in.
    private static func bindErrno(in error: any Error) -> CInt? {
        var next: (any Error)? = error
        for _ in 0..<8 {
            switch next {
            case let io as IOError: return io.description.hasPrefix("bind(") ? io.errnoCode : nil
            case let rpc as RPCError: next = rpc.cause
            case let runtime as RuntimeError: next = runtime.cause
            default: return nil
            }
        }
        return nil
    }
}

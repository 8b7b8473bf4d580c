import Cascade
import GRPCCore

/// The one mapping of the pipeline's errors to gRPC statuses; grpc-swift converts a thrown
/// `CascadeError` with it, and the service's metrics and log lines read the same code.
extension CascadeError: RPCErrorConvertible {
    public var rpcErrorCode: RPCError.Code {
        switch self {
        case .invalidArgument, .unknownIds: return .invalidArgument
        case .failedPrecondition: return .failedPrecondition
        case .overloaded: return .resourceExhausted
        case .deadlineExceeded: return .deadlineExceeded
        case .shutDown: return .unavailable
        case .configuration: return .internalError
        }
    }

    public var rpcErrorMessage: String { description }

    public var rpcErrorMetadata: Metadata {
        guard case .overloaded(let refusal) = self else { return [:] }
        // gRPC's own retry throttling reads this trailer: clients back off instead of
        // hammering a full server with calls it will refuse.
        let milliseconds =
            refusal.retryAfter.components.seconds * 1000
            + refusal.retryAfter.components.attoseconds / 1_000_000_000_000_000
        return ["grpc-retry-pushback-ms": .string(String(max(1, milliseconds)))]
    }
}

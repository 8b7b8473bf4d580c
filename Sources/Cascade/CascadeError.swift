/// What the pipeline refuses or fails at. The server maps each case to one gRPC status code;
/// errors thrown by the models or the store pass through unchanged.
public enum CascadeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Bad input; `field` is the request field at fault (`query`, `retrieve_k`, `passages[3].id`, ...).
    case invalidArgument(field: String, message: String)
    /// The request needs something this server was not configured with (a reranker).
    case failedPrecondition(String)
    /// Refused at admission, before any model work ran for it (RESOURCE_EXHAUSTED).
    case overloaded(Refusal)
    /// The request's deadline passed while its work waited; the work was dropped unrun.
    case deadlineExceeded(String)
    /// Delete named ids the store does not hold; nothing was deleted.
    case unknownIds([String])
    /// The pipeline is shutting down and takes no new work.
    case shutDown
    /// The models and the store do not belong together (at start-up).
    case configuration(String)

    public var description: String {
        switch self {
        case .invalidArgument(_, let message): return message
        case .failedPrecondition(let message): return message
        case .overloaded(let refusal): return refusal.message
        case .deadlineExceeded(let message): return message
        case .unknownIds(let ids):
            let shown = ids.prefix(5).map { "\"\($0)\"" }.joined(separator: ", ")
            let more = ids.count > 5 ? " and \(ids.count - 5) more" : ""
            return "ids not in the corpus: \(shown)\(more); nothing was deleted"
        case .shutDown: return "server is shutting down"
        case .configuration(let message): return message
        }
    }

    /// The request field at fault, for invalid arguments.
    public var field: String? {
        switch self {
        case .invalidArgument(let field, _): return field
        case .unknownIds: return "ids"
        default: return nil
        }
    }
}

/// Why and for how long the scheduler turned a request away.
public struct Refusal: Sendable, Equatable {
    public enum Reason: String, Sendable, CaseIterable {
        /// `queue_capacity` requests were already admitted.
        case queueFull = "queue_full"
        /// More than `max_queue_ms` of admitted work was ahead of it.
        case queueTime = "queue_time"
        /// It would have finished after its deadline.
        case deadline
    }

    public var reason: Reason
    public var message: String
    /// When the same request would likely be admitted, by the scheduler's estimate (sent to
    /// gRPC callers as `grpc-retry-pushback-ms`).
    public var retryAfter: Duration

    public init(reason: Reason, message: String, retryAfter: Duration) {
        self.reason = reason
        self.message = message
        self.retryAfter = retryAfter
    }
}

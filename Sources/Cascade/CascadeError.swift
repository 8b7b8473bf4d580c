/// What the pipeline refuses or fails at. The server maps each case to one gRPC status code;
/// errors thrown by the models or the store pass through unchanged.
public enum CascadeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Bad input; `field` is the request field at fault (`query`, `retrieve_k`, `passages[3].id`, ...).
    case invalidArgument(field: String, message: String)
    /// The request needs something this server was not configured with (a reranker).
    case failedPrecondition(String)
    /// The model queue is full; the request did not run.
    case overloaded(capacity: Int)
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
        case .overloaded(let capacity):
            return "server overloaded: \(capacity) model runs are already waiting; retry later"
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

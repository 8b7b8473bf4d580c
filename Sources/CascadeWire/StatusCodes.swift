/// gRPC's canonical status code names, as `grpc-status` numbers them and other gRPC tools print
/// them: the server's metrics and logs, `cascade query` and cascade-bench all name codes so.
public enum StatusCodes {
    static let names = [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
        "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ]

    /// `STATUS_<n>` for a number gRPC does not define.
    public static func name(_ code: Int) -> String {
        names.indices.contains(code) ? names[code] : "STATUS_\(code)"
    }
}

import GRPCCore

/// Requires `authorization: Bearer <key>` on every call except those to `exemptServices`
/// (health checks by default: probes from load balancers and Kubernetes carry no credentials).
public struct APIKeyInterceptor: ServerInterceptor {
    private let key: [UInt8]
    private let exemptServices: Set<String>
    private let onReject: @Sendable (MethodDescriptor) -> Void

    public init(
        key: String, exemptServices: Set<String> = ["grpc.health.v1.Health"],
        onReject: @escaping @Sendable (MethodDescriptor) -> Void = { _ in }
    ) {
        self.key = Array(key.utf8)
        self.exemptServices = exemptServices
        self.onReject = onReject
    }

    public func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        if exemptServices.contains(context.descriptor.service.fullyQualifiedService) {
            return try await next(request, context)
        }
        guard let header = request.metadata[stringValues: "authorization"].first(where: { _ in true }) else {
            onReject(context.descriptor)
            throw RPCError(
                code: .unauthenticated, message: "missing API key: send metadata 'authorization: Bearer <key>'")
        }
        guard let presented = Self.bearerToken(header), Self.constantTimeEqual(Array(presented.utf8), key) else {
            onReject(context.descriptor)
            throw RPCError(code: .unauthenticated, message: "invalid API key")
        }
        return try await next(request, context)
    }

    /// The token of a `Bearer` credential (scheme case-insensitive, as RFC 7235 says).
    static func bearerToken(_ header: String) -> Substring? {
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].drop(while: { $0 == " " })
    }

    /// Compares without an early exit, so response time does not leak how much of a key matched.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= x ^ y
        }
        return difference == 0
    }
}

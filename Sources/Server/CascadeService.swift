import Cascade
import CascadeAPI
import GRPCCore
import Logging
import OTel
import Tracing
import VectorStore

/// `cascade.v1.Cascade` over a `Pipeline`. Each call gets a request id (the caller's
/// `x-request-id`, else a fresh one, echoed back in the response metadata), one structured log
/// line with its stage times (and, when traced, its trace and span ids), a count and stage
/// histograms in the metrics, and a span per call and per stage (`RequestTracing`).
public struct CascadeService: Cascade_V1_Cascade.ServiceProtocol {
    public let pipeline: Pipeline
    public let metrics: ServerMetrics
    public let logger: Logger
    public let version: String
    public let tracing: RequestTracing
    /// True once the server began a graceful shutdown: calls in flight are then left to finish.
    let draining: @Sendable () -> Bool

    public init(
        pipeline: Pipeline, metrics: ServerMetrics, logger: Logger, version: String = CascadeServer.version,
        tracing: RequestTracing = .off, draining: @escaping @Sendable () -> Bool = { false }
    ) {
        self.tracing = tracing
        self.pipeline = pipeline
        self.metrics = metrics
        self.logger = logger
        self.version = version
        self.draining = draining
    }

    public func search(
        request: ServerRequest<Cascade_V1_SearchRequest>, context: ServerContext
    ) async throws -> ServerResponse<Cascade_V1_SearchResponse> {
        let pipeline = self.pipeline
        return await handle("Search", request) { message, deadline in
            let result = try await pipeline.search(SearchRequest(message, rules: pipeline.rules), deadline: deadline)
            return (Cascade_V1_SearchResponse(result), result.trace)
        }
    }

    public func embed(
        request: ServerRequest<Cascade_V1_EmbedRequest>, context: ServerContext
    ) async throws -> ServerResponse<Cascade_V1_EmbedResponse> {
        let pipeline = self.pipeline
        return await handle("Embed", request) { message, deadline in
            let result = try await pipeline.embed(EmbedRequest(message, rules: pipeline.rules), deadline: deadline)
            let response = Cascade_V1_EmbedResponse.with {
                $0.embeddings = result.vectors.map { vector in .with { $0.values = vector } }
                $0.dimension = UInt32(result.dimension)
                $0.timing = Cascade_V1_Timing(result.trace)
            }
            return (response, result.trace)
        }
    }

    public func rerank(
        request: ServerRequest<Cascade_V1_RerankRequest>, context: ServerContext
    ) async throws -> ServerResponse<Cascade_V1_RerankResponse> {
        let pipeline = self.pipeline
        return await handle("Rerank", request) { message, deadline in
            let result = try await pipeline.rerank(RerankRequest(message, rules: pipeline.rules), deadline: deadline)
            let response = Cascade_V1_RerankResponse.with {
                $0.hits = result.hits.map { hit in
                    .with {
                        $0.id = hit.id
                        $0.score = hit.score
                        $0.index = UInt32(hit.index)
                        $0.rank = UInt32(hit.rank)
                    }
                }
                $0.timing = Cascade_V1_Timing(result.trace)
                $0.cacheHits = UInt32(result.cacheHits)
            }
            return (response, result.trace)
        }
    }

    public func upsert(
        request: ServerRequest<Cascade_V1_UpsertRequest>, context: ServerContext
    ) async throws -> ServerResponse<Cascade_V1_UpsertResponse> {
        let pipeline = self.pipeline
        return await handle("Upsert", request) { message, deadline in
            let result = try await pipeline.upsert(UpsertRequest(message, rules: pipeline.rules), deadline: deadline)
            let response = Cascade_V1_UpsertResponse.with {
                $0.upserted = UInt32(result.count)
                $0.corpusSize = UInt64(result.corpusSize)
                $0.timing = Cascade_V1_Timing(result.trace)
            }
            return (response, result.trace)
        }
    }

    public func delete(
        request: ServerRequest<Cascade_V1_DeleteRequest>, context: ServerContext
    ) async throws -> ServerResponse<Cascade_V1_DeleteResponse> {
        let pipeline = self.pipeline
        return await handle("Delete", request) { message, _ in
            let result = try await pipeline.delete(DeleteRequest(message, rules: pipeline.rules))
            let response = Cascade_V1_DeleteResponse.with {
                $0.deleted = UInt32(result.count)
                $0.corpusSize = UInt64(result.corpusSize)
                $0.timing = Cascade_V1_Timing(result.trace)
            }
            return (response, result.trace)
        }
    }

    public func info(
        request: ServerRequest<Cascade_V1_InfoRequest>, context: ServerContext
    ) async throws -> ServerResponse<Cascade_V1_InfoResponse> {
        let (pipeline, version) = (self.pipeline, self.version)
        return await handle("Info", request) { _, _ in
            (Cascade_V1_InfoResponse(pipeline.info(), version: version), nil)
        }
    }

    /// Runs one call: request id, cancellation (the RPC's cancellation, e.g. its deadline, cancels
    /// the work so waiting model work is dropped), error mapping, metrics and the log line. `body`
    /// gets the call's deadline, by which the scheduler admits or refuses it.
    private func handle<Request: Sendable, Response: Sendable>(
        _ method: String, _ request: ServerRequest<Request>,
        _ body: @escaping @Sendable (Request, ContinuousClock.Instant?) async throws -> (Response, Trace?)
    ) async -> ServerResponse<Response> {
        await tracing.withCallSpan(method, metadata: request.metadata) { span in
            await handle(method, request, span: span, body)
        }
    }

    private func handle<Request: Sendable, Response: Sendable>(
        _ method: String, _ request: ServerRequest<Request>, span: any Span,
        _ body: @escaping @Sendable (Request, ContinuousClock.Instant?) async throws -> (Response, Trace?)
    ) async -> ServerResponse<Response> {
        let start = ContinuousClock.now
        let requestID = RequestID.from(request.metadata)
        let message = request.message
        let cancellation = CallCancellation(
            timeout: RequestID.timeout(in: request.metadata), opened: CallClock.opened ?? start, draining: draining)
        let outcome: Result<(Response, Trace?), RPCError>
        do {
            let deadline = cancellation.deadline
            outcome = .success(try await cancellation.run { try await body(message, deadline) })
        } catch {
            outcome = .failure(Self.rpcError(from: error, cancelled: cancellation.reason))
        }
        let elapsed = start.duration(to: .now)
        let responseMetadata: Metadata = ["x-request-id": .string(requestID)]
        span.attributes["cascade.request_id"] = requestID
        switch outcome {
        case .success(let (response, trace)):
            if let trace { tracing.recordStages(of: trace, under: span) }
            metrics.record(method: method, code: nil, trace: trace ?? Self.totalOnly(elapsed))
            log(method: method, requestID: requestID, code: nil, message: nil, trace: trace, elapsed: elapsed)
            return ServerResponse(message: response, metadata: responseMetadata)
        case .failure(var error):
            span.attributes["rpc.grpc.status_code"] = error.code.rawValue
            span.setStatus(SpanStatus(code: .error, message: error.message))
            metrics.record(method: method, code: error.code, trace: Self.totalOnly(elapsed))
            log(
                method: method, requestID: requestID, code: error.code, message: error.message, trace: nil,
                elapsed: elapsed)
            error.metadata.addString(requestID, forKey: "x-request-id")
            return ServerResponse(error: error)
        }
    }

    private static let traceIDs = OTel.makeLoggingMetadataProvider()

    private static func totalOnly(_ elapsed: Duration) -> Trace {
        var trace = Trace()
        trace.total = elapsed
        return trace
    }

    /// The status a failed call ends with: a `CascadeError` or `RPCError` carries its own; a
    /// cancellation says whether its deadline or its caller ended it.
    static func rpcError(from error: any Error, cancelled reason: CallCancellation.Reason?) -> RPCError {
        switch error {
        case let error as any RPCErrorConvertible:
            return RPCError(error)
        case is CancellationError:
            switch reason {
            case .deadline: return RPCError(code: .deadlineExceeded, message: "deadline exceeded; its work was stopped")
            case .shutdown:
                return RPCError(
                    code: .unavailable,
                    message: "the server shut down before the call finished; its work was stopped (nothing of an "
                        + "Upsert or Delete was written): retry against a running server")
            case .cancelled, nil: return RPCError(code: .cancelled, message: "call cancelled; its work was stopped")
            }
        default:
            return RPCError(code: .internalError, message: String(describing: error))
        }
    }

    private func log(
        method: String, requestID: String, code: RPCError.Code?, message: String?, trace: Trace?, elapsed: Duration
    ) {
        var fields: Logger.Metadata = [
            "request_id": .string(requestID), "method": .string(method),
            "code": .string(ServerMetrics.name(of: code)),
        ]
        if let trace {
            for stage in Stage.allCases where stage != .total && trace[stage] > .zero {
                fields["\(stage.rawValue)_us"] = .stringConvertible(trace.microseconds(stage))
            }
        }
        fields["total_us"] = .stringConvertible(Self.totalOnly(elapsed).microseconds(.total))
        if let message { fields["error"] = .string(message) }
        // The current span's ids (trace_id, span_id): a log line leads to its trace.
        fields.merge(Self.traceIDs.get()) { own, _ in own }
        let level: Logger.Level = code == .internalError || code == .unknown ? .error : .info
        logger.log(level: level, "rpc", metadata: fields)
    }
}

/// Request ids and the caller's deadline, from call metadata.
enum RequestID {
    static func from(_ metadata: Metadata) -> String {
        // Only visible ASCII is taken as given: the id goes into log lines, where a newline or a
        // terminal escape would forge or garble them.
        if let given = metadata[stringValues: "x-request-id"].first(where: { _ in true }),
            !given.isEmpty, given.utf8.count <= 128, given.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
        {
            return given
        }
        let bits = UInt64.random(in: .min ... .max)
        let hex = String(bits, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The `grpc-timeout` header: up to 8 digits and a unit (H, M, S, m, u, n).
    static func timeout(in metadata: Metadata) -> Duration? {
        guard let value = metadata[stringValues: "grpc-timeout"].first(where: { _ in true }),
            let unit = value.last, let amount = Int64(value.dropLast()), amount >= 0
        else { return nil }
        switch unit {
        case "H": return .seconds(amount * 3600)
        case "M": return .seconds(amount * 60)
        case "S": return .seconds(amount)
        case "m": return .milliseconds(amount)
        case "u": return .microseconds(amount)
        case "n": return .nanoseconds(amount)
        default: return nil
        }
    }
}

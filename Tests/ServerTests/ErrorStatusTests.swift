import Cascade
import GRPCCore
import Testing

@testable import Server

/// Each pipeline error carries its gRPC status (`RPCErrorConvertible`): what grpc-swift sends for
/// a thrown `CascadeError`, and what the service's metrics and log lines count.
@Suite struct ErrorStatusTests {
    @Test(arguments: [
        (
            CascadeError.invalidArgument(field: "top_n", message: "top_n must be at most 1000"),
            RPCError.Code.invalidArgument
        ),
        (.unknownIds(["a"]), .invalidArgument),
        (.failedPrecondition("no reranker"), .failedPrecondition),
        (.deadlineExceeded("deadline passed while queued"), .deadlineExceeded),
        (.shutDown, .unavailable),
        (.configuration("dimension mismatch"), .internalError),
    ])
    func eachCaseHasItsCodeAndItsMessage(error: CascadeError, code: RPCError.Code) {
        let converted = CascadeService.rpcError(from: error, cancelled: nil)
        #expect(converted.code == code)
        #expect(converted.message == error.description)
        #expect(RPCError(error) == converted)
        #expect(converted.metadata.isEmpty)
    }

    @Test func anOverloadTellsTheCallerWhenToRetry() {
        let refusal = Refusal(reason: .queueFull, message: "queue full", retryAfter: .milliseconds(250.4))
        let converted = RPCError(CascadeError.overloaded(refusal))
        #expect(converted.code == .resourceExhausted && converted.message == "queue full")
        #expect(Array(converted.metadata[stringValues: "grpc-retry-pushback-ms"]) == ["250"])
        let soon = RPCError(CascadeError.overloaded(Refusal(reason: .deadline, message: "late", retryAfter: .zero)))
        #expect(Array(soon.metadata[stringValues: "grpc-retry-pushback-ms"]) == ["1"])
    }

    @Test func cancellationsAndOtherErrorsKeepTheirStatus() {
        #expect(CascadeService.rpcError(from: CancellationError(), cancelled: .deadline).code == .deadlineExceeded)
        #expect(CascadeService.rpcError(from: CancellationError(), cancelled: nil).code == .cancelled)
        let passed = RPCError(code: .notFound, message: "gone")
        #expect(CascadeService.rpcError(from: passed, cancelled: nil) == passed)
    }
}

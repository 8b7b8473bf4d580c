import ArgumentParser
import Foundation
import Logging
import Server
import Transformer

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve an index over gRPC (cascade.v1.Cascade, grpc.health.v1.Health) until SIGTERM or SIGINT.",
        discussion: """
            Settings come from --config (JSON, snake_case keys; see deploy/server.example.json), then \
            the flags, which override the file. Once listening, prints `listening on HOST:PORT` on \
            stdout (the real port when --port 0 asked for an ephemeral one). Logs go to stderr, one \
            line per request. SIGTERM or SIGINT drains the calls in flight and exits 0; a second \
            signal cancels what is still running. With --otel-endpoint, each call is a span (a child \
            of the caller's when it sends a W3C traceparent) with a span per stage, sent over OTLP/gRPC.
            """
    )

    @Option(help: "A JSON config file; the flags below override its values.")
    var config: String?

    @Option(help: "The index (store) directory, built with `cascade index`.")
    var store: String?

    @Option(help: "The bi-encoder the index was built with.")
    var retriever: String?

    @Option(help: "A cross-encoder folder; without one the server does retrieval only.")
    var reranker: String?

    @Option(help: "A safetensors classification head to put on --reranker when that is a bare encoder.")
    var rerankerHead: String?

    @Option(help: "The address to listen on (default 127.0.0.1).")
    var host: String?

    @Option(help: "The gRPC port (default 50051; 0: an ephemeral port).")
    var port: Int?

    @Option(help: "Serve Prometheus /metrics over HTTP on this port (0: ephemeral).")
    var metricsPort: Int?

    @Option(help: "A file holding the API key callers must send as `authorization: Bearer <key>`.")
    var apiKeyFile: String?

    @Option(help: "PEM certificate chain: serve TLS (with --tls-key).")
    var tlsCert: String?

    @Option(help: "PEM private key for --tls-cert.")
    var tlsKey: String?

    @Option(help: "Requests admitted to the model scheduler at once; more are refused with RESOURCE_EXHAUSTED.")
    var queueCapacity: Int?

    @Option(help: "The retriever's linear layers: fp32, fp16 or int8 (quantized while loading).")
    var retrieverPrecision: Precision?

    @Option(help: "The reranker's linear layers: fp32, fp16 or int8 (quantized while loading).")
    var rerankerPrecision: Precision?

    @Option(help: "Threads for one model run or vector scan (default: all cores).")
    var computeThreads: Int?

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String?

    @Option(help: "Send spans over OTLP/gRPC to this collector, http://HOST:PORT (default: no tracing).")
    var otelEndpoint: String?

    @Option(help: "The share of new traces sent, 0...1 (default 1); a caller's sampled trace is always continued.")
    var otelSampling: Double?

    @Flag(help: "Open the index read-only (replicas sharing one copy); Upsert and Delete are refused.")
    var readOnly = false

    func run() async throws {
        var loaded = ServerConfig()
        do {
            if let config { loaded = try ServerConfig.load(from: URL(fileURLWithPath: config)) }
            loaded.apply(overrides)
            try loaded.validate()
        } catch let error as ServerConfigError {
            throw ValidationError(error.description)
        }
        let settings = loaded
        let level = Logger.Level(rawValue: settings.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "cascade.server")

        let server: CascadeServer
        do {
            server = try CascadeServer.load(config: settings, logger: logger)
        } catch {
            throw CommandFailure(message: "cannot start the server: \(error)")
        }
        do {
            try await server.run(handlingSignals: true) { addresses in
                // Written straight to the descriptor (no stdio buffer), so a script or test reading a
                // pipe sees the port at once.
                var lines = "listening on \(addresses.host):\(addresses.port)\n"
                if let metricsPort = addresses.metricsPort {
                    lines += "metrics on http://\(settings.metricsHost ?? addresses.host):\(metricsPort)/metrics\n"
                }
                FileHandle.standardOutput.write(Data(lines.utf8))
            }
        } catch let error as ListenError {
            throw CommandFailure(message: error.description)
        }
    }

    var overrides: ServerConfig.Overrides {
        var overrides = ServerConfig.Overrides()
        overrides.host = host
        overrides.port = port
        overrides.metricsPort = metricsPort
        overrides.index = store
        overrides.retriever = retriever
        overrides.reranker = reranker
        overrides.rerankerHead = rerankerHead
        overrides.readOnly = readOnly ? true : nil
        overrides.tlsCertificate = tlsCert
        overrides.tlsKey = tlsKey
        overrides.apiKeyFile = apiKeyFile
        overrides.queueCapacity = queueCapacity
        overrides.retrieverPrecision = retrieverPrecision
        overrides.rerankerPrecision = rerankerPrecision
        overrides.computeThreads = computeThreads
        overrides.logLevel = logLevel
        overrides.otelEndpoint = otelEndpoint
        overrides.otelSampling = otelSampling
        return overrides
    }
}

/// A failure of the command's input rather than of its flags (a server that cannot start, a
/// corpus with nothing to index): its message on stderr and exit status 1, without
/// ArgumentParser's usage text, which belongs to exit status 64.
struct CommandFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

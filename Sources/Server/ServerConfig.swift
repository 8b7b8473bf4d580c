import Cascade
import Foundation
import Transformer

/// Everything `cascade serve` needs. Loaded from a JSON file (snake_case keys, every key
/// optional), then overridden by command-line flags (`Overrides`), then validated.
///
/// ```json
/// { "host": "0.0.0.0", "port": 50051, "metrics_port": 9464,
///   "index": "data/index", "retriever": "models/all-MiniLM-L6-v2",
///   "tls": { "certificate": "server.pem", "key": "server.key" },
///   "api_key_file": "/run/secrets/cascade-key",
///   "defaults": { "retrieve_k": 100, "rerank_k": 20, "top_n": 10 },
///   "limits": { "max_retrieve_k": 1000, "queue_capacity": 64 },
///   "scheduler": { "max_queue_ms": 5000, "rerank_batch_tokens": 256, "rerank_cache_bytes": 67108864 } }
/// ```
public struct ServerConfig: Sendable, Equatable {
    public struct TLS: Sendable, Equatable, Codable {
        /// PEM certificate chain.
        public var certificate: String
        /// PEM private key.
        public var key: String

        public init(certificate: String, key: String) {
            self.certificate = certificate
            self.key = key
        }
    }

    public var host = "127.0.0.1"
    /// 0: an ephemeral port (the server reports the one it bound).
    public var port = 50051
    /// Prometheus `/metrics` over plain HTTP; nil: no metrics endpoint; 0: ephemeral.
    public var metricsPort: Int?
    /// Defaults to `host`.
    public var metricsHost: String?
    /// The LMDB index folder.
    public var index: String?
    /// The bi-encoder's model folder.
    public var retriever: String?
    /// The cross-encoder's model folder; nil: retrieval only.
    public var reranker: String?
    /// A safetensors classification head for `reranker` when that folder is a bare encoder.
    public var rerankerHead: String?
    /// Opens the index read-only (replicas sharing one copy): Upsert and Delete are refused.
    public var readOnly = false
    /// Weights each model's linear layers run with (quantized while loading).
    public var retrieverPrecision = Precision.fp32
    public var rerankerPrecision = Precision.fp32
    public var tls: TLS?
    /// Callers must send `authorization: Bearer <key>`; nil: no authentication.
    public var apiKey: String?
    /// A file holding the API key (whitespace trimmed), so the key stays out of argv and configs.
    public var apiKeyFile: String?
    public var defaults = SearchDefaults()
    public var limits = Limits()
    public var scheduler = SchedulerSettings()
    /// Largest request message accepted, in bytes (gRPC's default is 4 MiB).
    public var maxRequestBytes = 16 << 20
    /// How long shutdown waits for in-flight calls before cancelling them.
    public var shutdownGraceSeconds = 30.0
    /// Threads of the compute pool (one model run or scan at a time uses them all); nil: all cores.
    public var computeThreads: Int?
    /// swift-log level: trace, debug, info, notice, warning, error, critical.
    public var logLevel = "info"
    /// An OTLP/gRPC collector (`http://HOST:PORT`) to send spans to; nil: no tracing.
    public var otelEndpoint: String?
    /// The share of new traces kept (0...1); a caller's sampled trace is always continued.
    public var otelSampling = 1.0

    public init() {}

    /// Command-line values; each set one replaces the file's.
    public struct Overrides: Sendable, Equatable {
        public var host: String?
        public var port: Int?
        public var metricsPort: Int?
        public var index: String?
        public var retriever: String?
        public var reranker: String?
        public var rerankerHead: String?
        /// nil: keep the file's value.
        public var readOnly: Bool?
        public var tlsCertificate: String?
        public var tlsKey: String?
        public var apiKeyFile: String?
        public var queueCapacity: Int?
        public var retrieverPrecision: Precision?
        public var rerankerPrecision: Precision?
        public var computeThreads: Int?
        public var logLevel: String?
        public var otelEndpoint: String?
        public var otelSampling: Double?

        public init() {}
    }

    public mutating func apply(_ overrides: Overrides) {
        host = overrides.host ?? host
        port = overrides.port ?? port
        metricsPort = overrides.metricsPort ?? metricsPort
        index = overrides.index ?? index
        retriever = overrides.retriever ?? retriever
        reranker = overrides.reranker ?? reranker
        rerankerHead = overrides.rerankerHead ?? rerankerHead
        readOnly = overrides.readOnly ?? readOnly
        if overrides.tlsCertificate != nil || overrides.tlsKey != nil {
            tls = TLS(
                certificate: overrides.tlsCertificate ?? tls?.certificate ?? "",
                key: overrides.tlsKey ?? tls?.key ?? "")
        }
        apiKeyFile = overrides.apiKeyFile ?? apiKeyFile
        limits.queueCapacity = overrides.queueCapacity ?? limits.queueCapacity
        retrieverPrecision = overrides.retrieverPrecision ?? retrieverPrecision
        rerankerPrecision = overrides.rerankerPrecision ?? rerankerPrecision
        computeThreads = overrides.computeThreads ?? computeThreads
        logLevel = overrides.logLevel ?? logLevel
        otelEndpoint = overrides.otelEndpoint ?? otelEndpoint
        otelSampling = overrides.otelSampling ?? otelSampling
    }

    /// Refuses a configuration the server could not run with; messages name the key.
    public func validate() throws {
        func fail(_ message: String) -> ServerConfigError { ServerConfigError.invalid(message) }
        if !(0...65535).contains(port) { throw fail("port must be in 0...65535 (got \(port))") }
        if let metricsPort, !(0...65535).contains(metricsPort) {
            throw fail("metrics_port must be in 0...65535 (got \(metricsPort))")
        }
        if index == nil {
            throw fail("index is not set: give the index folder (--store, or \"index\" in the config file)")
        }
        if retriever == nil {
            throw fail(
                "retriever is not set: give the bi-encoder's model folder (--retriever, or \"retriever\" in the config file)"
            )
        }
        if rerankerHead != nil && reranker == nil {
            throw fail("reranker_head is set but reranker is not: the head goes on the reranker's encoder folder")
        }
        if let tls {
            if tls.certificate.isEmpty { throw fail("tls.certificate is not set (a PEM certificate chain)") }
            if tls.key.isEmpty { throw fail("tls.key is not set (a PEM private key)") }
        }
        if apiKey != nil && apiKeyFile != nil { throw fail("set api_key or api_key_file, not both") }
        if let apiKey, apiKey.isEmpty { throw fail("api_key must not be empty") }
        if maxRequestBytes < 1024 { throw fail("max_request_bytes must be at least 1024 (got \(maxRequestBytes))") }
        if !(shutdownGraceSeconds >= 0) {
            throw fail("shutdown_grace_seconds must not be negative (got \(shutdownGraceSeconds))")
        }
        if let computeThreads, computeThreads < 1 {
            throw fail("compute_threads must be at least 1 (got \(computeThreads))")
        }
        if Self.logLevels[logLevel] == nil {
            throw fail(
                "log_level must be one of \(Self.logLevels.keys.sorted().joined(separator: ", ")) (got \(logLevel))")
        }
        if let otelEndpoint {
            let scheme = otelEndpoint.split(separator: ":", maxSplits: 1).first ?? ""
            guard scheme == "http" || scheme == "https",
                let url = URLComponents(string: otelEndpoint), url.host?.isEmpty == false, url.port != nil
            else {
                throw fail("otel_endpoint must be http://HOST:PORT or https://HOST:PORT (got \(otelEndpoint))")
            }
        }
        if !(0...1).contains(otelSampling) {
            throw fail("otel_sampling must be in 0...1 (got \(otelSampling))")
        }
        do {
            try limits.validate()
            try scheduler.validate()
        } catch let error as CascadeError {
            throw fail(error.description)
        }
    }

    /// What the pipeline runs with (which sets the default `rerank_k` to 0 without a reranker).
    public var pipelineConfiguration: PipelineConfiguration {
        PipelineConfiguration(defaults: defaults, limits: limits, scheduler: scheduler)
    }

    /// The API key, read from `apiKeyFile` when that is set.
    public func resolvedAPIKey() throws -> String? {
        guard let apiKeyFile else { return apiKey }
        let text: String
        do {
            text = try String(contentsOfFile: apiKeyFile, encoding: .utf8)
        } catch {
            throw ServerConfigError.unreadable(path: apiKeyFile, reason: "\(error.localizedDescription)")
        }
        let key = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if key.isEmpty { throw ServerConfigError.invalid("api_key_file \(apiKeyFile) is empty") }
        return key
    }

    static let logLevels: [String: Int] = [
        "trace": 0, "debug": 1, "info": 2, "notice": 3, "warning": 4, "error": 5, "critical": 6,
    ]
}

public enum ServerConfigError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    /// A bad value or an unknown key; the message names the key (and the file, when from one).
    case invalid(String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "cannot read \(path): \(reason)"
        case .invalid(let message): return message
        }
    }
}

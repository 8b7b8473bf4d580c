import Cascade
import Foundation
import Tokenization
import Transformer

extension ServerConfig {
    /// Reads a JSON config file. Unknown keys are refused (a misspelt limit would otherwise be
    /// silently ignored); every error names the file and the key.
    public static func load(from url: URL) throws -> ServerConfig {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ServerConfigError.unreadable(path: url.path, reason: error.localizedDescription)
        }
        return try parse(data, source: url.path)
    }

    /// Parses a JSON config; `source` names it in error messages.
    public static func parse(_ data: Data, source: String = "config") throws -> ServerConfig {
        do {
            return try JSONFile.decode(File.self, from: data).config
        } catch {
            if error.path.isEmpty, error.reason.hasPrefix("must be") {
                throw ServerConfigError.invalid("\(source): the top level must be a JSON object")
            }
            throw ServerConfigError.invalid("\(source): \(error.description)")
        }
    }

    /// The config file's format: snake_case keys, each optional (a missing key keeps its default),
    /// unknown ones refused.
    struct File: Decodable {
        var config = ServerConfig()

        enum Keys: String, CodingKey, CaseIterable {
            case host, port, index, retriever, reranker, tls, defaults, limits, scheduler
            case metricsPort = "metrics_port", metricsHost = "metrics_host", rerankerHead = "reranker_head"
            case readOnly = "read_only", retrieverPrecision = "retriever_precision"
            case rerankerPrecision = "reranker_precision", apiKey = "api_key", apiKeyFile = "api_key_file"
            case maxRequestBytes = "max_request_bytes", shutdownGraceSeconds = "shutdown_grace_seconds"
            case computeThreads = "compute_threads", logLevel = "log_level", otelEndpoint = "otel_endpoint"
            case otelSampling = "otel_sampling"
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.strictContainer(keyedBy: Keys.self)
            config.host = try c.string(.host) ?? config.host
            config.port = try c.int(.port) ?? config.port
            config.metricsPort = try c.int(.metricsPort)
            config.metricsHost = try c.string(.metricsHost)
            config.index = try c.string(.index)
            config.retriever = try c.string(.retriever)
            config.reranker = try c.string(.reranker)
            config.rerankerHead = try c.string(.rerankerHead)
            config.readOnly = try c.value(Bool.self, .readOnly, else: "must be true or false") ?? config.readOnly
            for (key, path) in [
                (Keys.retrieverPrecision, \ServerConfig.retrieverPrecision), (.rerankerPrecision, \.rerankerPrecision),
            ] {
                guard let name = try c.string(key) else { continue }
                guard let precision = Precision(rawValue: name) else {
                    throw c.failure(key, "must be fp32, fp16 or int8 (got \"\(name)\")")
                }
                config[keyPath: path] = precision
            }
            config.apiKey = try c.string(.apiKey)
            config.apiKeyFile = try c.string(.apiKeyFile)
            config.maxRequestBytes = try c.int(.maxRequestBytes) ?? config.maxRequestBytes
            config.shutdownGraceSeconds = try c.number(.shutdownGraceSeconds) ?? config.shutdownGraceSeconds
            config.computeThreads = try c.int(.computeThreads)
            config.logLevel = try c.string(.logLevel) ?? config.logLevel
            config.otelEndpoint = try c.string(.otelEndpoint)
            config.otelSampling = try c.number(.otelSampling) ?? config.otelSampling
            config.tls = try c.value(TLSFile.self, .tls, else: "must be an object")?.tls
            if let defaults = try c.value(DefaultsFile.self, .defaults, else: "must be an object") {
                config.defaults = defaults.apply(to: config.defaults)
            }
            if let limits = try c.value(Section<Limits>.self, .limits, else: "must be an object") {
                config.limits = limits.apply(to: config.limits)
            }
            if let scheduler = try c.value(Section<SchedulerSettings>.self, .scheduler, else: "must be an object") {
                config.scheduler = scheduler.apply(to: config.scheduler)
            }
        }
    }

    struct TLSFile: Decodable {
        var tls: TLS

        enum Keys: String, CodingKey, CaseIterable { case certificate, key }

        init(from decoder: any Decoder) throws {
            let c = try decoder.strictContainer(keyedBy: Keys.self)
            // Missing halves are reported by `validate`, after command-line flags had their say.
            tls = TLS(certificate: try c.string(.certificate) ?? "", key: try c.string(.key) ?? "")
        }
    }

    struct DefaultsFile: Decodable {
        var retrieveK, rerankK, topN, rescoreK, nprobe: Int?

        enum Keys: String, CodingKey, CaseIterable {
            case retrieveK = "retrieve_k", rerankK = "rerank_k", topN = "top_n", rescoreK = "rescore_k", nprobe
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.strictContainer(keyedBy: Keys.self)
            (retrieveK, rerankK, topN) = (try c.int(.retrieveK), try c.int(.rerankK), try c.int(.topN))
            (rescoreK, nprobe) = (try c.int(.rescoreK), try c.int(.nprobe))
        }

        func apply(to defaults: SearchDefaults) -> SearchDefaults {
            var defaults = defaults
            defaults.retrieveK = retrieveK ?? defaults.retrieveK
            defaults.rerankK = rerankK ?? defaults.rerankK
            defaults.topN = topN ?? defaults.topN
            defaults.rescoreK = rescoreK ?? defaults.rescoreK
            defaults.nprobe = nprobe ?? defaults.nprobe
            return defaults
        }
    }

    /// A section of integer settings (`limits`, `scheduler`): the values its file sets, by key.
    struct Section<Settings: ConfigSection>: Decodable {
        var values: [(WritableKeyPath<Settings, Int>, Int)] = []

        init(from decoder: any Decoder) throws {
            try decoder.refuseUnknownKeys(known: Settings.fields.map(\.0))
            let c = try decoder.container(keyedBy: JSONFile.AnyKey.self)
            for (name, path) in Settings.fields {
                if let value = try c.int(JSONFile.AnyKey(name)) { values.append((path, value)) }
            }
        }

        func apply(to settings: Settings) -> Settings {
            var settings = settings
            for (path, value) in values { settings[keyPath: path] = value }
            return settings
        }
    }
}

/// A config section whose settings are all integers, with their file keys.
protocol ConfigSection {
    static var fields: [(String, WritableKeyPath<Self, Int>)] { get }
}

extension Limits: ConfigSection {
    static var fields: [(String, WritableKeyPath<Limits, Int>)] {
        [
            ("max_retrieve_k", \.maxRetrieveK), ("max_rerank_k", \.maxRerankK), ("max_top_n", \.maxTopN),
            ("max_query_bytes", \.maxQueryBytes), ("max_text_bytes", \.maxTextBytes),
            ("max_id_bytes", \.maxIdBytes), ("max_rerank_passages", \.maxRerankPassages),
            ("max_embed_texts", \.maxEmbedTexts), ("max_upsert_passages", \.maxUpsertPassages),
            ("max_delete_ids", \.maxDeleteIds), ("queue_capacity", \.queueCapacity),
            ("max_rerank_tokens", \.maxRerankTokens), ("max_encode_tokens", \.maxEncodeTokens),
        ]
    }
}

extension SchedulerSettings: ConfigSection {
    static var fields: [(String, WritableKeyPath<SchedulerSettings, Int>)] {
        [
            ("max_queue_ms", \.maxQueueMs), ("max_batch_tokens", \.maxBatchTokens),
            ("rerank_batch_tokens", \.rerankBatchTokens), ("aging_ms", \.agingMs),
            ("rerank_cache_bytes", \.rerankCacheBytes), ("model_nice", \.modelNice),
        ]
    }
}

/// The config file's scalar types, with the messages its tests promise.
extension KeyedDecodingContainer {
    fileprivate func string(_ key: Key) throws -> String? {
        try value(String.self, key, else: "must be a string")
    }

    /// Any JSON number (not a boolean, which JSON keeps apart).
    fileprivate func number(_ key: Key) throws -> Double? {
        try value(Double.self, key, else: "must be a number")
    }

    fileprivate func int(_ key: Key) throws -> Int? {
        guard let number = try number(key) else { return nil }
        guard number.rounded() == number, abs(number) < 1e15 else { throw failure(key, "must be an integer") }
        return Int(number)
    }
}

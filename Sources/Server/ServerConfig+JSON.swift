import Cascade
import Foundation
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
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ServerConfigError.invalid("\(source): not valid JSON (\(error.localizedDescription))")
        }
        guard let object = root as? [String: Any] else {
            throw ServerConfigError.invalid("\(source): the top level must be a JSON object")
        }
        let json = JSONObject(values: object, path: "", source: source)
        try json.refuseUnknownKeys([
            "host", "port", "metrics_port", "metrics_host", "index", "retriever", "reranker", "reranker_head",
            "read_only", "retriever_precision", "reranker_precision", "tls", "api_key",
            "api_key_file", "defaults", "limits", "scheduler", "max_request_bytes",
            "shutdown_grace_seconds", "compute_threads", "log_level", "otel_endpoint", "otel_sampling",
        ])
        var config = ServerConfig()
        config.host = try json.string("host") ?? config.host
        config.port = try json.int("port") ?? config.port
        config.metricsPort = try json.int("metrics_port")
        config.metricsHost = try json.string("metrics_host")
        config.index = try json.string("index")
        config.retriever = try json.string("retriever")
        config.reranker = try json.string("reranker")
        config.rerankerHead = try json.string("reranker_head")
        config.readOnly = try json.bool("read_only") ?? config.readOnly
        for (key, path) in [
            ("retriever_precision", \ServerConfig.retrieverPrecision), ("reranker_precision", \.rerankerPrecision),
        ] {
            guard let name = try json.string(key) else { continue }
            guard let precision = Precision(rawValue: name) else {
                throw ServerConfigError.invalid("\(source): \(key) must be fp32, fp16 or int8 (got \"\(name)\")")
            }
            config[keyPath: path] = precision
        }
        config.apiKey = try json.string("api_key")
        config.apiKeyFile = try json.string("api_key_file")
        config.maxRequestBytes = try json.int("max_request_bytes") ?? config.maxRequestBytes
        config.shutdownGraceSeconds = try json.double("shutdown_grace_seconds") ?? config.shutdownGraceSeconds
        config.computeThreads = try json.int("compute_threads")
        config.logLevel = try json.string("log_level") ?? config.logLevel
        config.otelEndpoint = try json.string("otel_endpoint")
        config.otelSampling = try json.double("otel_sampling") ?? config.otelSampling

        if let tls = try json.object("tls") {
            try tls.refuseUnknownKeys(["certificate", "key"])
            config.tls = TLS(certificate: try tls.string("certificate") ?? "", key: try tls.string("key") ?? "")
        }
        if let defaults = try json.object("defaults") {
            try defaults.refuseUnknownKeys(["retrieve_k", "rerank_k", "top_n", "rescore_k", "nprobe"])
            config.defaults.retrieveK = try defaults.int("retrieve_k") ?? config.defaults.retrieveK
            config.defaults.rerankK = try defaults.int("rerank_k") ?? config.defaults.rerankK
            config.defaults.topN = try defaults.int("top_n") ?? config.defaults.topN
            config.defaults.rescoreK = try defaults.int("rescore_k") ?? config.defaults.rescoreK
            config.defaults.nprobe = try defaults.int("nprobe") ?? config.defaults.nprobe
        }
        if let limits = try json.object("limits") {
            let fields: [(String, WritableKeyPath<Limits, Int>)] = [
                ("max_retrieve_k", \.maxRetrieveK), ("max_rerank_k", \.maxRerankK), ("max_top_n", \.maxTopN),
                ("max_query_bytes", \.maxQueryBytes), ("max_text_bytes", \.maxTextBytes),
                ("max_id_bytes", \.maxIdBytes), ("max_rerank_passages", \.maxRerankPassages),
                ("max_embed_texts", \.maxEmbedTexts), ("max_upsert_passages", \.maxUpsertPassages),
                ("max_delete_ids", \.maxDeleteIds), ("queue_capacity", \.queueCapacity),
                ("max_rerank_tokens", \.maxRerankTokens), ("max_encode_tokens", \.maxEncodeTokens),
            ]
            try limits.refuseUnknownKeys(Set(fields.map(\.0)))
            for (key, path) in fields {
                if let value = try limits.int(key) { config.limits[keyPath: path] = value }
            }
        }
        if let scheduler = try json.object("scheduler") {
            let fields: [(String, WritableKeyPath<SchedulerSettings, Int>)] = [
                ("max_queue_ms", \.maxQueueMs), ("max_batch_tokens", \.maxBatchTokens),
                ("rerank_batch_tokens", \.rerankBatchTokens), ("aging_ms", \.agingMs),
                ("rerank_cache_bytes", \.rerankCacheBytes), ("model_nice", \.modelNice),
            ]
            try scheduler.refuseUnknownKeys(Set(fields.map(\.0)))
            for (key, path) in fields {
                if let value = try scheduler.int(key) { config.scheduler[keyPath: path] = value }
            }
        }
        return config
    }
}

/// A decoded JSON object that names its source and key path in every error.
private struct JSONObject {
    let values: [String: Any]
    let path: String
    let source: String

    func key(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

    func wrong(_ name: String, _ expected: String) -> ServerConfigError {
        .invalid("\(source): \(key(name)) must be \(expected)")
    }

    func refuseUnknownKeys(_ known: Set<String>) throws {
        if let unknown = values.keys.sorted().first(where: { !known.contains($0) }) {
            throw ServerConfigError.invalid(
                "\(source): unknown key \(key(unknown)) (known: \(known.sorted().joined(separator: ", ")))")
        }
    }

    func string(_ name: String) throws -> String? {
        guard let value = values[name], !(value is NSNull) else { return nil }
        guard let string = value as? String else { throw wrong(name, "a string") }
        return string
    }

    func number(_ name: String) throws -> NSNumber? {
        guard let value = values[name], !(value is NSNull) else { return nil }
        // JSON booleans also bridge to NSNumber (and 0/1 to Bool), so tell them apart by type encoding.
        guard let number = value as? NSNumber, String(cString: number.objCType) != "c" else {
            throw wrong(name, "a number")
        }
        return number
    }

    func bool(_ name: String) throws -> Bool? {
        guard let value = values[name], !(value is NSNull) else { return nil }
        guard let number = value as? NSNumber, String(cString: number.objCType) == "c" else {
            throw wrong(name, "true or false")
        }
        return number.boolValue
    }

    func int(_ name: String) throws -> Int? {
        guard let number = try number(name) else { return nil }
        let double = number.doubleValue
        guard double.rounded() == double, abs(double) < 1e15 else { throw wrong(name, "an integer") }
        return Int(double)
    }

    func double(_ name: String) throws -> Double? {
        try number(name)?.doubleValue
    }

    func object(_ name: String) throws -> JSONObject? {
        guard let value = values[name], !(value is NSNull) else { return nil }
        guard let object = value as? [String: Any] else { throw wrong(name, "an object") }
        return JSONObject(values: object, path: key(name), source: source)
    }
}

import Foundation
import Testing

@testable import Server

@Suite struct ServerConfigTests {
    func parse(_ json: String) throws -> ServerConfig {
        try ServerConfig.parse(Data(json.utf8), source: "test.json")
    }

    func message(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func readsEveryKeyItKnows() throws {
        let config = try parse(
            """
            { "host": "0.0.0.0", "port": 7000, "metrics_port": 9464, "metrics_host": "127.0.0.1",
              "index": "idx", "retriever": "minilm", "reranker": "ce", "reranker_precision": "int8",
              "tls": { "certificate": "c.pem", "key": "k.pem" }, "api_key_file": "key.txt",
              "defaults": { "retrieve_k": 50, "rerank_k": 10, "top_n": 5 },
              "limits": { "max_retrieve_k": 500, "queue_capacity": 8, "max_rerank_tokens": 999 },
              "scheduler": { "max_queue_ms": 250, "max_batch_tokens": 2048, "rerank_batch_tokens": 256,
                             "aging_ms": 50, "rerank_cache_bytes": 0 },
              "max_request_bytes": 2048,
              "shutdown_grace_seconds": 2.5, "compute_threads": 2, "log_level": "debug" }
            """)
        #expect(config.host == "0.0.0.0")
        #expect(config.port == 7000)
        #expect(config.metricsPort == 9464)
        #expect(config.metricsHost == "127.0.0.1")
        #expect(config.index == "idx" && config.retriever == "minilm" && config.reranker == "ce")
        #expect(config.tls == ServerConfig.TLS(certificate: "c.pem", key: "k.pem"))
        #expect(config.apiKeyFile == "key.txt")
        #expect(config.defaults.retrieveK == 50 && config.defaults.rerankK == 10 && config.defaults.topN == 5)
        #expect(config.limits.maxRetrieveK == 500 && config.limits.queueCapacity == 8)
        #expect(config.limits.maxRerankK == 200)  // untouched keys keep their defaults
        #expect(config.limits.maxRerankTokens == 999 && config.limits.maxEncodeTokens == 131072)
        #expect(config.scheduler.maxQueueMs == 250 && config.scheduler.maxBatchTokens == 2048)
        #expect(config.scheduler.rerankBatchTokens == 256 && config.scheduler.agingMs == 50)
        #expect(config.scheduler.rerankCacheBytes == 0)
        #expect(config.rerankerPrecision == .int8 && config.retrieverPrecision == .fp32)
        #expect(config.maxRequestBytes == 2048)
        #expect(config.shutdownGraceSeconds == 2.5)
        #expect(config.computeThreads == 2)
        #expect(config.logLevel == "debug")
    }

    @Test func refusesAnUnknownPrecisionNamingTheChoices() {
        let text = message { _ = try parse(#"{ "retriever_precision": "int4" }"#) }
        #expect(text == #"test.json: retriever_precision must be fp32, fp16 or int8 (got "int4")"#)
    }

    @Test func refusesUnknownKeysNamingThem() {
        let text = message { _ = try parse(#"{ "limits": { "max_retrive_k": 5 } }"#) }
        #expect(text?.hasPrefix("test.json: unknown key limits.max_retrive_k (known: ") == true)
        #expect(message { _ = try parse(#"{ "prot": 1 }"#) }?.contains("unknown key prot") == true)
        #expect(
            message { _ = try parse(#"{ "tls": { "cert": "c.pem" } }"#) }
                == "test.json: unknown key tls.cert (known: certificate, key)")
        #expect(
            message { _ = try parse(#"{ "defaults": { "topn": 3 } }"#) }?.hasPrefix(
                "test.json: unknown key defaults.topn (known: nprobe, rerank_k") == true)
    }

    @Test func refusesWrongTypesNamingTheKey() {
        #expect(message { _ = try parse(#"{ "port": "80" }"#) } == "test.json: port must be a number")
        #expect(message { _ = try parse(#"{ "port": 80.5 }"#) } == "test.json: port must be an integer")
        #expect(message { _ = try parse(#"{ "port": true }"#) } == "test.json: port must be a number")
        #expect(message { _ = try parse(#"{ "tls": "x" }"#) } == "test.json: tls must be an object")
        #expect(
            message { _ = try parse(#"{ "defaults": { "top_n": [] } }"#) }
                == "test.json: defaults.top_n must be a number")
        #expect(message { _ = try parse("[1]") } == "test.json: the top level must be a JSON object")
        #expect(message { _ = try parse(#"{ "read_only": "yes" }"#) } == "test.json: read_only must be true or false")
        #expect(message { _ = try parse(#"{ "read_only": 1 }"#) } == "test.json: read_only must be true or false")
        #expect(message { _ = try parse(#"{ "host": 8 }"#) } == "test.json: host must be a string")
        #expect(
            message { _ = try parse(#"{ "tls": { "certificate": 5 } }"#) }
                == "test.json: tls.certificate must be a string")
        #expect(
            message { _ = try parse(#"{ "limits": { "queue_capacity": "8" } }"#) }
                == "test.json: limits.queue_capacity must be a number")
        #expect(
            message { _ = try parse(#"{ "scheduler": { "aging_ms": 1.5 } }"#) }
                == "test.json: scheduler.aging_ms must be an integer")
        #expect(message { _ = try parse(#"{ "scheduler": [] }"#) } == "test.json: scheduler must be an object")
        #expect(
            message { _ = try parse(#"{ "otel_sampling": "all" }"#) } == "test.json: otel_sampling must be a number")
        #expect(message { _ = try parse("{") }?.hasPrefix("test.json: not valid JSON") == true)
    }

    @Test func missingFileIsNamed() {
        let text = message { _ = try ServerConfig.load(from: URL(fileURLWithPath: "/nonexistent/cascade.json")) }
        #expect(text?.hasPrefix("cannot read /nonexistent/cascade.json") == true)
    }

    @Test func overridesReplaceFileValues() throws {
        var config = try parse(
            #"{ "port": 1, "index": "a", "retriever": "m", "tls": { "certificate": "c", "key": "k" } }"#)
        var overrides = ServerConfig.Overrides()
        overrides.port = 2
        overrides.tlsKey = "k2"
        overrides.queueCapacity = 3
        config.apply(overrides)
        #expect(config.port == 2)
        #expect(config.index == "a")
        #expect(config.tls == ServerConfig.TLS(certificate: "c", key: "k2"))
        #expect(config.limits.queueCapacity == 3)
    }

    @Test func validationNamesTheKey() {
        var config = ServerConfig()
        #expect(
            message { try config.validate() }
                == #"index is not set: give the index folder (--store, or "index" in the config file)"#)
        config.index = "idx"
        #expect(message { try config.validate() }?.hasPrefix("retriever is not set") == true)
        config.retriever = "m"
        #expect(message { try config.validate() } == nil)
        config.port = 70000
        #expect(message { try config.validate() } == "port must be in 0...65535 (got 70000)")
        config.port = 0
        config.tls = ServerConfig.TLS(certificate: "c", key: "")
        #expect(message { try config.validate() } == "tls.key is not set (a PEM private key)")
        config.tls = nil
        config.limits.maxIdBytes = 600
        #expect(message { try config.validate() } == "limits.max_id_bytes must be at most 511 (got 600)")
        config.limits.maxIdBytes = 256
        config.logLevel = "loud"
        #expect(message { try config.validate() }?.hasPrefix("log_level must be one of") == true)
    }

    @Test func apiKeyFileIsReadAndTrimmed() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("cascade-key-\(UUID().uuidString)")
        try "  s3cret\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        var config = ServerConfig()
        config.apiKeyFile = file.path
        #expect(try config.resolvedAPIKey() == "s3cret")
        try "\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(message { _ = try config.resolvedAPIKey() } == "api_key_file \(file.path) is empty")
    }
}

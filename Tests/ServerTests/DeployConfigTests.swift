import Foundation
import Testing

@testable import Server

/// The shipped example configs must load: ServerConfig refuses unknown keys, so a stale key in
/// deploy/ would stop a real deployment at start-up.
@Suite struct DeployConfigTests {
    @Test func exampleConfigLoads() throws {
        let config = try ServerConfig.load(
            from: Fixtures.packageRoot.appendingPathComponent("deploy/server.example.json"))
        #expect(config.host == "0.0.0.0" && config.port == 50051 && config.metricsPort == 9090)
        #expect(config.index == "/var/lib/cascade/index" && config.reranker != nil)
        #expect(config.limits.maxQueryBytes == 2048 && config.limits.queueCapacity == 64)
        #expect(!config.readOnly)
        try config.validate()
    }

    @Test func kubernetesConfigMapLoadsAndIsReadOnly() throws {
        let yaml = try String(
            contentsOf: Fixtures.packageRoot.appendingPathComponent("deploy/kubernetes/configmap.yaml"), encoding: .utf8
        )
        // The JSON is the indented block under `server.json: |`.
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex { $0.contains("server.json: |") })
        let json = lines[(start + 1)...].prefix { $0.hasPrefix("    ") || $0.isEmpty }.joined(separator: "\n")
        let config = try ServerConfig.parse(Data(json.utf8), source: "configmap.yaml")
        #expect(config.readOnly)
        #expect(config.shutdownGraceSeconds < 30)  // under the pod's terminationGracePeriodSeconds
        #expect(config.metricsPort == 9090 && config.defaults.rerankK == 20)
        try config.validate()
    }

    @Test func readOnlyAndRerankerHeadKeysAndOverrides() throws {
        var config = try ServerConfig.parse(
            Data(
                #"{"index": "i", "retriever": "r", "reranker": "c", "reranker_head": "h.safetensors", "read_only": true}"#
                    .utf8))
        #expect(config.readOnly && config.rerankerHead == "h.safetensors")
        var overrides = ServerConfig.Overrides()
        overrides.rerankerHead = "other.safetensors"
        config.apply(overrides)
        #expect(config.readOnly && config.rerankerHead == "other.safetensors")
        #expect(throws: ServerConfigError.invalid("test: read_only must be true or false")) {
            try ServerConfig.parse(Data(#"{"read_only": 1}"#.utf8), source: "test")
        }
        var headless = ServerConfig()
        headless.index = "i"
        headless.retriever = "r"
        headless.rerankerHead = "h"
        #expect(throws: ServerConfigError.self) { try headless.validate() }
    }
}

import Cascade
import CascadeAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import Server
import Synchronization
import Testing
import Transformer
import VectorStore

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The real models and a real index of the sample corpus, made once per test process.
enum Fixtures {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let rerankerHead = packageRoot.appendingPathComponent(
        "Tests/Fixtures/Transformer/minilm-head/model.safetensors")
    /// Passages from samples/debian-desc/corpus.jsonl in the base index.
    static let corpusSize = 150

    /// The real all-MiniLM-L6-v2 folder; throws a message saying how to get it when absent.
    static func miniLM() throws -> URL {
        let path =
            ProcessInfo.processInfo.environment["CASCADE_MINILM_DIR"]
            ?? packageRoot.appendingPathComponent(".cache/models/all-MiniLM-L6-v2").path
        guard FileManager.default.fileExists(atPath: path + "/model.safetensors") else {
            throw TestFailure("all-MiniLM-L6-v2 not found at \(path): run scripts/fetch-model.sh")
        }
        return URL(fileURLWithPath: path)
    }

    struct Shared: Sendable {
        var retriever: Retriever
        var reranker: Reranker
        var passages: [Passage]
        /// An index of `passages` nobody opens: servers get copies.
        var baseIndex: URL
    }

    private static let cache = Mutex<Result<Shared, TestFailure>?>(nil)

    /// Loads the models and builds the base index on first use (about a second with MiniLM).
    static func shared() throws -> Shared {
        try cache.withLock { cache in
            if cache == nil { cache = Result { try build() }.mapError { TestFailure("fixtures: \($0)") } }
            return try cache!.get()
        }
    }

    private static func build() throws -> Shared {
        let model = try miniLM()
        let retriever = try Retriever.load(directory: model)
        let reranker = try Reranker.load(directory: model, head: rerankerHead)
        let passages = try samplePassages(corpusSize)
        let base = try temporaryDirectory("base-index")
        let store = try VectorStore.open(at: base, model: retriever.storeModel)
        let vectors = try retriever.embed(retriever.encode(passages.map(\.text)))
        try store.upsert(zip(passages, vectors).map { (passage: $0.0, vector: $0.1) })
        return Shared(retriever: retriever, reranker: reranker, passages: passages, baseIndex: base)
    }

    /// The first `count` fixture passages as the API's messages (what Rerank and Upsert take).
    static func messages(_ count: Int) throws -> [Cascade_V1_Passage] {
        try shared().passages.prefix(count).map { passage in
            Cascade_V1_Passage.with {
                $0.id = passage.id
                $0.text = passage.text
            }
        }
    }

    /// The first `count` passages of the bundled Debian descriptions corpus.
    static func samplePassages(_ count: Int) throws -> [Passage] {
        let url = packageRoot.appendingPathComponent("samples/debian-desc/corpus.jsonl")
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").prefix(count)
        return try lines.map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String],
                let id = object["id"], let text = object["text"]
            else { throw TestFailure("bad corpus line: \(line)") }
            return Passage(id: id, text: text)
        }
    }

    static func temporaryDirectory(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cascade-server-tests-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A self-signed certificate for 127.0.0.1 and localhost and its key, made by openssl; nil
    /// (the caller skips its test, saying so) where openssl is not installed.
    static func selfSignedCertificate() throws -> (certificate: URL, key: URL)? {
        guard
            let openssl = ["/usr/bin/openssl", "/usr/local/bin/openssl"].first(where: {
                FileManager.default.isExecutableFile(atPath: $0)
            })
        else {
            print("skipping a TLS test: openssl is not installed (apt-get install openssl)")
            return nil
        }
        let directory = try temporaryDirectory("tls")
        let (cert, key) = (directory.appendingPathComponent("cert.pem"), directory.appendingPathComponent("key.pem"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: openssl)
        process.arguments = [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key.path, "-out", cert.path,
        ]
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestFailure("openssl failed to make a certificate") }
        return (cert, key)
    }

    /// A private copy of the base index (LMDB must not be opened twice in one process).
    static func indexCopy() throws -> URL {
        let shared = try shared()
        let copy = try temporaryDirectory("index")
        for file in try FileManager.default.contentsOfDirectory(atPath: shared.baseIndex.path) {
            try FileManager.default.copyItem(
                at: shared.baseIndex.appendingPathComponent(file), to: copy.appendingPathComponent(file))
        }
        return copy
    }
}

/// A real `CascadeServer` on 127.0.0.1, an ephemeral port, over a private copy of the index.
final class RunningServer: Sendable {
    let server: CascadeServer
    let port: Int
    let metricsPort: Int?
    let index: URL
    private let task: Task<Void, any Error>

    var pipeline: Pipeline { server.pipeline }

    private init(server: CascadeServer, addresses: CascadeServer.Addresses, index: URL, task: Task<Void, any Error>) {
        self.server = server
        self.port = addresses.port
        self.metricsPort = addresses.metricsPort
        self.index = index
        self.task = task
    }

    /// `configure` adjusts the config (limits, key, TLS, metrics); `reranker: false` serves
    /// retrieval only; `readOnly` opens the index copy read-only; `index` serves that store
    /// instead of a copy of the base index.
    static func start(
        reranker: Bool = true, readOnly: Bool = false, index: URL? = nil, logger: Logger? = nil,
        tracing: RequestTracing? = nil,
        configure: (inout ServerConfig) -> Void = { _ in }
    ) async throws -> RunningServer {
        let shared = try Fixtures.shared()
        let index = try index ?? Fixtures.indexCopy()
        var config = ServerConfig()
        config.host = "127.0.0.1"
        config.port = 0
        config.index = index.path
        config.retriever = "all-MiniLM-L6-v2"
        if reranker { config.reranker = "all-MiniLM-L6-v2+head" }
        config.logLevel = "warning"
        configure(&config)
        let store = try VectorStore.open(existingAt: index, readOnly: readOnly)
        let pipeline = try Pipeline(
            store: store, retriever: shared.retriever, reranker: reranker ? shared.reranker : nil,
            configuration: config.pipelineConfiguration)
        let server = try CascadeServer(
            config: config, pipeline: pipeline, logger: logger ?? Logger(label: "cascade.server.test"),
            tracing: tracing)
        let (addresses, continuation) = AsyncStream.makeStream(of: CascadeServer.Addresses.self)
        let task = Task {
            defer { continuation.finish() }
            try await server.run { continuation.yield($0) }
        }
        for await bound in addresses {
            return RunningServer(server: server, addresses: bound, index: index, task: task)
        }
        try await task.value
        throw TestFailure("the server stopped before it listened")
    }

    /// Waits (up to 6 s) until a call waits for the model, so that calls started before are
    /// in the server when the test goes on.
    func waitUntilModelWorkQueues() async throws {
        var waited = 0
        while pipeline.queueDepth == 0 && waited < 600 {
            try await Task.sleep(for: .milliseconds(10))
            waited += 1
        }
        try #require(pipeline.queueDepth > 0, "the calls never reached the model queue")
    }

    /// Graceful shutdown; waits for `run` to return.
    func stop() async throws {
        server.shutdown()
        try await task.value
        try? FileManager.default.removeItem(at: index)
    }

    /// Waits for `run` to return after a shutdown begun elsewhere.
    func waitUntilStopped() async throws {
        try await task.value
    }

    /// Calls `body` with a client for `cascade.v1.Cascade` (and the raw GRPCClient, for Health).
    func withClient<Result: Sendable>(
        security: HTTP2ClientTransport.Posix.TransportSecurity = .plaintext,
        _ body: (Cascade_V1_Cascade.Client<HTTP2ClientTransport.Posix>) async throws -> Result
    ) async throws -> Result {
        try await withGRPCClient(
            transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: security)
        ) { client in
            try await body(Cascade_V1_Cascade.Client(wrapping: client))
        }
    }

    /// The Prometheus exposition from the metrics port.
    func scrapeMetrics() throws -> String {
        guard let metricsPort else { throw TestFailure("this server has no metrics port") }
        return try httpGet(port: metricsPort, path: "/metrics")
    }
}

/// Metadata carrying an API key the way `cascade query` sends it.
func bearer(_ key: String) -> Metadata {
    var metadata: Metadata = [:]
    metadata.addString("Bearer \(key)", forKey: "authorization")
    return metadata
}

/// The RPCError `body` throws (a test failure when it throws something else or nothing).
func rpcError(_ body: () async throws -> Void) async throws -> RPCError {
    do {
        try await body()
    } catch let error as RPCError {
        return error
    }
    throw TestFailure("expected the call to fail with an RPCError, but it succeeded")
}

/// A plain HTTP/1.0 GET over a socket: enough for the metrics endpoint, no URLSession needed.
func httpGet(port: Int, path: String) throws -> String {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestFailure("socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else { throw TestFailure("cannot connect to 127.0.0.1:\(port)") }
    let request = Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".utf8)
    guard write(fd, request, request.count) == request.count else { throw TestFailure("write failed") }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = read(fd, &buffer, buffer.count)
        if count <= 0 { break }
        response.append(contentsOf: buffer[0..<count])
    }
    return String(decoding: response, as: UTF8.self)
}

/// A log handler that keeps every line, to check the one-line-per-request log.
final class CapturedLog: Sendable {
    struct Line: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    private let lines = Mutex<[Line]>([])
    var all: [Line] { lines.withLock { $0 } }

    var logger: Logger {
        Logger(label: "cascade.server.test") { _ in Handler(log: self) }
    }

    struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let fields = (event.metadata ?? [:]).mapValues { "\($0)" }
            log.lines.withLock {
                $0.append(Line(level: event.level, message: "\(event.message)", metadata: fields))
            }
        }
    }
}

import Foundation
import Testing

/// The built `cascade` binary as a user runs it: `serve` in one process, `query` in others.
@Suite struct CLITests {
    /// The `cascade` executable, built next to this test binary (the test target depends on it).
    static func cascadeBinary() throws -> URL {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            Bundle.main.bundleURL.deletingLastPathComponent(),
            Bundle.main.bundleURL,
        ]
        for directory in candidates {
            let url = directory.appendingPathComponent("cascade")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        throw TestFailure("cascade not found next to the test binary (\(candidates.map(\.path))); run `swift build`")
    }

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `cascade arguments...` to completion.
    static func run(_ arguments: [String]) throws -> Output {
        let process = Process()
        process.executableURL = try cascadeBinary()
        process.arguments = arguments
        let (out, err) = (Pipe(), Pipe())
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read before waiting, so a full pipe cannot block the child.
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }

    @Test func serveQueryAndStopWithSIGTERM() async throws {
        let index = try Fixtures.indexCopy()
        let model = try Fixtures.miniLM().path
        let serve = Process()
        serve.executableURL = try Self.cascadeBinary()
        serve.arguments = [
            "serve", "--store", index.path, "--retriever", model, "--reranker", model,
            "--reranker-head", Fixtures.rerankerHead.path, "--port", "0", "--metrics-port", "0",
        ]
        let (out, err) = (Pipe(), Pipe())
        serve.standardOutput = out
        serve.standardError = err
        try serve.run()
        defer { if serve.isRunning { kill(serve.processIdentifier, SIGKILL) } }

        // The first line says where it listens: "listening on 127.0.0.1:PORT".
        var firstLine = Data()
        while !firstLine.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            firstLine.append(chunk)
        }
        let line = String(decoding: firstLine, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        try #require(line.hasPrefix("listening on 127.0.0.1:"), "serve printed \"\(line)\"")
        let address = String(line.dropFirst("listening on ".count))

        let query = try Self.run([
            "query", "--server", address, "--retrieve-k", "20", "--rerank-k", "5", "--top-n", "5", "--json",
            "tool to check ABI changes of a C++ library",
        ])
        #expect(query.status == 0, "query failed: \(query.stderr)")
        struct Response: Decodable {
            struct Hit: Decodable {
                var rank: Int
                var id: String
                var score: Float
                var retrieval_score: Float
                var rerank_score: Float?
                var text: String
            }
            var hits: [Hit]
            var retrieve_k: Int
            var rerank_k: Int
            var timings_us: [String: UInt64]
        }
        let response = try JSONDecoder().decode(Response.self, from: Data(query.stdout.utf8))
        #expect(response.hits.count == 5 && response.retrieve_k == 20 && response.rerank_k == 5)
        #expect(response.hits.allSatisfy { $0.rerank_score == $0.score && !$0.text.isEmpty })
        #expect(response.hits.map(\.rank) == [1, 2, 3, 4, 5])
        for stage in ["encode", "retrieve", "rerank", "total"] { #expect(response.timings_us[stage] ?? 0 > 0) }

        let table = try Self.run(["query", "--server", address, "--rerank-k", "0", "--top-n", "3", "chess"])
        #expect(table.status == 0)
        #expect(table.stdout.contains("rerank_k 0, top_n 3: 3 hits"))
        #expect(table.stdout.contains("timings: queue"))

        let info = try Self.run(["query", "--server", address, "--info"])
        #expect(info.status == 0)
        #expect(info.stdout.contains("corpus:    \(Fixtures.corpusSize) passages, cosine similarity\n"))  // writable
        #expect(info.stdout.contains("reranker:  all-MiniLM-L6-v2+model.safetensors"))

        let bad = try Self.run(["query", "--server", address, "--retrieve-k", "5000", "chess"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("INVALID_ARGUMENT") && bad.stderr.contains("retrieve_k"), "\(bad.stderr)")

        kill(serve.processIdentifier, SIGTERM)
        let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        serve.waitUntilExit()
        #expect(serve.terminationReason == .exit && serve.terminationStatus == 0, "serve stderr:\n\(log)")
        // One log line per request, with its id, method, code and stage times.
        let rpcLines = log.split(separator: "\n").filter { $0.contains(" rpc ") || $0.hasSuffix(" rpc") }
        #expect(rpcLines.count == 4, "\(log)")
        #expect(rpcLines.contains { $0.contains("method=Search") && $0.contains("rerank_us=") })
        #expect(rpcLines.contains { $0.contains("code=INVALID_ARGUMENT") && $0.contains("request_id=") })
        #expect(log.contains("stopped"))
    }

    @Test func queryRefusesAServerThatIsNotHostPort() throws {
        for (server, message) in [
            ("localhost", #"--server "localhost" has no port: use host:port, e.g. 127.0.0.1:50051"#),
            ("::1:50051", #"--server "::1:50051": put an IPv6 address in brackets, e.g. [::1]:50051"#),
            ("localhost:0", #"--server "localhost:0": port "0" must be a number from 1 to 65535"#),
        ] {
            let result = try Self.run(["query", "--server", server, "chess"])
            #expect(result.status == 64, "\(result.stderr)")
            #expect(result.stderr.contains(message), "\(result.stderr)")
        }
    }

    @Test func queryReportsAnUnreachableServer() throws {
        // Bind and close a socket to get a port nobody listens on.
        let result = try Self.run([
            "query", "--server", "127.0.0.1:\(try Self.closedPort())", "--timeout", "5", "chess",
        ])
        #expect(result.status == 2)
        #expect(result.stderr.contains("cannot reach 127.0.0.1"), "\(result.stderr)")
    }

    @Test func serveRefusesABadConfiguration() throws {
        let missing = try Self.run(["serve", "--retriever", "/nonexistent"])
        #expect(missing.status != 0)
        #expect(
            missing.stderr.contains(
                "index is not set: give the index folder (--store, or \"index\" in the config file)"),
            "\(missing.stderr)")
        // The flag the message names is one `serve` has.
        let help = try Self.run(["serve", "--help"])
        #expect(help.stdout.contains("--store <store>"), "\(help.stdout)")
        let directory = try Fixtures.temporaryDirectory("config")
        let config = directory.appendingPathComponent("server.json")
        try #"{"index": "/x", "retriever": "/y", "limits": {"max_rerank": 5}}"#.write(
            to: config, atomically: true, encoding: .utf8)
        let unknown = try Self.run(["serve", "--config", config.path])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("unknown key limits.max_rerank"), "\(unknown.stderr)")
        let noIndex = try Self.run([
            "serve", "--store", directory.appendingPathComponent("none").path, "--read-only", "--retriever",
            try Fixtures.miniLM().path, "--port", "0",
        ])
        #expect(noIndex.status == 1)
        #expect(noIndex.stderr.contains("cannot start the server") && noIndex.stderr.contains("no index at"))
    }

    static func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw TestFailure("cannot bind a socket") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

import Foundation
import Testing

/// The built `cascade` binary as a user runs it: `serve` in one process, `query` in others.
@Suite struct CLITests {
    /// An executable of this package (`cascade`, `cascade-bench`), built next to this test binary
    /// (the test target depends on both).
    static func binary(_ name: String = "cascade") throws -> URL {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            Bundle.main.bundleURL.deletingLastPathComponent(),
            Bundle.main.bundleURL,
        ]
        for directory in candidates {
            let url = directory.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        throw TestFailure("\(name) not found next to the test binary (\(candidates.map(\.path))); run `swift build`")
    }

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `cascade arguments...` (or another of the package's executables) to completion.
    static func run(_ arguments: [String], binary name: String = "cascade") throws -> Output {
        let process = Process()
        process.executableURL = try binary(name)
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

    /// `cascade serve` on a copy of the test index, MiniLM as both models, and the address it printed.
    struct Server {
        let process: Process
        let address: String
        let log: Pipe

        /// `store`: an index folder other than a copy of the test index.
        static func start(_ extra: [String] = [], store: URL? = nil) throws -> Server {
            let index = try store ?? Fixtures.indexCopy()
            let model = try Fixtures.miniLM().path
            let process = Process()
            process.executableURL = try binary()
            process.arguments =
                [
                    "serve", "--store", index.path, "--retriever", model, "--reranker", model,
                    "--reranker-head", Fixtures.rerankerHead.path, "--port", "0", "--metrics-port", "0",
                ] + extra
            let (out, err) = (Pipe(), Pipe())
            process.standardOutput = out
            process.standardError = err
            try process.run()
            // The first line says where it listens: "listening on 127.0.0.1:PORT".
            var firstLine = Data()
            while !firstLine.contains(UInt8(ascii: "\n")) {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                firstLine.append(chunk)
            }
            let line = String(decoding: firstLine, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
            guard line.hasPrefix("listening on 127.0.0.1:") else {
                kill(process.processIdentifier, SIGKILL)
                throw TestFailure("serve printed \"\(line)\"")
            }
            return Server(process: process, address: String(line.dropFirst("listening on ".count)), log: err)
        }

        /// SIGTERM; the server's log once it exited, and whether it exited 0.
        func stop() -> (log: String, exitedCleanly: Bool) {
            kill(process.processIdentifier, SIGTERM)
            let text = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (text, process.terminationReason == .exit && process.terminationStatus == 0)
        }

        func killIfRunning() { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
    }

    @Test func serveQueryAndStopWithSIGTERM() async throws {
        let server = try Server.start()
        defer { server.killIfRunning() }
        let address = server.address

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

        let (log, exitedCleanly) = server.stop()
        #expect(exitedCleanly, "serve stderr:\n\(log)")
        // One log line per request, with its id, method, code and stage times.
        let rpcLines = log.split(separator: "\n").filter { $0.contains(" rpc ") || $0.hasSuffix(" rpc") }
        #expect(rpcLines.count == 4, "\(log)")
        #expect(rpcLines.contains { $0.contains("method=Search") && $0.contains("rerank_us=") })
        #expect(rpcLines.contains { $0.contains("code=INVALID_ARGUMENT") && $0.contains("request_id=") })
        #expect(log.contains("stopped"))
    }

    /// cascade query, cascade eval --server and cascade-bench share their connection flags: each
    /// reaches a TLS server given the certificate to trust, and none without it.
    @Test func everyClientReachesATLSServerWithTheCertificateToTrust() throws {
        guard let (cert, key) = try Fixtures.selfSignedCertificate() else { return }
        let server = try Server.start(["--tls-cert", cert.path, "--tls-key", key.path])
        defer { server.killIfRunning() }
        let samples = Fixtures.packageRoot.appendingPathComponent("samples/debian-desc")
        let queries = ["--queries", samples.appendingPathComponent("queries.tsv").path]
        let judged = queries + ["--qrels", samples.appendingPathComponent("qrels.tsv").path]
        let query = [
            "query", "--server", server.address, "--rerank-k", "0", "--top-n", "3", "--timeout", "10", "chess",
        ]
        let eval = ["eval", "--server", server.address, "--limit", "3", "--retrieve-k", "20", "--json"] + judged
        let bench = ["--target", server.address, "--requests", "4", "--rerank-k", "0", "--timeout", "10"] + queries
        let trusted = ["--ca-cert", cert.path]

        let searched = try Self.run(query + trusted)
        #expect(searched.status == 0, "\(searched.stderr)")
        #expect(searched.stdout.contains("rerank_k 0, top_n 3: 3 hits"), "\(searched.stdout)")
        let evaluated = try Self.run(eval + trusted)
        #expect(evaluated.status == 0, "\(evaluated.stderr)")
        struct Report: Decodable { var evaluated: Int }
        #expect(try JSONDecoder().decode(Report.self, from: Data(evaluated.stdout.utf8)).evaluated == 3)
        let loaded = try Self.run(bench + trusted, binary: "cascade-bench")
        #expect(loaded.status == 0, "\(loaded.stderr)")

        // TLS trusting the system's roots only: the self-signed certificate is refused.
        for (arguments, binary) in [(query, "cascade"), (eval, "cascade"), (bench, "cascade-bench")] {
            let refused = try Self.run(arguments + ["--tls"], binary: binary)
            #expect(refused.status != 0, "\(binary) \(arguments[0]) succeeded without trusting the certificate")
            if binary == "cascade" {
                #expect(refused.stderr.contains("CERTIFICATE_VERIFY_FAILED"), "\(refused.stderr)")
            }
        }
        _ = server.stop()
    }

    /// A server that stops answering (SIGSTOP: the kernel still accepts its connections) ends an
    /// eval at --timeout with DEADLINE_EXCEEDED instead of holding it forever.
    @Test func evalGivesUpOnAServerThatDoesNotAnswer() throws {
        let server = try Server.start()
        defer { server.killIfRunning() }
        let samples = Fixtures.packageRoot.appendingPathComponent("samples/debian-desc")
        kill(server.process.processIdentifier, SIGSTOP)
        let started = ContinuousClock.now
        let result = try Self.run([
            "eval", "--server", server.address, "--timeout", "2", "--limit", "1",
            "--queries", samples.appendingPathComponent("queries.tsv").path,
            "--qrels", samples.appendingPathComponent("qrels.tsv").path,
        ])
        let waited = ContinuousClock.now - started
        kill(server.process.processIdentifier, SIGCONT)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("deadlineExceeded"), "\(result.stderr)")
        #expect(waited < .seconds(60), "eval took \(waited)")
        let (log, exitedCleanly) = server.stop()
        #expect(exitedCleanly, "\(log)")
    }

    @Test func aNewEmptyIndexIsStartedWithAWarning() throws {
        let missing = try Fixtures.temporaryDirectory("new").appendingPathComponent("index")
        let server = try Server.start(store: missing)
        defer { server.killIfRunning() }
        let (log, exitedCleanly) = server.stop()
        #expect(exitedCleanly, "\(log)")
        #expect(
            log.contains("warning") && log.contains("no index at \(missing.path): started a new, empty one"), "\(log)")
    }

    @Test func aMissingCertificateFileIsNamedBeforeConnecting() throws {
        let result = try Self.run(["query", "--server", "127.0.0.1:1", "--ca-cert", "/nonexistent/ca.pem", "chess"])
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains("--ca-cert /nonexistent/ca.pem: no such readable file"), "\(result.stderr)")
    }

    @Test func evalRefusesConnectionFlagsWithoutAServer() throws {
        let result = try Self.run(["eval", "--tls", "--queries", "q.tsv", "--qrels", "q.qrels"])
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains("--api-key, --tls and --ca-cert apply to --server only"), "\(result.stderr)")
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

    @Test func queryRefusesZeroCutoffsThatTheWireWouldTakeAsDefaults() throws {
        for flag in ["--retrieve-k", "--top-n"] {
            let result = try Self.run(["query", "--server", "127.0.0.1:1", flag, "0", "chess"])
            #expect(result.status == 64, "\(result.stderr)")
            #expect(
                result.stderr.contains("\(flag) must be at least 1 (leave it out for the server's default)"),
                "\(result.stderr)")
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

    @Test func serveNamesTheListenerWhosePortIsTaken() throws {
        let (fd, port) = try Self.boundSocket()
        defer { close(fd) }
        #expect(listen(fd, 1) == 0)
        let model = try Fixtures.miniLM().path
        let index = try Fixtures.indexCopy().path
        for (flags, listener) in [
            (["--port", "\(port)"], "gRPC"), (["--port", "0", "--metrics-port", "\(port)"], "metrics"),
        ] {
            let result = try Self.run(["serve", "--store", index, "--retriever", model, "--read-only"] + flags)
            #expect(result.status == 1, "\(result.stderr)")
            #expect(
                result.stderr.contains(
                    "cannot listen for \(listener) on 127.0.0.1:\(port): the address is in use (another process "
                        + "listens there; port 0 lets the kernel pick a free one)"), "\(result.stderr)")
        }
    }

    static func closedPort() throws -> Int {
        let (fd, port) = try boundSocket()
        close(fd)
        return port
    }

    /// A TCP socket bound to a port of 127.0.0.1 the kernel picked, not yet listening.
    static func boundSocket() throws -> (fd: CInt, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
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
        guard bound else {
            close(fd)
            throw TestFailure("cannot bind a socket")
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }
}

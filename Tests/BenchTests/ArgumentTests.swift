import CascadeWire
import Testing

@testable import LoadTesting

@Suite struct SweepArgumentTests {
    @Test func aSweepListsItsPairsInOrder() throws {
        let settings = try Sweep.parse(" 100:0, 100:10 ,200:20")
        #expect(
            settings == [
                SearchSettings(retrieveK: 100, rerankK: 0), SearchSettings(retrieveK: 100, rerankK: 10),
                SearchSettings(retrieveK: 200, rerankK: 20),
            ])
        #expect(settings.map(\.label) == ["100:0", "100:10", "200:20"])
    }

    @Test(arguments: [
        ("", "--sweep is empty: give retrieve_k:rerank_k pairs such as \"100:0,100:10\""),
        ("100", "--sweep item 1 (\"100\") must be retrieve_k:rerank_k, e.g. 100:10"),
        ("100:10:5", "--sweep item 1 (\"100:10:5\") must be retrieve_k:rerank_k, e.g. 100:10"),
        ("100:0,,200:20", "--sweep item 2 (\"\") is empty: remove the stray comma"),
        ("100:0,", "--sweep item 2 (\"\") is empty: remove the stray comma"),
        ("abc:10", "--sweep item 1 (\"abc:10\"): retrieve_k \"abc\" is not a non-negative integer"),
        ("100:-1", "--sweep item 1 (\"100:-1\"): rerank_k \"-1\" is not a non-negative integer"),
        ("100:ten", "--sweep item 1 (\"100:ten\"): rerank_k \"ten\" is not a non-negative integer"),
        (
            "99999999999:0",
            "--sweep item 1 (\"99999999999:0\"): retrieve_k \"99999999999\" is not a non-negative integer"
        ),
        (
            "100:0,10:20",
            "--sweep item 2 (\"10:20\"): rerank_k 20 exceeds retrieve_k 10: only retrieved passages can be reranked"
        ),
        ("0:0", "--sweep item 1 (\"0:0\"): retrieve_k must be at least 1 (leave it out for the server default)"),
        ("100:10,200:0,100:10", "--sweep item 3 (\"100:10\") repeats an earlier setting"),
    ])
    func aBadSweepSaysWhatIsWrong(text: String, message: String) {
        #expect(throws: BenchError(message)) { try Sweep.parse(text) }
    }
}

@Suite struct PlanArgumentTests {
    @Test func theDefaultIsOneClosedLoopCallerAndTwoHundredRequests() throws {
        let plan = try BenchPlan(BenchOptions())
        #expect(plan.shape == .closed(concurrency: 1))
        #expect(plan.bounds == LoadBounds(requests: 200, durationNanos: nil))
        #expect(plan.settings == [SearchSettings()])
        #expect(plan.warmupBounds == nil)
        #expect(!plan.isSweep)
    }

    @Test func anOpenLoopPlan() throws {
        var options = BenchOptions()
        options.rate = 50
        options.arrivals = "Uniform"
        options.maxOutstanding = 8
        options.durationSeconds = 2.5
        options.warmup = 10
        options.topN = 5
        options.sweep = "50:0,50:5"
        let plan = try BenchPlan(options)
        #expect(plan.shape == .open(schedule: try ArrivalSchedule(rate: 50, arrivals: .uniform), maxOutstanding: 8))
        // A duration alone bounds the run: no default request count.
        #expect(plan.bounds == LoadBounds(requests: nil, durationNanos: 2_500_000_000))
        #expect(plan.warmupBounds == LoadBounds(requests: 10, durationNanos: nil))
        #expect(plan.settings.map(\.topN) == [5, 5])
        #expect(plan.isSweep)
    }

    static func options(_ change: (inout BenchOptions) -> Void) -> BenchOptions {
        var options = BenchOptions()
        change(&options)
        return options
    }

    @Test(arguments: [
        (
            options {
                $0.concurrency = 4
                $0.rate = 10
            },
            "--concurrency (closed loop) and --rate (open loop) exclude each other: give one of them"
        ),
        (options { $0.concurrency = 0 }, "--concurrency must be from 1 to 10000, got 0"),
        (
            options {
                $0.rate = 10
                $0.arrivals = "bursty"
            },
            "--arrivals must be poisson or uniform, got \"bursty\""
        ),
        (
            options {
                $0.rate = 10
                $0.maxOutstanding = 0
            },
            "--max-outstanding must be at least 1, got 0"
        ),
        (options { $0.rate = -1 }, "--rate must be a positive number of requests per second, got -1.0"),
        (options { $0.requests = 0 }, "--requests must be at least 1, got 0"),
        (
            options { $0.durationSeconds = -3 },
            "--duration must be a number of seconds above 0 and at most 86400, got -3.0"
        ),
        (options { $0.warmup = -1 }, "--warmup must be 0 or more requests, got -1"),
        (
            options {
                $0.sweep = "100:10"
                $0.rerankK = 5
            },
            "--sweep sets retrieve_k and rerank_k itself: drop --retrieve-k and --rerank-k"
        ),
        (
            options {
                $0.retrieveK = 5
                $0.rerankK = 10
            },
            "--rerank-k 10 exceeds --retrieve-k 5: only retrieved passages can be reranked"
        ),
        (options { $0.topN = 0 }, "--top-n must be at least 1 (leave it out for the server default)"),
    ])
    func aBadPlanSaysWhatIsWrong(options: BenchOptions, message: String) {
        #expect(throws: BenchError(message)) { try BenchPlan(options) }
    }
}

@Suite struct ServerAddressArgumentTests {
    @Test func hostsAndPorts() throws {
        #expect(try ServerAddress(parsing: "127.0.0.1:50051") == ServerAddress(host: "127.0.0.1", port: 50051))
        #expect(try ServerAddress(parsing: "search.internal:443") == ServerAddress(host: "search.internal", port: 443))
        #expect(try ServerAddress(parsing: "[::1]:8080") == ServerAddress(host: "::1", port: 8080))
        #expect(ServerAddress(host: "::1", port: 8080).description == "[::1]:8080")
    }

    @Test(arguments: [
        ("localhost", "--target \"localhost\" has no port: use host:port, e.g. 127.0.0.1:50051"),
        (":50051", "--target \":50051\" has no host: use host:port, e.g. 127.0.0.1:50051"),
        ("localhost:http", "--target \"localhost:http\": port \"http\" must be a number from 1 to 65535"),
        ("localhost:70000", "--target \"localhost:70000\": port \"70000\" must be a number from 1 to 65535"),
        ("::1:50051", "--target \"::1:50051\": put an IPv6 address in brackets, e.g. [::1]:50051"),
        ("[::1]50051", "--target \"[::1]50051\": an IPv6 target must look like [::1]:50051"),
    ])
    func aBadTargetSaysWhatIsWrong(text: String, message: String) {
        #expect(throws: AddressError(message)) { try ServerAddress(parsing: text) }
    }
}

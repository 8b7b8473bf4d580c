// swift-tools-version: 6.1
import PackageDescription

let grpc: [Target.Dependency] = [
    .product(name: "GRPCCore", package: "grpc-swift-2"),
    .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
    .product(name: "SwiftProtobuf", package: "swift-protobuf"),
]

/// The numeric kernels are optimised even in debug builds: unoptimised, a MiniLM forward pass is
/// about 10x slower, and the tests run the real model.
let optimized: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "Cascade",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "cascade", targets: ["cascade"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.1.0"),
        // OTLP over gRPC only: the HTTP exporter's trait would add async-http-client to the build.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPGRPC"]),
        .package(url: "https://github.com/swift-otel/swift-w3c-trace-context.git", from: "1.0.0"),
    ],
    targets: [
        // Native libraries from Debian (liblmdb-dev, libopenblas-dev).
        .systemLibrary(name: "CLMDB", path: "Sources/CLMDB"),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),

        // AVX2 kernels for what OpenBLAS does poorly (GEMMs of a few rows); optimised in debug builds too.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])]),
        // The cores: one pool of worker threads that model runs and vector scans split their work over.
        .target(name: "Compute", dependencies: ["COpenBLAS"], swiftSettings: optimized),
        // BERT WordPiece, id-for-id with Hugging Face tokenizers.
        .target(name: "Tokenization", swiftSettings: optimized),
        // BERT / DistilBERT forward pass on OpenBLAS, weights from safetensors or PyTorch zips.
        .target(
            name: "Transformer", dependencies: ["Tokenization", "Compute", "CKernels", "COpenBLAS"],
            swiftSettings: optimized),
        // Passages and vectors in one LMDB environment; exact top-k over the memory map.
        .target(
            name: "VectorStore", dependencies: ["CLMDB", "COpenBLAS", "Compute", "CKernels"], swiftSettings: optimized),
        // TREC qrels and runs, trec_eval's measures, cutoff sweeps and their Pareto frontier.
        .target(name: "Evaluation"),
        // What the server and its clients (cascade query, cascade-bench) agree on, with no dependencies:
        // the timing stages, gRPC status names, host:port targets.
        .target(name: "CascadeWire"),
        // The search pipeline: tokenize, encode, retrieve, fetch, rerank, merge; one model run at a time.
        .target(
            name: "Cascade", dependencies: ["CascadeWire", "Compute", "Tokenization", "Transformer", "VectorStore"]),
        // Corpus files into a store: resumable, batched by length, bad lines reported by number.
        .target(name: "Indexing", dependencies: ["Cascade", "Tokenization", "Transformer", "VectorStore"]),
        // The gRPC API generated from Proto/ (scripts/generate-proto.sh): messages, clients, service protocols.
        .target(name: "CascadeAPI", dependencies: ["CascadeWire"] + grpc),
        // How clients reach a server (TLS, API key): the flags cascade query, eval and cascade-bench share.
        .target(
            name: "CascadeConnection",
            dependencies: [
                "CascadeWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
            ]),
        // The gRPC server: services, health, auth, Prometheus metrics, OTLP spans, lifecycle (ServiceGroup).
        .target(
            name: "Server",
            dependencies: [
                "Cascade", "CascadeAPI", "CascadeWire", "Compute", "Tokenization", "VectorStore", "Transformer",
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "OTel", package: "swift-otel"),
            ] + grpc
        ),

        .executableTarget(
            name: "cascade",
            dependencies: [
                "Tokenization", "Transformer", "VectorStore", "Indexing", "Evaluation", "Cascade", "Server",
                "CascadeAPI", "CascadeConnection", "CascadeWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
            ] + grpc
        ),
        // Encoder throughput and latency against onnxruntime and PyTorch (Benchmarks/encoder.sh).
        .executableTarget(
            name: "encoder-bench", dependencies: ["Compute", "Transformer", "Tokenization"],
            path: "Benchmarks/EncoderBench"),
        // Search latency and recall of VectorStore's codes and partitions against faiss (Benchmarks/search.sh).
        .executableTarget(
            name: "search-bench", dependencies: ["Compute", "VectorStore", "CKernels"], path: "Benchmarks/SearchBench"),
        // A child process the VectorStore tests kill mid-write.
        .executableTarget(name: "store-writer", dependencies: ["VectorStore"], path: "Tests/StoreWriter"),

        // Load generation logic for cascade-bench: schedules, latency recording, reports.
        .target(
            name: "LoadTesting",
            dependencies: ["CascadeWire", .product(name: "Histogram", package: "hdrhistogram-swift")],
            path: "Benchmarks/LoadTesting"
        ),
        .executableTarget(
            name: "cascade-bench",
            dependencies: [
                "LoadTesting", "CascadeAPI", "CascadeConnection", "CascadeWire",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/CascadeBench"
        ),

        .testTarget(name: "TokenizationTests", dependencies: ["Tokenization"]),
        .testTarget(name: "ComputeTests", dependencies: ["Compute"]),
        .testTarget(name: "TransformerTests", dependencies: ["Transformer", "Compute", "CKernels", "COpenBLAS"]),
        .testTarget(name: "VectorStoreTests", dependencies: ["VectorStore", "store-writer", "CKernels"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation"]),
        .testTarget(name: "CascadeTests", dependencies: ["Cascade"]),
        .testTarget(name: "IndexingTests", dependencies: ["Indexing"]),
        // Runs the built `cascade` (and `cascade-bench`, for ReadmeTests) binaries as a user would.
        .testTarget(name: "CLITests", dependencies: ["cascade", "cascade-bench", "search-bench", "VectorStore"]),
        .testTarget(name: "BenchTests", dependencies: ["LoadTesting", "CascadeWire"]),
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "Server", "CascadeAPI", "Cascade", "VectorStore", "Transformer", "cascade", "cascade-bench",
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ] + grpc
        ),
    ],
    swiftLanguageModes: [.v6]
)

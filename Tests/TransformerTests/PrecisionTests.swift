import Compute
import Foundation
import Testing
import Tokenization

@testable import Transformer

/// fp16 and int8 models against the same checkpoint in fp32: the seeded tiny checkpoints (both
/// formats, both families) and the real all-MiniLM-L6-v2 with the seeded `minilm-head`.
/// Tolerances, with what this machine gave (AVX2 and portable paths alike) when they were set:
/// - embedding cosine to fp32, worst row: fp16 0.9999 (observed 0.9999996 and above); int8 0.995
///   on the tiny checkpoints (observed 0.9986 BERT, 0.9997 DistilBERT) and 0.985 on MiniLM
///   (observed worst 0.9887, mean 0.9976 over 52 sentences: the issue asks 0.99 of query vectors;
///   the 7-bit weights cost most of the gap, 8-bit weights gave worst 0.9931 on the portable path);
/// - cross-encoder logits, max abs error: fp16 0.002 (observed 0.0005), int8 0.1 (observed 0.075
///   tiny BERT, 0.038 tiny DistilBERT, 0.076 MiniLM + head whose logits spread over 1.0).
@Suite struct PrecisionTests {
    static let cosineFloor: [Precision: Double] = [.fp32: 0.9999, .fp16: 0.9999, .int8: 0.995]
    static let miniLMCosineFloor: [Precision: Double] = [.fp16: 0.9999, .int8: 0.985]
    static let logitTolerance: [Precision: Double] = [.fp16: 0.002, .int8: 0.1]

    static func worstCosine(_ a: [[Float]], _ b: [[Float]]) -> Double {
        zip(a, b).map { cosine($0, $1.map(Double.init)) }.min() ?? 0
    }

    @Test(arguments: ["bert", "distilbert"], ["safetensors", "bin"])
    func tinyEncoders(name: String, format: String) throws {
        let directory = Fixtures.tiny(name, format)
        let batch = Fixtures.tinyReference.batch
        let pooling = Pooling(mode: .mean, normalize: false)
        let reference = try SentenceEncoder(directory: directory, pooling: pooling).embed(batch)
        for precision in [Precision.fp16, .int8] {
            let encoder = try SentenceEncoder(directory: directory, pooling: pooling, precision: precision)
            #expect(encoder.precision == precision)
            #expect(encoder.kernelPath.hasPrefix(precision.rawValue + "/"))
            let worst = Self.worstCosine(try encoder.embed(batch), reference)
            print("tiny-\(name)-\(format) \(precision) (\(encoder.kernelPath)): worst cosine to fp32 \(worst)")
            #expect(worst >= Self.cosineFloor[precision]!, "\(precision): \(worst)")
        }
    }

    /// At int8 a batch with enough rows runs the feed-forward fused (`Linear.geluQuantized`,
    /// `normalized`), a sequence alone does not; every int8 step is per row or per sequence, so a
    /// sequence's embedding must be the very same floats either way.
    @Test(arguments: ["bert", "distilbert"])
    func int8FusedBatchEqualsSequencesAlone(name: String) throws {
        let encodings = Fixtures.tinyReference.encodings
        // Enough copies for every compute thread to get two blocks of rows: the fused path.
        let rows = 2 * Linear.fusedRows * ComputePool.shared.threads
        let tokens = encodings.map(\.ids.count).reduce(0, +)
        let many = Array(repeating: encodings, count: rows / tokens + 1).flatMap { $0 }
        let encoder = try SentenceEncoder(
            directory: Fixtures.tiny(name), pooling: Pooling(mode: .mean, normalize: false), precision: .int8)
        let together = try encoder.embed(TokenBatch(many))
        for (row, encoding) in many.enumerated().prefix(encodings.count) {
            #expect(try encoder.embed(TokenBatch([encoding]))[0] == together[row], "\(name) row \(row)")
        }
    }

    @Test(arguments: ["bert-cls", "distilbert-cls"], ["safetensors", "bin"])
    func tinyCrossEncoders(name: String, format: String) throws {
        let directory = Fixtures.tiny(name, format)
        let batch = Fixtures.tinyReference.batch
        let reference = try CrossEncoder(directory: directory).score(batch)
        for precision in [Precision.fp16, .int8] {
            let crossEncoder = try CrossEncoder(directory: directory, precision: precision)
            let logits = try crossEncoder.score(batch)
            let error = maxAbsDiff(logits, reference.map(Double.init))
            print("tiny-\(name)-\(format) \(precision) (\(crossEncoder.kernelPath)): max logit error \(error)")
            #expect(error <= Self.logitTolerance[precision]!, "\(precision): \(logits) vs \(reference)")
        }
    }

    /// An fp16 checkpoint (the tiny BERT written back as F16 safetensors) loads at every precision:
    /// int8 quantizes from the half values as it finds them.
    @Test func fp16CheckpointLoadsAtEveryPrecision() throws {
        let source = Fixtures.tiny("bert")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cascade-f16-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(
            at: source.appendingPathComponent("config.json"), to: folder.appendingPathComponent("config.json"))
        try writeHalfSafetensors(from: openWeights(in: source), to: folder.appendingPathComponent("model.safetensors"))
        #expect(try openWeights(in: folder).info("encoder.layer.0.attention.self.query.weight")?.dtype == .float16)
        let batch = Fixtures.tinyReference.batch
        let pooling = Pooling(mode: .mean, normalize: false)
        let reference = try SentenceEncoder(directory: source, pooling: pooling).embed(batch)
        for precision in Precision.allCases {
            let vectors = try SentenceEncoder(directory: folder, pooling: pooling, precision: precision).embed(batch)
            let worst = Self.worstCosine(vectors, reference)
            #expect(worst >= Self.cosineFloor[precision]!, "\(precision): \(worst)")
        }
    }

    @Test func miniLMEmbeddings() throws {
        let directory = try Fixtures.miniLM()
        let sentences = MiniLMTests.reference.sentences
        let batch = TokenBatch(sentences.map { encoding($0.input_ids) })
        let reference = sentences.map { $0.embedding.map { Float($0) } }
        for precision in [Precision.fp16, .int8] {
            let encoder = try SentenceEncoder(directory: directory, precision: precision)
            let vectors = try encoder.embed(batch)
            let worst = Self.worstCosine(vectors, reference)
            let mean =
                zip(vectors, reference).map { cosine($0, $1.map(Double.init)) }.reduce(0, +) / Double(batch.batchSize)
            print(
                "all-MiniLM-L6-v2 \(precision) (\(encoder.kernelPath), loaded in \(encoder.loadSeconds) s):"
                    + " cosine to sentence-transformers fp32 worst \(worst), mean \(mean) over \(batch.batchSize) sentences"
            )
            #expect(worst >= Self.miniLMCosineFloor[precision]!, "\(precision): \(worst)")
        }
    }

    /// The retriever's measure on real queries: the first 100 debian-desc queries of
    /// `samples/debian-desc` (the issue asks 0.99 of int8 query vectors and 0.999 of fp16 on the dev
    /// queries; `encoder-bench --accuracy` runs all 2,000: worst 0.9958 int8, 1.0000 fp16 when set).
    @Test func miniLMRealQueryVectors() throws {
        let directory = try Fixtures.miniLM()
        let file = Fixtures.packageRoot.appendingPathComponent("samples/debian-desc/queries.tsv")
        let texts = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").prefix(100).map {
            String($0.split(separator: "\t", maxSplits: 1)[1])
        }
        let tokenizer = try BertTokenizer(directory: directory)
        let batch = TokenBatch(texts.map { tokenizer.encode($0) })
        let reference = try SentenceEncoder(directory: directory).embed(batch)
        for (precision, floor) in [(Precision.fp16, 0.999), (.int8, 0.99)] {
            let encoder = try SentenceEncoder(directory: directory, precision: precision)
            let worst = Self.worstCosine(try encoder.embed(batch), reference)
            print(
                "all-MiniLM-L6-v2 \(precision) (\(encoder.kernelPath)): worst cosine to fp32 over 100 real queries \(worst)"
            )
            #expect(worst >= floor, "\(precision): \(worst)")
        }
    }

    @Test func miniLMCrossEncoderLogits() throws {
        let headPath = Fixtures.directory.appendingPathComponent("minilm-head/model.safetensors").path
        let pairs = MiniLMTests.reference.pairs
        let batch = TokenBatch(pairs.map { Encoding(ids: $0.input_ids, typeIds: $0.token_type_ids) })
        let expected = pairs.map(\.logit)
        let spread = expected.max()! - expected.min()!
        for precision in [Precision.fp16, .int8] {
            let crossEncoder = try CrossEncoder(
                encoderDirectory: try Fixtures.miniLM(), head: SafetensorsFile(path: headPath), precision: precision)
            let error = maxAbsDiff(try crossEncoder.score(batch), expected)
            print(
                "all-MiniLM-L6-v2 + minilm-head \(precision) (\(crossEncoder.kernelPath)): max logit error \(error)"
                    + " (logits spread \(spread))")
            #expect(error <= Self.logitTolerance[precision]!, "\(precision): \(error)")
        }
    }

    @Test func unknownPrecisionNamesTheAllowedValues() throws {
        #expect(throws: ModelError.invalidInput("unknown precision 'int4': use one of fp32, fp16, int8")) {
            try Precision(parsing: "int4")
        }
        #expect(try Precision(parsing: "int8") == .int8)
    }
}

/// Every tensor of `weights` written as F16 safetensors (what `model.half().save_pretrained` writes).
func writeHalfSafetensors(from weights: any WeightSource, to url: URL) throws {
    var header: [String: Any] = [:]
    var data = Data()
    for name in weights.tensorNames {
        let tensor = try weights.float32(name)
        let begin = data.count
        for value in tensor.buffer {
            withUnsafeBytes(of: Float16(value).bitPattern.littleEndian) { data.append(contentsOf: $0) }
        }
        header[name] = ["dtype": "F16", "shape": tensor.shape, "data_offsets": [begin, data.count]]
    }
    var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    while json.count % 8 != 0 { json.append(0x20) }
    var file = Data()
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
    file.append(json)
    file.append(data)
    try file.write(to: url)
}

import ArgumentParser
import Cascade
import Foundation
import Transformer

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Print each stdin line's pooled vector as a JSON array of floats."
    )

    @Option(help: "A Hugging Face model folder (BertModel or DistilBertModel).")
    var model: String

    @Option(help: "cls or mean (default: from sentence-transformers files, else cls).")
    var pooling: PoolingMode?

    @Flag(inversion: .prefixedNo, help: "L2-normalise the vectors (default: as the model's files say).")
    var normalize: Bool?

    @Option(help: "The linear layers' precision: fp32, fp16 or int8 (quantized while loading).")
    var precision: Precision = .fp32

    @Option(help: "Lines encoded together.")
    var batchSize = 32

    @Flag(help: "Print timings to stderr.")
    var verbose = false

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
    }

    func run() throws {
        let clock = ContinuousClock()
        let directory = URL(fileURLWithPath: model)
        let retriever = try Retriever.load(
            directory: directory, pooling: try explicitPooling(directory), precision: precision)
        printError("embed: \(retriever.loadSummary)")
        var input = LineInput()
        var lines = 0
        var tokens = 0
        var tokenizeTime = Duration.zero
        var encodeTime = Duration.zero
        while case let chunk = try input.nextChunk(batchSize), !chunk.isEmpty {
            var start = clock.now
            let encodings = retriever.encode(chunk.map(\.text))
            tokenizeTime += clock.now - start
            start = clock.now
            let vectors = try retriever.embed(encodings, batchSize: batchSize)
            encodeTime += clock.now - start
            for vector in vectors { print(jsonArray(vector)) }
            lines += chunk.count
            tokens += encodings.reduce(0) { $0 + $1.count }
        }
        if verbose {
            let perSecond = encodeTime > .zero ? Double(tokens) / (encodeTime.milliseconds / 1000) : 0
            printError(
                "embed: \(lines) lines, \(tokens) tokens; tokenize \(formatMilliseconds(tokenizeTime)), "
                    + "encode \(formatMilliseconds(encodeTime)) (\(Int(perSecond)) tokens/s)")
        }
    }

    /// Flags override the model's own pooling files; unset flags keep what the files say.
    private func explicitPooling(_ directory: URL) throws -> Pooling? {
        guard pooling != nil || normalize != nil else { return nil }
        let base = try Pooling.read(from: directory) ?? Pooling(mode: .cls, normalize: false)
        return Pooling(mode: pooling ?? base.mode, normalize: normalize ?? base.normalize)
    }
}

extension PoolingMode: ExpressibleByArgument {}

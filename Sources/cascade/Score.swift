import ArgumentParser
import Cascade
import Foundation
import Transformer

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Read query<TAB>passage lines; print one cross-encoder score per line."
    )

    @Option(help: "A Hugging Face cross-encoder folder (Bert/DistilBertForSequenceClassification).")
    var model: String

    @Option(help: "A safetensors classification head to put on --model when that is a bare encoder.")
    var head: String?

    @Option(help: "The linear layers' precision: fp32, fp16 or int8 (quantized while loading; the head stays fp32).")
    var precision: Precision = .fp32

    @Option(help: "Pairs encoded together.")
    var batchSize = 16

    @Option(help: "Tokens per pair, specials included.")
    var maxLength = 512

    @Flag(help: "Print timings to stderr.")
    var verbose = false

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        // [CLS] query [SEP] passage [SEP]: below 3 every pair would be scored as an empty one.
        guard maxLength >= 3 else { throw ValidationError("--max-length must leave room for the special tokens") }
    }

    func run() throws {
        let clock = ContinuousClock()
        let reranker = try Reranker.load(
            directory: URL(fileURLWithPath: model), head: head.map { URL(fileURLWithPath: $0) }, maxLength: maxLength,
            precision: precision)
        printError("score: \(reranker.loadSummary)")
        var input = LineInput()
        var pairs = 0
        var tokenizeTime = Duration.zero
        var scoreTime = Duration.zero
        while case let chunk = try input.nextChunk(batchSize), !chunk.isEmpty {
            var start = clock.now
            let encodings = try chunk.map { line, text in
                guard let tab = text.firstIndex(of: "\t") else {
                    throw InputError(line: line, reason: "expected query<TAB>passage")
                }
                return reranker.encode(
                    query: String(text[..<tab]), passages: [String(text[text.index(after: tab)...])])[0]
            }
            tokenizeTime += clock.now - start
            start = clock.now
            let scores = try reranker.score(encodings, batchSize: batchSize)
            scoreTime += clock.now - start
            for score in scores { print(score) }
            pairs += chunk.count
        }
        if verbose {
            printError(
                "score: \(pairs) pairs; tokenize \(formatMilliseconds(tokenizeTime)), "
                    + "score \(formatMilliseconds(scoreTime))")
        }
    }
}

import ArgumentParser
import Foundation
import Tokenization

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the token ids of each stdin line as a JSON array.",
        discussion: "With --pair, a line is first<TAB>second and is encoded as one pair."
    )

    @Option(help: "A Hugging Face model folder (tokenizer.json or vocab.txt).")
    var model: String

    @Flag(help: "Encode first<TAB>second lines as pairs.")
    var pair = false

    @Option(help: "Truncate to this many tokens, specials included (default: the tokenizer's maximum).")
    var maxLength: Int?

    @Flag(help: "Print timings to stderr.")
    var verbose = false

    func run() throws {
        let clock = ContinuousClock()
        let tokenizer = try BertTokenizer(directory: URL(fileURLWithPath: model))
        if let maxLength, maxLength < (pair ? 3 : 2) {
            throw ValidationError("--max-length must leave room for the special tokens")
        }
        var input = LineInput()
        var lines = 0
        var tokens = 0
        var time = Duration.zero
        while let (line, text) = input.next() {
            guard let text else { throw InputError(line: line, reason: "invalid UTF-8") }
            let start = clock.now
            let encoding: Encoding
            if pair {
                guard let tab = text.firstIndex(of: "\t") else {
                    throw InputError(line: line, reason: "expected first<TAB>second")
                }
                encoding = tokenizer.encode(
                    String(text[..<tab]), String(text[text.index(after: tab)...]), maxLength: maxLength)
            } else {
                encoding = tokenizer.encode(text, maxLength: maxLength)
            }
            time += clock.now - start
            lines += 1
            tokens += encoding.count
            print(jsonArray(encoding.ids))
        }
        if verbose {
            printError("tokenize: \(lines) lines, \(tokens) tokens in \(formatMilliseconds(time))")
        }
    }
}

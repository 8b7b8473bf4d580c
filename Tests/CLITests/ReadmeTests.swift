import Foundation
import Testing

/// README.md shows only commands and flags that exist: every `cascade SUBCOMMAND --flag ...` and
/// `cascade-bench --flag ...` in its code blocks and inline code (tables included) names a real
/// subcommand and flags that the subcommand's `--help` lists, and a code span that is only a flag
/// (`--read-only`) is a flag of some command.
@Suite struct ReadmeTests {
    @Test func everyCommandAndFlagTheReadmeShowsExists() throws {
        let readme = try String(contentsOf: packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let help = try HelpIndex()
        let shown = ReadmeCommands(markdown: readme)
        // The README documents every subcommand; this also keeps the extraction from passing by
        // finding nothing.
        let documented = Set(shown.commands.compactMap(\.subcommand))
        #expect(
            documented.isSuperset(of: help.subcommands),
            "subcommands the README never shows: \(help.subcommands.subtracting(documented).sorted())")
        #expect(shown.commands.contains { $0.tool == "cascade-bench" && !$0.flags.isEmpty })
        let problems = help.problems(in: shown)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        print(
            "README: \(shown.commands.count) commands with \(shown.commands.reduce(0) { $0 + $1.flags.count }) flags "
                + "and \(shown.bareFlags.count) bare flags checked against --help")
    }

    /// The check itself: made-up flags and subcommands are reported, in tables and in code blocks
    /// (continued lines included), while the flags of a command piped into are not taken for them.
    @Test func madeUpFlagsAndSubcommandsAreReported() throws {
        let markdown = """
            | command | does |
            | --- | --- |
            | `cascade index --model DIR --no-such-flag corpus.jsonl` | x |
            | `cascade query --server h:1 --top-n 3 "q"` | fine |

            ```sh
            cascade serve --store s \\
              --port 0 --made-up 1 | tee -a log
            cascade frobnicate --model m
            cascade-bench --target h:1 --bogus 2>/dev/null
            ```

            Flags alone: `--read-only`, `--also-bogus`.
            """
        let shown = ReadmeCommands(markdown: markdown)
        #expect(shown.commands.map(\.tool) == ["cascade", "cascade", "cascade", "cascade", "cascade-bench"])
        #expect(shown.commands[2].flags == ["--store", "--port", "--made-up"])
        #expect(shown.bareFlags == ["--read-only", "--also-bogus"])
        let problems = try HelpIndex().problems(in: shown)
        #expect(
            problems == [
                "cascade index: no flag --no-such-flag", "cascade serve: no flag --made-up",
                "cascade frobnicate: no such subcommand", "cascade-bench: no flag --bogus",
                "--also-bogus: no command has this flag",
            ], "\(problems)")
    }
}

/// The commands a Markdown text shows, in order.
struct ReadmeCommands {
    struct Command: Equatable {
        /// `cascade` or `cascade-bench`.
        var tool: String
        /// The `cascade` subcommand; nil for `cascade-bench`.
        var subcommand: String?
        var flags: [String]
    }

    var commands: [Command] = []
    /// Inline code spans that are a flag alone (or a flag and its value).
    var bareFlags: [String] = []

    init(markdown: String) {
        var inBlock = false
        var block: [String] = []
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.trimmingCharacters(in: .whitespaces).hasPrefix("```") {
                if inBlock { scan(block.joined(separator: "\n")) }
                block = []
                inBlock.toggle()
            } else if inBlock {
                block.append(line)
            } else {
                // Odd pieces between backticks are code; `\|` is how a table cell holds a pipe.
                let pieces = line.split(separator: "`", omittingEmptySubsequences: false)
                for (index, piece) in pieces.enumerated() where index % 2 == 1 && index < pieces.count - 1 {
                    let code = piece.replacingOccurrences(of: "\\|", with: "|")
                    if code.hasPrefix("-"), let flag = Self.flag(in: code.split(separator: " ").first.map(String.init))
                    {
                        bareFlags.append(flag)
                    } else {
                        scan(code)
                    }
                }
            }
        }
    }

    /// Finds the commands in a piece of shell, where a line ending in `\` goes on.
    private mutating func scan(_ code: String) {
        let joined = code.replacingOccurrences(of: "\\\n", with: " ")
        for line in joined.split(separator: "\n") {
            let tokens = line.split(whereSeparator: \.isWhitespace).map(String.init)
            var index = 0
            while index < tokens.count {
                guard tokens[index] == "cascade" || tokens[index] == "cascade-bench" else {
                    index += 1
                    continue
                }
                var command = Command(tool: tokens[index], subcommand: nil, flags: [])
                index += 1
                if command.tool == "cascade" {
                    // A bare `cascade` (the command's name in prose) shows no subcommand.
                    guard index < tokens.count, !Self.endsCommand(tokens[index]) else { continue }
                    command.subcommand = tokens[index]
                    index += 1
                }
                while index < tokens.count, !Self.endsCommand(tokens[index]) {
                    if let flag = Self.flag(in: tokens[index]) { command.flags.append(flag) }
                    index += 1
                }
                commands.append(command)
            }
        }
    }

    /// A pipe, a list operator, a redirection or a comment ends a command's arguments.
    static func endsCommand(_ token: String) -> Bool {
        if ["|", "||", "&&", ";", "&"].contains(token) { return true }
        guard let first = token.first else { return false }
        if "<>#".contains(first) { return true }
        return first.isNumber && token.dropFirst().first == ">"
    }

    /// `--name` or `-k` at the start of `token` (after an opening `[` or `(`), without a value.
    static func flag(in token: String?) -> String? {
        guard let token else { return nil }
        let body = token.drop { $0 == "[" || $0 == "(" }
        let dashes = body.prefix { $0 == "-" }
        guard (1...2).contains(dashes.count), let first = body.dropFirst(dashes.count).first, first.isLetter else {
            return nil
        }
        let name = body.dropFirst(dashes.count).prefix { $0.isLetter || $0.isNumber || $0 == "-" }
        return String(dashes) + name
    }
}

/// The subcommands and flags that the built `cascade` and `cascade-bench` list in `--help`.
struct HelpIndex {
    let subcommands: Set<String>
    /// Flags by subcommand; `cascade-bench`'s under the key "cascade-bench".
    let flags: [String: Set<String>]

    init() throws {
        let overview = try Self.help(try cascadeBinary(), [])
        // "  index   Encode a corpus...": a name at two spaces; descriptions wrap deeper.
        let names = Self.section("SUBCOMMANDS:", of: overview).compactMap { line -> String? in
            guard line.hasPrefix("  "), let first = line.dropFirst(2).first, first.isLowercase else { return nil }
            return line.split(separator: " ").first.map(String.init)
        }
        var flags: [String: Set<String>] = [:]
        for subcommand in names {
            flags[subcommand] = Self.options(try Self.help(try cascadeBinary(), [subcommand]))
        }
        let bench = try cascadeBinary().deletingLastPathComponent().appendingPathComponent("cascade-bench")
        guard FileManager.default.isExecutableFile(atPath: bench.path) else {
            throw CLIError("cascade-bench not found at \(bench.path): swift build --product cascade-bench")
        }
        flags["cascade-bench"] = Self.options(try Self.help(bench, []))
        subcommands = Set(names)
        self.flags = flags
    }

    /// What is wrong with the commands and bare flags shown, one line each.
    func problems(in shown: ReadmeCommands) -> [String] {
        var problems: [String] = []
        for command in shown.commands {
            let key = command.subcommand ?? command.tool
            let name = command.subcommand.map { "\(command.tool) \($0)" } ?? command.tool
            guard let known = flags[key] else {
                problems.append("\(name): no such subcommand")
                continue
            }
            for flag in command.flags where !known.contains(flag) { problems.append("\(name): no flag \(flag)") }
        }
        let everyFlag = flags.values.reduce(into: Set<String>()) { $0.formUnion($1) }
        for flag in shown.bareFlags where !everyFlag.contains(flag) {
            problems.append("\(flag): no command has this flag")
        }
        return problems
    }

    /// The lines under `title` up to the next unindented line.
    static func section(_ title: String, of help: String) -> [String] {
        let lines = help.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let start = lines.firstIndex(of: title) else { return [] }
        return Array(lines[(start + 1)...].prefix { $0.isEmpty || $0.hasPrefix(" ") })
    }

    /// The flags an OPTIONS section names: "  -h, --help", "  --normalize/--no-normalize", "  -k <k>".
    static func options(_ help: String) -> Set<String> {
        var options: Set<String> = []
        for line in section("OPTIONS:", of: help) where line.hasPrefix("  -") {
            // The synopsis ends where the description starts, after two or more spaces.
            let synopsis = line.dropFirst(2).components(separatedBy: "  ")[0]
            for token in synopsis.split(whereSeparator: { " ,/".contains($0) }) where token.hasPrefix("-") {
                options.insert(String(token))
            }
        }
        return options
    }

    /// `binary ARGUMENTS --help`, which must succeed.
    static func help(_ binary: URL, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments + ["--help"]
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CLIError("\(binary.lastPathComponent) \(arguments.joined(separator: " ")) --help failed")
        }
        return String(decoding: output, as: UTF8.self)
    }
}

import Foundation
import Testing

/// The package root, found from this file's path.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The real all-MiniLM-L6-v2 folder that scripts/fetch-model.sh puts in place.
func miniLM() throws -> URL {
    let path =
        ProcessInfo.processInfo.environment["CASCADE_MINILM_DIR"]
        ?? packageRoot.appendingPathComponent(".cache/models/all-MiniLM-L6-v2").path
    guard FileManager.default.fileExists(atPath: path + "/config.json") else {
        throw CLIError("no model at \(path): run scripts/fetch-model.sh")
    }
    return URL(fileURLWithPath: path)
}

let seededHead = packageRoot.appendingPathComponent("Tests/Fixtures/Transformer/minilm-head/model.safetensors")
let sampleCorpus = packageRoot.appendingPathComponent("samples/debian-desc/corpus.jsonl")

struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The `cascade` executable built beside this test bundle.
func cascadeBinary() throws -> URL { try productBinary("cascade") }

/// An executable product of this package built beside this test bundle.
func productBinary(_ name: String) throws -> URL {
    let candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
        Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent(),
    ].map { $0.appendingPathComponent(name) }
    guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
        throw CLIError("\(name) binary not found near \(CommandLine.arguments[0])")
    }
    return found
}

struct Output {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs `cascade` with `arguments` and `input` on stdin, to completion.
func cascade(_ arguments: [String], input: Data = Data()) throws -> Output {
    try run(try cascadeBinary(), arguments, input: input)
}

/// Runs `executable` with `arguments` and `input` on stdin, to completion.
func run(_ executable: URL, _ arguments: [String], input: Data = Data()) throws -> Output {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    let stdin = Pipe()
    let stdout = Pipe()
    let stderr = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = stderr
    try process.run()
    // Read both pipes while the child runs, so a full pipe can never block it.
    nonisolated(unsafe) var out = Data()
    nonisolated(unsafe) var err = Data()
    let group = DispatchGroup()
    DispatchQueue.global().async(group: group) { out = stdout.fileHandleForReading.readDataToEndOfFile() }
    DispatchQueue.global().async(group: group) { err = stderr.fileHandleForReading.readDataToEndOfFile() }
    stdin.fileHandleForWriting.write(input)
    try stdin.fileHandleForWriting.close()
    group.wait()
    process.waitUntilExit()
    return Output(
        status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
        stderr: String(decoding: err, as: UTF8.self))
}

func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("cascade-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The first `count` passages of the bundled sample corpus, as a JSON-lines file.
func sampleSlice(_ count: Int, in directory: URL) throws -> URL {
    let lines = try String(contentsOf: sampleCorpus, encoding: .utf8).split(separator: "\n").prefix(count)
    let url = directory.appendingPathComponent("corpus.jsonl")
    try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
    return url
}

/// Runs `cascade arguments` (a command writing `store`) and kills it with SIGKILL once `store`
/// holds at least `committed` passages (polled with `cascade stats`), mid-write: what a crash or an
/// OOM kill does. Fails when the command ends first, which means it needs more work to be caught.
func killMidWrite(_ arguments: [String], store: URL, afterCommitting committed: Int) throws {
    let stopped = try stopMidWrite(arguments, store: store, afterCommitting: committed, with: SIGKILL)
    #expect(stopped.reason == .uncaughtSignal)
}

/// Starts `cascade ARGUMENTS`, sends it `signal` once the store holds `committed` passages, and
/// returns how it ended and what it wrote on stderr.
func stopMidWrite(
    _ arguments: [String], store: URL, afterCommitting committed: Int, with signal: Int32
) throws -> (reason: Process.TerminationReason, status: Int32, stderr: String) {
    let child = Process()
    child.executableURL = try cascadeBinary()
    child.arguments = arguments
    let log = try temporaryDirectory().appendingPathComponent("stderr")
    FileManager.default.createFile(atPath: log.path, contents: nil)
    child.standardError = try FileHandle(forWritingTo: log)
    try child.run()
    var count = 0
    let deadline = Date().addingTimeInterval(120)
    while count < committed && child.isRunning && Date() < deadline {
        Thread.sleep(forTimeInterval: 0.05)
        let stats = try cascade(["stats", "--store", store.path, "--json"])
        if stats.status == 0, let object = try? JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)),
            let value = (object as? [String: Any])?["count"] as? Int
        {
            count = value
        }
    }
    try #require(child.isRunning, "`cascade \(arguments[0])` finished before it could be stopped; give it more work")
    kill(child.processIdentifier, signal)
    child.waitUntilExit()
    return (child.terminationReason, child.terminationStatus, try String(contentsOf: log, encoding: .utf8))
}

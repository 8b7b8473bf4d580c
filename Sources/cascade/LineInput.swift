import ArgumentParser
import Foundation

/// Standard input, a line at a time, with line numbers and a clear verdict on invalid UTF-8
/// (`readLine` would silently replace it).
struct LineInput: Sequence, IteratorProtocol {
    private let handle = FileHandle.standardInput
    private var buffer: [UInt8] = []
    private var position = 0
    private var finished = false
    private(set) var lineNumber = 0

    mutating func next() -> (line: Int, text: String?)? {
        while true {
            if let newline = buffer[position...].firstIndex(of: UInt8(ascii: "\n")) {
                var end = newline
                if end > position && buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                let bytes = buffer[position..<end]
                position = newline + 1
                lineNumber += 1
                return (lineNumber, String(validating: bytes, as: UTF8.self))
            }
            if finished {
                guard position < buffer.count else { return nil }
                let bytes = buffer[position...]
                position = buffer.count
                lineNumber += 1
                return (lineNumber, String(validating: bytes, as: UTF8.self))
            }
            buffer.removeFirst(position)
            position = 0
            let chunk = handle.availableData
            if chunk.isEmpty { finished = true } else { buffer.append(contentsOf: chunk) }
        }
    }

    /// Up to `count` lines; a line that is not UTF-8 is an error naming it.
    mutating func nextChunk(_ count: Int) throws -> [(line: Int, text: String)] {
        var chunk: [(line: Int, text: String)] = []
        while chunk.count < count, let (line, text) = next() {
            guard let text else { throw InputError(line: line, reason: "invalid UTF-8") }
            chunk.append((line, text))
        }
        return chunk
    }
}

struct InputError: Error, CustomStringConvertible {
    var line: Int
    var reason: String
    var description: String { "line \(line): \(reason)" }
}

/// Refuses, before a long run, an output path its end could not write: a folder that does not
/// exist, or a folder where the file should go.
func checkOutputPath(_ path: String, flag: String) throws {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
        throw ValidationError("\(flag) \(path) is a folder; give a file to write")
    }
    let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw ValidationError("\(flag) \(path): there is no folder \(folder) to write it in")
    }
    guard FileManager.default.isWritableFile(atPath: folder) else {
        throw ValidationError("\(flag) \(path): the folder \(folder) is not writable")
    }
}

/// Writes to stderr (timings, progress, warnings): stdout stays clean for pipes.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

func jsonArray<T: CustomStringConvertible>(_ values: [T]) -> String {
    "[" + values.map(\.description).joined(separator: ",") + "]"
}

extension Duration {
    var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) * 1e-15
    }

    var microseconds: Int64 {
        components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000
    }
}

func formatMilliseconds(_ duration: Duration) -> String {
    String(format: "%.2f ms", duration.milliseconds)
}

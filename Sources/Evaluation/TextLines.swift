import Foundation

/// Reads a text file as numbered lines. Works on the raw bytes so that runs of millions of lines
/// parse quickly, and validates UTF-8 per field so a bad byte is reported with its line number.
struct TextLines {
    let file: String
    let data: Data

    init(contentsOf url: URL) throws(InputError) {
        file = url.path
        // Foundation's messages for a missing file differ across platforms; errno's are plain.
        var info = stat()
        if stat(url.path, &info) != 0 || access(url.path, R_OK) != 0 {
            throw InputError(file: file, line: nil, problem: .unreadable(reason: String(cString: strerror(errno))))
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            throw InputError(file: file, line: nil, problem: .unreadable(reason: "is a directory"))
        }
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw InputError(file: file, line: nil, problem: .unreadable(reason: error.localizedDescription))
        }
    }

    func error(_ line: Int?, _ problem: InputError.Problem) -> InputError {
        InputError(file: file, line: line, problem: problem)
    }

    /// Calls `body` with each non-blank line (without its line ending, `\n` or `\r\n`).
    func forEachLine(_ body: (inout Line) throws(InputError) -> Void) throws(InputError) {
        var failure: InputError?
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            var line = Line(file: file)
            var start = 0
            while start < bytes.count {
                line.number += 1
                var end = start
                while end < bytes.count && bytes[end] != UInt8(ascii: "\n") { end += 1 }
                let next = end + 1
                if end > start && bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                line.reset(UnsafeBufferPointer(rebasing: bytes[start..<end]))
                start = next
                if line.fieldCount == 0 { continue }
                do throws(InputError) { try body(&line) } catch {
                    failure = error
                    return
                }
            }
        }
        if let failure { throw failure }
    }
}

/// One line of a TREC file, split at runs of spaces and tabs.
struct Line {
    let file: String
    var number = 0
    private(set) var bytes = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
    private var fields: [Range<Int>] = []

    init(file: String) { self.file = file }

    var fieldCount: Int { fields.count }

    mutating func reset(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        fields.removeAll(keepingCapacity: true)
        var index = 0
        while index < bytes.count {
            while index < bytes.count && Self.isSeparator(bytes[index]) { index += 1 }
            let start = index
            while index < bytes.count && !Self.isSeparator(bytes[index]) { index += 1 }
            if index > start { fields.append(start..<index) }
        }
    }

    private static func isSeparator(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }

    func error(_ problem: InputError.Problem) -> InputError {
        InputError(file: file, line: number, problem: problem)
    }

    func expectFields(_ count: Int) throws(InputError) {
        guard fields.count == count else { throw error(.fieldCount(expected: count, found: fields.count)) }
    }

    /// A field as text; invalid UTF-8 is an error on this line.
    func field(_ index: Int) throws(InputError) -> String {
        guard let text = String(validating: UnsafeBufferPointer(rebasing: bytes[fields[index]]), as: UTF8.self) else {
            throw error(.invalidUTF8)
        }
        return text
    }

    /// The whole line as text.
    func text() throws(InputError) -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw error(.invalidUTF8) }
        return text
    }
}

import Foundation

/// Reads a text file as numbered lines. Works on bytes so that multi-million-line runs parse
/// quickly, and validates UTF-8 per line so a bad byte is reported with its line number.
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

    /// Calls `body` with each non-blank line's number and text (without the line ending).
    func forEachLine(_ body: (Int, Substring) throws(InputError) -> Void) throws(InputError) {
        var lineNumber = 0
        var start = data.startIndex
        while start < data.endIndex {
            lineNumber += 1
            let end = data[start...].firstIndex(of: UInt8(ascii: "\n")) ?? data.endIndex
            var stop = end
            if stop > start, data[stop - 1] == UInt8(ascii: "\r") { stop -= 1 }
            let bytes = data[start..<stop]
            start = end < data.endIndex ? end + 1 : end
            if bytes.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) { continue }
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw error(lineNumber, .invalidUTF8)
            }
            try body(lineNumber, Substring(text))
        }
    }
}

extension Substring {
    /// TREC files separate fields by any run of spaces or tabs.
    var trecFields: [Substring] {
        split(whereSeparator: { $0 == " " || $0 == "\t" })
    }
}

import Cascade
import Foundation
import Tokenization
import VectorStore

/// One line of a corpus file that could not become a passage.
public struct CorpusProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var reason: String
    public var description: String { "line \(line): \(reason)" }
}

public enum CorpusFormat: String, Sendable, CaseIterable {
    /// One JSON object a line: `{"id": "...", "text": "..."}` (a numeric id is accepted).
    case jsonl
    /// `id<TAB>text` a line.
    case tsv

    /// By extension; otherwise by the first non-blank byte (`{` means JSON lines).
    static func guess(for url: URL, firstByte: UInt8?) -> CorpusFormat {
        switch url.pathExtension.lowercased() {
        case "jsonl", "json", "ndjson": return .jsonl
        case "tsv", "txt": return .tsv
        default: return firstByte == UInt8(ascii: "{") ? .jsonl : .tsv
        }
    }
}

/// A corpus file read whole: its passages in file order, and every line that was not one.
public struct Corpus: Sendable {
    public struct Record: Sendable, Equatable {
        public var line: Int
        public var passage: Passage
    }

    public var records: [Record]
    public var problems: [CorpusProblem]
    /// Ids seen more than once; the last line wins, as an upsert would.
    public var duplicateIds: Int
    public var format: CorpusFormat

    public enum ReadError: Error, CustomStringConvertible {
        case unreadable(String, String)
        public var description: String {
            switch self {
            case .unreadable(let path, let reason): return "cannot read corpus \(path): \(reason)"
            }
        }
    }

    /// Ids are held to the server's rule (`RequestRules.checkID`, at the default `max_id_bytes`, so
    /// a Delete can name every passage) and kept in NFC; with a `tokenizer`, so are texts
    /// (`RequestRules.checkText`: a text it reads no token from is a bad line).
    public static func read(_ url: URL, format: CorpusFormat? = nil, tokenizer: BertTokenizer? = nil) throws -> Corpus {
        let data = try contents(of: url)
        return data.withUnsafeBytes { raw in
            parse(raw.bindMemory(to: UInt8.self), format: format, url: url, tokenizer: tokenizer)
        }
    }

    /// A file mapped; a pipe (`/dev/stdin`, `<(zcat corpus.jsonl.gz)`), which cannot be, read to its end.
    static func contents(of url: URL) throws -> Data {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else {
            throw ReadError.unreadable(url.path, "no such file")
        }
        guard !isFolder.boolValue else { throw ReadError.unreadable(url.path, "it is a folder, not a file") }
        if let mapped = try? Data(contentsOf: url, options: .alwaysMapped) { return mapped }
        do {
            let handle = try FileHandle(forReadingFrom: url)
            defer { try? handle.close() }
            return try handle.readToEnd() ?? Data()
        } catch {
            throw ReadError.unreadable(url.path, (error as NSError).localizedDescription)
        }
    }

    static func parse(
        _ bytes: UnsafeBufferPointer<UInt8>, format: CorpusFormat?, url: URL, tokenizer: BertTokenizer? = nil
    ) -> Corpus {
        let firstByte = bytes.first { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\n") }
        let format = format ?? CorpusFormat.guess(for: url, firstByte: firstByte)
        var records: [Record] = []
        var problems: [CorpusProblem] = []
        var lineNumber = 0
        var start = 0
        while start < bytes.count {
            lineNumber += 1
            var end = start
            while end < bytes.count && bytes[end] != UInt8(ascii: "\n") { end += 1 }
            var lineEnd = end
            if lineEnd > start && bytes[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
            let line = UnsafeBufferPointer(rebasing: bytes[start..<lineEnd])
            start = end + 1
            if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) { continue }
            switch parseLine(line, format: format, tokenizer: tokenizer) {
            case .success(let passage): records.append(Record(line: lineNumber, passage: passage))
            case .failure(let reason): problems.append(CorpusProblem(line: lineNumber, reason: reason.text))
            }
        }
        var lastIndex: [String: Int] = [:]
        for (index, record) in records.enumerated() { lastIndex[record.passage.id] = index }
        let duplicates = records.count - lastIndex.count
        if duplicates > 0 {
            records = records.enumerated().filter { lastIndex[$0.element.passage.id] == $0.offset }.map(\.element)
        }
        return Corpus(records: records, problems: problems, duplicateIds: duplicates, format: format)
    }

    struct LineError: Error {
        var text: String
    }

    static func parseLine(
        _ line: UnsafeBufferPointer<UInt8>, format: CorpusFormat, tokenizer: BertTokenizer? = nil
    ) -> Result<Passage, LineError> {
        guard let text = String(validating: line, as: UTF8.self) else {
            return .failure(LineError(text: "invalid UTF-8"))
        }
        switch format {
        case .tsv:
            guard let tab = text.firstIndex(of: "\t") else {
                return .failure(LineError(text: "expected id<TAB>text"))
            }
            let id = String(text[..<tab]).trimmingCharacters(in: .whitespaces)
            let body = String(text[text.index(after: tab)...]).trimmingCharacters(in: .whitespaces)
            return validated(id: id, text: body, tokenizer: tokenizer)
        case .jsonl:
            do {
                let record = try JSONDecoder().decode(JSONLine.self, from: Data(line))
                return validated(id: record.id, text: record.text, tokenizer: tokenizer)
            } catch let error as LineError {
                return .failure(error)
            } catch DecodingError.typeMismatch {
                return .failure(LineError(text: "expected a JSON object with \"id\" and \"text\""))
            } catch {
                return .failure(LineError(text: "invalid JSON"))
            }
        }
    }

    /// `{"id": "...", "text": "..."}`; other fields are ignored.
    struct JSONLine: Decodable {
        var id: String
        var text: String

        enum CodingKeys: String, CodingKey { case id, text }

        init(from decoder: any Decoder) throws {
            let fields = try decoder.container(keyedBy: CodingKeys.self)
            guard fields.contains(.id) else { throw LineError(text: "missing \"id\"") }
            if let string = try? fields.decode(String.self, forKey: .id) {
                id = string
            } else if let number = try? fields.decode(Int64.self, forKey: .id) {
                id = String(number)
            } else {
                throw LineError(text: "\"id\" must be a string or an integer")
            }
            guard fields.contains(.text) else { throw LineError(text: "missing \"text\"") }
            guard let body = try? fields.decode(String.self, forKey: .text) else {
                throw LineError(text: "\"text\" must be a string")
            }
            text = body
        }
    }

    /// The most bytes an id may have: the server's default `max_id_bytes`.
    static let maxIdBytes = Limits().maxIdBytes

    static func validated(id: String, text: String, tokenizer: BertTokenizer?) -> Result<Passage, LineError> {
        do {
            let id = try RequestRules.checkID(id, field: "id", maxBytes: maxIdBytes)
            try RequestRules.checkText(text, field: "text of id \(id)", tokenizer: tokenizer)
            return .success(Passage(id: id, text: text))
        } catch {
            return .failure(LineError(text: error.description))
        }
    }
}

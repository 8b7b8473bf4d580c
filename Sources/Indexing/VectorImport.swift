import Cascade
import Foundation
import VectorStore

/// Why vectors brought from elsewhere cannot be imported; nothing is written when this is thrown.
public enum ImportError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case badNpy(path: String, reason: String)
    case rowCountMismatch(vectors: String, rows: Int, passages: String, lines: Int)
    case dimensionMismatch(path: String, expected: Int, got: Int)
    case badLines(path: String, problems: [CorpusProblem])

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .badNpy(let path, let reason):
            return "\(path) is not a usable .npy file: \(reason)"
        case .rowCountMismatch(let vectors, let rows, let passages, let lines):
            return
                "\(vectors) holds \(rows) vectors but \(passages) has \(lines) passages; they must pair up line by row"
        case .dimensionMismatch(let path, let expected, let got):
            return "\(path) holds \(got)-dimensional vectors; the model has \(expected) dimensions"
        case .badLines(let path, let problems):
            let shown = problems.prefix(20).map { "\(path): \($0)" }.joined(separator: "\n")
            let more = problems.count > 20 ? "\n... \(problems.count - 20) more bad lines" : ""
            return "\(problems.count) bad lines; nothing was imported:\n\(shown)\(more)"
        }
    }
}

/// Passages and their precomputed vectors, checked whole before anything is written: a `.npy`
/// float matrix (float32, float16 or float64, C order, rows x dimension) paired row by line with
/// a passages file (JSON lines or id<TAB>text, as `cascade index` reads), or JSON lines with
/// "id", "text" and "vector" fields.
public struct ImportSource: Sendable {
    public let passages: [Passage]
    public let dimension: Int
    /// Row i's vector, as floats.
    private let rows: @Sendable (Int) -> [Float]

    public var count: Int { passages.count }
    public func vector(_ row: Int) -> [Float] { rows(row) }

    /// Every vector against what a store of `model` takes, so that a bad row refuses the whole
    /// import before a store is created or written.
    public func check(against model: StoreModel) throws {
        for row in 0..<count { try VectorStore.check(vector(row), id: passages[row].id, model: model) }
    }

    public static func npy(vectors: URL, passages: URL, format: CorpusFormat? = nil) throws -> ImportSource {
        let matrix = try NpyMatrix(url: vectors)
        let corpus = try Corpus.read(passages, format: format)
        if !corpus.problems.isEmpty { throw ImportError.badLines(path: passages.path, problems: corpus.problems) }
        // Rows pair with lines, so a repeated id (which `Corpus` folds) would shift them.
        if corpus.duplicateIds > 0 {
            throw ImportError.badLines(
                path: passages.path,
                problems: [
                    CorpusProblem(line: 0, reason: "\(corpus.duplicateIds) repeated ids; each id must appear once")
                ])
        }
        guard matrix.rows == corpus.records.count else {
            throw ImportError.rowCountMismatch(
                vectors: vectors.path, rows: matrix.rows, passages: passages.path, lines: corpus.records.count)
        }
        return ImportSource(passages: corpus.records.map(\.passage), dimension: matrix.columns, rows: matrix.row)
    }

    public static func jsonl(_ url: URL) throws -> ImportSource {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw ImportError.unreadable(path: url.path, reason: (error as NSError).localizedDescription)
        }
        var passages = [Passage]()
        var vectors = [Float]()
        var problems = [CorpusProblem]()
        var dimension: Int?
        var seen = Set<String>()
        var lineNumber = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            guard line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") }) else { continue }
            do {
                var record = try JSONDecoder().decode(VectorLine.self, from: line)
                do {
                    record.id = try RequestRules.checkID(record.id, field: "id", maxBytes: Corpus.maxIdBytes)
                } catch {
                    throw Corpus.LineError(text: error.description)
                }
                guard !record.vector.isEmpty else { throw Corpus.LineError(text: "empty \"vector\"") }
                if let dimension, record.vector.count != dimension {
                    throw Corpus.LineError(
                        text: "\"vector\" has \(record.vector.count) numbers; earlier lines have \(dimension)")
                }
                guard seen.insert(record.id).inserted else { throw Corpus.LineError(text: "repeated id \(record.id)") }
                dimension = record.vector.count
                passages.append(Passage(id: record.id, text: record.text))
                vectors += record.vector
            } catch let error as Corpus.LineError {
                problems.append(CorpusProblem(line: lineNumber, reason: error.text))
            } catch {
                problems.append(CorpusProblem(line: lineNumber, reason: "invalid JSON"))
            }
        }
        if !problems.isEmpty { throw ImportError.badLines(path: url.path, problems: problems) }
        guard let dimension else {
            throw ImportError.badLines(path: url.path, problems: [CorpusProblem(line: 0, reason: "no vectors in it")])
        }
        let all = vectors
        return ImportSource(passages: passages, dimension: dimension) {
            Array(all[$0 * dimension..<($0 + 1) * dimension])
        }
    }

    /// `{"id", "text", "vector": [numbers]}`; other fields are ignored.
    struct VectorLine: Decodable {
        var id: String
        var text: String
        var vector: [Float]

        enum CodingKeys: String, CodingKey { case id, text, vector }

        init(from decoder: any Decoder) throws {
            let fields = try decoder.container(keyedBy: CodingKeys.self)
            guard fields.contains(.id) else { throw Corpus.LineError(text: "missing \"id\"") }
            if let string = try? fields.decode(String.self, forKey: .id) {
                id = string
            } else if let number = try? fields.decode(Int64.self, forKey: .id) {
                id = String(number)
            } else {
                throw Corpus.LineError(text: "\"id\" must be a string or an integer")
            }
            guard let body = try? fields.decode(String.self, forKey: .text) else {
                throw Corpus.LineError(text: fields.contains(.text) ? "\"text\" must be a string" : "missing \"text\"")
            }
            text = body
            guard fields.contains(.vector) else { throw Corpus.LineError(text: "missing \"vector\"") }
            guard let numbers = try? fields.decode([Double].self, forKey: .vector) else {
                throw Corpus.LineError(text: "\"vector\" must be an array of numbers")
            }
            guard numbers.allSatisfy({ $0.isFinite && abs($0) <= Double(Float.greatestFiniteMagnitude) }) else {
                throw Corpus.LineError(text: "\"vector\" has a value out of float range")
            }
            vector = numbers.map { Float($0) }
        }
    }
}

/// The first `limit` rows of a 2-D `.npy` file (query vectors made elsewhere, for `cascade
/// calibrate`); the same formats and errors as an import's vectors. The file is mapped, so rows
/// past `limit` are never read.
public func npyRows(_ url: URL, limit: Int = .max) throws -> [[Float]] {
    let matrix = try NpyMatrix(url: url)
    return (0..<min(matrix.rows, max(0, limit))).map(matrix.row)
}

/// A 2-D `.npy` array, memory-mapped: format versions 1-3, little-endian float16/32/64, C order.
struct NpyMatrix: Sendable {
    let rows: Int
    let columns: Int
    let row: @Sendable (Int) -> [Float]

    init(url: URL) throws {
        let path = url.path
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw ImportError.unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
        func bad(_ reason: String) -> ImportError { .badNpy(path: path, reason: reason) }
        guard data.count >= 10, data.prefix(6) == Data([0x93] + Array("NUMPY".utf8)) else {
            throw bad("it does not start with the .npy magic bytes")
        }
        let major = data[data.startIndex + 6]
        let lengthBytes = major == 1 ? 2 : 4
        guard (1...3).contains(major), data.count >= 8 + lengthBytes else {
            throw bad("unknown format version \(major)")
        }
        let headerLength = data.subdata(in: 8..<8 + lengthBytes).reduce((0, 0)) { ($0.0 | Int($1) << $0.1, $0.1 + 8) }.0
        let start = 8 + lengthBytes + headerLength
        guard data.count >= start else { throw bad("the header is truncated") }
        let header = String(decoding: data.subdata(in: 8 + lengthBytes..<start), as: UTF8.self)
        func field(_ name: String) -> String? {
            guard let range = header.range(of: "'\(name)':") else { return nil }
            return String(header[range.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descr = field("descr")?.split(separator: "'").first.map(String.init) else {
            throw bad("no 'descr' in the header")
        }
        let width: Int
        switch descr {
        case "<f4": width = 4
        case "<f2": width = 2
        case "<f8": width = 8
        default: throw bad("dtype \(descr); expected little-endian float32 (<f4), float16 (<f2) or float64 (<f8)")
        }
        guard field("fortran_order")?.hasPrefix("False") == true else { throw bad("Fortran order; save it in C order") }
        guard let shapeText = field("shape"), let open = shapeText.firstIndex(of: "("),
            let close = shapeText.firstIndex(of: ")")
        else { throw bad("no 'shape' in the header") }
        let shape = shapeText[shapeText.index(after: open)..<close].split(separator: ",").compactMap {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
        guard shape.count == 2, shape[1] > 0 else { throw bad("shape \(shape); expected (rows, dimension)") }
        let (rows, columns) = (shape[0], shape[1])
        guard data.count - start == rows * columns * width else {
            throw bad("\(data.count - start) bytes of data for shape (\(rows), \(columns)) of \(descr)")
        }
        self.rows = rows
        self.columns = columns
        self.row = { r in
            data.withUnsafeBytes { raw in
                let base = start + r * columns * width
                return (0..<columns).map { j in
                    switch width {
                    case 2:
                        return Float(
                            Float16(bitPattern: raw.loadUnaligned(fromByteOffset: base + 2 * j, as: UInt16.self)))
                    case 8: return Float(raw.loadUnaligned(fromByteOffset: base + 8 * j, as: Double.self))
                    default: return raw.loadUnaligned(fromByteOffset: base + 4 * j, as: Float.self)
                    }
                }
            }
        }
    }
}

/// Writes an `ImportSource` into a store in batches, each its own transaction; a passage already
/// stored with the same text is skipped, so rerunning a killed import finishes it.
public struct VectorImporter: Sendable {
    public let store: VectorStore
    public var batchSize: Int

    public init(store: VectorStore, batchSize: Int = 1000) {
        self.store = store
        self.batchSize = max(1, batchSize)
    }

    public func run(_ source: ImportSource, progress: (IndexProgress) -> Void = { _ in }) throws -> IndexProgress {
        guard source.dimension == store.model.dimension else {
            throw StoreError.dimensionMismatch(id: nil, expected: store.model.dimension, got: source.dimension)
        }
        let clock = ContinuousClock()
        let started = clock.now
        var state = IndexProgress(total: source.count, done: 0, indexed: 0, alreadyPresent: 0, elapsed: .zero)
        for first in stride(from: 0, to: source.count, by: batchSize) {
            try Task.checkCancellation()
            let range = first..<min(first + batchSize, source.count)
            let stored = try store.passages(ids: range.map { source.passages[$0].id })
            let todo = zip(range, stored).filter { $0.1?.text != source.passages[$0.0].text }.map(\.0)
            try store.upsert(todo.map { (passage: source.passages[$0], vector: source.vector($0)) })
            state.alreadyPresent += range.count - todo.count
            state.indexed += todo.count
            state.done += range.count
            state.elapsed = clock.now - started
            progress(state)
        }
        state.elapsed = clock.now - started
        return state
    }
}

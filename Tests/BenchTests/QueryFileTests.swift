import Foundation
import Testing

@testable import LoadTesting

@Suite struct QueryFileTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    @Test func tabSeparatedAndBareLinesMix() throws {
        let queries = try QueryFile.parse("q1\tlinear algebra library\r\n\n  \nspell checker\nq3\t  ssh client \n")
        #expect(
            queries == [
                BenchQuery(id: "q1", text: "linear algebra library"),
                BenchQuery(id: "line-4", text: "spell checker"),
                BenchQuery(id: "q3", text: "ssh client"),
            ])
    }

    @Test func windowsLineEndsSplitLines() throws {
        let queries = try QueryFile.parse("q1\tfirst\r\nq2\tsecond\r\n")
        #expect(queries == [BenchQuery(id: "q1", text: "first"), BenchQuery(id: "q2", text: "second")])
    }

    @Test func theSampleQueriesLoad() throws {
        let path = Self.packageRoot.appending(path: "samples/debian-desc/queries.tsv").path
        let queries = try QueryFile.load(path: path)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").count
        #expect(queries.count == lines)
        #expect(queries.first?.id == "dev-0")
        #expect(queries.first?.text == "multi-dimensional arrays with broadcasting (transition package)")
    }

    @Test(arguments: [
        ("", "no queries: expected one per line, `qid<TAB>text` or the bare text"),
        ("\n \n", "no queries: expected one per line, `qid<TAB>text` or the bare text"),
        ("q1\tfine\nq2\t \n", "line 2 (id q2) has no query text after the tab"),
        ("\tno id\n", "line 1 has an empty query id before the tab"),
    ])
    func aBadQueryFileSaysWhichLine(text: String, message: String) {
        #expect(throws: BenchError(message)) { try QueryFile.parse(text) }
    }

    @Test func fileErrorsNameTheFile() throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        let latin1 = directory.appending(path: "latin1.tsv")
        try Data([0x71, 0x31, 0x09, 0x63, 0x61, 0x66, 0xE9, 0x0A]).write(to: latin1)
        #expect(throws: BenchError("query file \(latin1.path) is not valid UTF-8")) {
            try QueryFile.load(path: latin1.path)
        }

        let empty = directory.appending(path: "empty.tsv")
        try Data().write(to: empty)
        #expect(
            throws: BenchError(
                "query file \(empty.path): no queries: expected one per line, `qid<TAB>text` or the bare text")
        ) {
            try QueryFile.load(path: empty.path)
        }

        let missing = directory.appending(path: "missing.tsv").path
        let error = #expect(throws: BenchError.self) { try QueryFile.load(path: missing) }
        #expect(error?.message.hasPrefix("cannot read query file \(missing): ") == true)
    }
}

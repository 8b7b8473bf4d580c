import Foundation
import Testing

/// search-bench is a benchmark, but a typo in its options must still say what is wrong.
@Suite struct SearchBenchArgumentTests {
    @Test(arguments: [
        (["--k", "x"], "--k takes an integer, got 'x'"),
        (["--codes", "int9"], "--codes takes fp32, fp16 or int8 separated by commas, got 'int9'"),
        (["--nprobe", "8,,x"], "--nprobe takes integers separated by commas, got '8,,x'"),
        (["--data", "uniform"], "--data is gaussian or mixture, got 'uniform'"),
        (["--store", "/nonexistent"], "--store needs --query-file and --truth-file"),
        (["--speed"], "unknown option --speed"),
        (["--k"], "missing value for --k"),
    ])
    func badOptionsFailWithAMessage(arguments: [String], message: String) throws {
        let output = try run(try productBinary("search-bench"), arguments)
        #expect(output.status == 2)
        #expect(output.stderr.contains(message), "\(output.stderr)")
    }
}

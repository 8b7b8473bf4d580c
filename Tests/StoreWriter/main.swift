// A child process for VectorStoreTests: writes to a store so the tests can kill it mid-write
// (SIGKILL) or starve it of disk (RLIMIT_FSIZE) and then check what the store kept.
//
//   store-writer batches DIR BATCHES ITEMS   upsert batch after batch, print "committed N" after each
//   store-writer fill DIR LIMIT_BYTES ITEMS  cap file size, try one big upsert, print the error
//   store-writer repartition DIR N 0         repartition an existing store N times, alternating
//                                            10 and 17 partitions, print "repartitioned I" after each
import Foundation
import VectorStore

#if canImport(Glibc)
    import Glibc
#endif

/// The model and layout shared with BatchModel in the tests.
let model = StoreModel(fingerprint: "batch-test", dimension: 8, pooling: "none", similarity: .dot)
let options = StoreOptions(blockSize: 16, initialMapSize: 1 << 20)

/// Batch b adds ITEMS passages "b<b>-<i>" whose vector is (b + 1) e0, and sets "latest" to the same.
func batch(_ b: Int, items: Int) -> [(passage: Passage, vector: [Float])] {
    var vector = [Float](repeating: 0, count: model.dimension)
    vector[0] = Float(b + 1)
    vector[1 + b % (model.dimension - 1)] = 0.5
    var out = (0..<items).map { (passage: Passage(id: "b\(b)-\($0)", text: "batch \(b) item \($0)"), vector: vector) }
    out.append((passage: Passage(id: "latest", text: "\(b)"), vector: vector))
    return out
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(2)
}

let args = CommandLine.arguments
guard args.count == 5 else { fail("usage: store-writer batches|fill DIR N ITEMS") }
let directory = URL(fileURLWithPath: args[2])
guard let n = Int(args[3]), let items = Int(args[4]) else { fail("N and ITEMS must be integers") }

switch args[1] {
case "batches":
    do {
        let store = try VectorStore.open(at: directory, model: model, options: options)
        for b in 0..<n {
            try store.upsert(batch(b, items: items))
            FileHandle.standardOutput.write(Data("committed \(b)\n".utf8))
        }
    } catch {
        fail("\(error)")
    }
case "fill":
    var limit = rlimit(rlim_cur: rlim_t(n), rlim_max: rlim_t.max)
    signal(SIGXFSZ, SIG_IGN)  // so an oversized write fails with EFBIG instead of killing us
    guard setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &limit) == 0 else { fail("setrlimit failed") }
    do {
        let store = try VectorStore.open(at: directory, model: model, options: options)
        let big = (0..<items).map { i in
            (
                passage: Passage(id: "big-\(i)", text: String(repeating: "x", count: 200)),
                vector: [Float](repeating: Float(i), count: model.dimension)
            )
        }
        try store.upsert(big)
        fail("the upsert succeeded although the file size was capped at \(n) bytes")
    } catch {
        FileHandle.standardOutput.write(Data("error: \(error)\n".utf8))
    }
case "repartition":
    do {
        let store = try VectorStore.open(
            at: directory,
            model: StoreModel(fingerprint: "repartition-test", dimension: 16, pooling: "none", similarity: .cosine),
            options: StoreOptions(blockSize: 64, initialMapSize: 1 << 20, codes: .int8))
        for i in 0..<n {
            try store.repartition(partitions: i % 2 == 0 ? 10 : 17, seed: UInt64(i))
            FileHandle.standardOutput.write(Data("repartitioned \(i)\n".utf8))
        }
    } catch {
        fail("\(error)")
    }
default:
    fail("unknown mode \(args[1])")
}

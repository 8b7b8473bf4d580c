import Foundation
import VectorStore

/// `search-bench --store DIR --query-file Q.f32 --truth-file T.i32 --nprobe 16,32 [--rescore-k R]`:
/// times one query at a time on a store built elsewhere (by `cascade import`, say), too big for
/// search-bench to build or to hold in memory, at each nprobe in turn, against a truth computed
/// elsewhere (rows, for ids "p<row>"). Prints RESULT lines and the process's peak resident memory.
func runOnStore(_ options: Options, store path: URL) throws {
    let store = try VectorStore.open(existingAt: path, readOnly: true)
    let stats = try store.stats()
    let dim = stats.model.dimension
    let queryValues = try readRaw(Float.self, options.queryFile!)
    let queries = stride(from: 0, to: queryValues.count, by: dim).map { Array(queryValues[$0..<$0 + dim]) }
    let truthValues = try readRaw(Int32.self, options.truthFile!)
    let k = truthValues.count / queries.count
    let truth = (0..<queries.count).map { q in Set(truthValues[q * k..<(q + 1) * k].map { "p\($0)" }) }
    print(
        "store \(path.lastPathComponent): \(stats.count) vectors x \(dim), \(stats.codes.rawValue) codes, "
            + "\(stats.partitionSizes.count) partitions, \(stats.bytesOnDisk / 1_048_576) MiB on disk; "
            + "\(queries.count) queries, k \(k); resident after opening it \(residentKiB("VmRSS:") / 1024) MiB")
    let clock = ContinuousClock()
    let nprobes = options.nprobes.isEmpty ? [nil] : options.nprobes.map { Optional($0) }
    for nprobe in nprobes {
        let search = SearchOptions(rescoreK: options.rescoreK, nprobe: nprobe)
        for q in queries.prefix(5) { _ = try store.search(q, k: k, options: search) }
        var times = [Double]()
        var found = 0
        for (q, want) in zip(queries, truth) {
            let start = clock.now
            let hits = try store.search(q, k: k, options: search)
            times.append(milliseconds(clock.now - start))
            found += hits.filter { want.contains($0.id) }.count
        }
        times.sort()
        let p99 = times[min(times.count - 1, Int((Double(times.count) * 0.99).rounded(.up)) - 1)]
        let rescore = store.codes == .fp32 ? "" : "_rescore_\(options.rescoreK ?? 4 * k)"
        print(
            String(
                format: "RESULT swift n=%d config=%@_ivf%d_nprobe_%@%@ median_ms=%.3f p99_ms=%.3f recall=%.4f "
                    + "peak_rss_mib=%.0f",
                stats.count, stats.codes.rawValue, stats.partitionSizes.count, nprobe.map(String.init) ?? "default",
                rescore, times[times.count / 2], p99, Double(found) / Double(queries.count * k),
                Double(residentKiB("VmHWM:")) / 1024))
    }
}

private func readRaw<T>(_: T.Type, _ url: URL) throws -> [T] {
    let data = try Data(contentsOf: url)
    return data.withUnsafeBytes { Array($0.bindMemory(to: T.self)) }
}

/// A field of /proc/self/status in KiB: VmRSS (resident now), VmHWM (the most it has been).
private func residentKiB(_ field: String) -> Int {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix(field) } ?? ""
    // "VmHWM:\t  123456 kB", but "VmHWM:\t10470092 kB" once the number fills the column.
    return Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "") ?? 0
}

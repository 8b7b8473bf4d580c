import ArgumentParser
import Foundation
import VectorStore

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Print what a store holds."
    )

    @Option(help: "The store directory.")
    var store: String

    @Flag(help: "One JSON object.")
    var json = false

    func run() throws {
        let stats = try VectorStore.open(existingAt: URL(fileURLWithPath: store), readOnly: true).stats()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(stats), as: UTF8.self))
            return
        }
        print(
            """
            store:       \(stats.path)
            passages:    \(stats.count)
            dimension:   \(stats.model.dimension)
            pooling:     \(stats.model.pooling)
            similarity:  \(stats.model.similarity.rawValue)
            model:       \(stats.model.fingerprint)
            encoded at:  \(precisionDescription(stats.encoderPrecisions))
            format:      \(stats.formatVersion)
            size:        \(mib(stats.bytesOnDisk)) MiB on disk, \(residentDescription) in memory now
            codes:       \(stats.codes.rawValue), \(stats.bytesPerVector) bytes/vector scanned
            scanned:     \(mib(stats.scannedBytes)) MiB of blocks (keep these resident)
            rescoring:   \(mib(stats.rescoreBytes)) MiB of full-precision vectors (read per candidate)
            partitions:  \(partitionDescription(stats.partitionSizes))
            """)
        if let nprobe = stats.defaultNprobe {
            print(
                "nprobe:      \(nprobe) by default"
                    + (stats.nprobeCalibrated ? " (calibrated)" : " (an eighth, at least 8; see cascade calibrate)"))
        }
    }

    private func mib(_ bytes: Int) -> String { String(format: "%.1f", Double(bytes) / 1_048_576) }

    /// How much of data.mdb the page cache holds (mincore over a mapping of it).
    private var residentDescription: String {
        let path = URL(fileURLWithPath: store).appendingPathComponent("data.mdb").path
        guard let bytes = residentBytes(path) else { return "? MiB" }
        return "\(mib(bytes)) MiB"
    }

    private func precisionDescription(_ precisions: [String]) -> String {
        switch precisions.count {
        case 0: "not recorded (imported vectors, or indexed by a build that did not keep it)"
        case 1: precisions[0]
        default: precisions.joined(separator: " and ") + " (mixed: indexed at each)"
        }
    }

    private func partitionDescription(_ sizes: [Int]) -> String {
        guard !sizes.isEmpty else { return "none (every search scans all blocks)" }
        let sorted = sizes.sorted()
        return
            "\(sizes.count), vectors per partition min \(sorted[0]), median \(sorted[sorted.count / 2]), max \(sorted.last!)"
    }
}

/// Bytes of `path` in the page cache, or nil when it cannot be mapped.
func residentBytes(_ path: String) -> Int? {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0, info.st_size > 0 else { return nil }
    let length = Int(info.st_size)
    guard let map = mmap(nil, length, PROT_READ, MAP_SHARED, fd, 0), map != UnsafeMutableRawPointer(bitPattern: -1)
    else { return nil }
    defer { munmap(map, length) }
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    var vector = [UInt8](repeating: 0, count: (length + page - 1) / page)
    guard mincore(map, length, &vector) == 0 else { return nil }
    return vector.reduce(0) { $0 + Int($1 & 1) } * page
}

import Foundation
import Testing

@testable import VectorStore

/// Replicas share one index on a read-only volume. A read-only bind mount stands in for that
/// volume; making one needs root and `mount`, so the test says so and skips elsewhere.
@Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/bin/mount")))
func searchesAStoreOnAReadOnlyFileSystem() throws {
    let temp = try TempDir()
    let store = try VectorStore.open(at: temp.store(), model: model(dimension: 4))
    try store.upsert([
        (Passage(id: "a", text: "alpha"), [1, 0, 0, 0]), (Passage(id: "b", text: "beta"), [0, 1, 0, 0]),
    ])
    let mountPoint = temp.url.appendingPathComponent("readonly")
    try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
    func mount(_ arguments: [String]) throws -> Int32 {
        let process = try Process.run(URL(fileURLWithPath: "/bin/mount"), arguments: arguments)
        process.waitUntilExit()
        return process.terminationStatus
    }
    guard try mount(["--bind", temp.store().path, mountPoint.path]) == 0 else {
        Issue.record("mount --bind failed although running as root")
        return
    }
    defer {
        let unmount = try? Process.run(URL(fileURLWithPath: "/bin/umount"), arguments: [mountPoint.path])
        unmount?.waitUntilExit()
    }
    guard try mount(["-o", "remount,bind,ro", mountPoint.path]) == 0 else {
        Issue.record("remounting read-only failed")
        return
    }
    #expect(!FileManager.default.isWritableFile(atPath: mountPoint.path))
    let replica = try VectorStore.open(existingAt: mountPoint, readOnly: true)
    #expect(try replica.search([0, 1, 0, 0], k: 1).map(\.id) == ["b"])
    #expect(try replica.passage(id: "a")?.text == "alpha")
}

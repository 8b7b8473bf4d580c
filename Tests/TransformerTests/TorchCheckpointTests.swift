import Foundation
import Testing

@testable import Transformer

/// Fixtures from scripts/fixtures/make_torch_fixtures.py (torch 2.15.0).
private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fixtures/Torch")

private func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

private struct Expected: Decodable {
    var dtype: String?
    var shape: [Int]
    var bits: [UInt32]?
    var unsupported: Bool?
}

private func expectedTensors() throws -> [String: Expected] {
    let data = try Data(contentsOf: fixtures.appendingPathComponent("tensors.json"))
    return try JSONDecoder().decode([String: Expected].self, from: data)
}

/// A scratch copy of a fixture, edited by `edit`, in its own temporary directory.
private func corruptCopy(of name: String, as newName: String? = nil, _ edit: (inout [UInt8]) -> Void) throws -> String {
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture(name))))
    edit(&bytes)
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("torch-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let url = directory.appendingPathComponent(newName ?? name)
    try Data(bytes).write(to: url)
    return url.path
}

private func replaceAll(_ bytes: inout [UInt8], _ old: String, _ new: String) -> Int {
    let (o, n) = (Array(old.utf8), Array(new.utf8))
    precondition(o.count == n.count)
    var count = 0
    var i = 0
    while i + o.count <= bytes.count {
        if Array(bytes[i..<i + o.count]) == o {
            bytes.replaceSubrange(i..<i + o.count, with: n)
            count += 1
        }
        i += 1
    }
    return count
}

/// The message of the `WeightsError` that opening `path` throws; fails the test on success or another error.
private func openingError(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) -> String {
    do {
        let checkpoint = try TorchCheckpoint(path: path)
        for name in checkpoint.tensorNames { _ = try checkpoint.float32(name) }
        Issue.record("\(path) opened without an error", sourceLocation: sourceLocation)
    } catch let error as WeightsError {
        return error.description
    } catch {
        Issue.record("not a WeightsError: \(error)", sourceLocation: sourceLocation)
    }
    return ""
}

private func bits(_ tensor: FloatTensor) -> [UInt32] { tensor.buffer.map(\.bitPattern) }

@Suite struct TorchCheckpointValues {
    @Test(arguments: ["tensors.bin", "tensors-zip64.bin"])
    func everyTensorMatchesTorch(file: String) throws {
        let checkpoint = try TorchCheckpoint(path: fixture(file))
        let expected = try expectedTensors()
        #expect(checkpoint.fileName == file)
        #expect(checkpoint.tensorNames == expected.keys.sorted())
        for (name, reference) in expected {
            if reference.unsupported == true {
                #expect(checkpoint.info(name) == nil)
                #expect(throws: WeightsError.self) { try checkpoint.float32(name) }
                continue
            }
            let info = try #require(checkpoint.info(name), "\(name)")
            #expect(info.dtype.rawValue == reference.dtype, "\(name)")
            #expect(info.shape == reference.shape, "\(name)")
            let tensor = try checkpoint.float32(name)
            #expect(tensor.shape == reference.shape, "\(name)")
            // NaN payloads differ between torch's software f16 conversion and the hardware one: any NaN will do.
            let canonical = { (bits: [UInt32]) in bits.map { Float(bitPattern: $0).isNaN ? 0x7FC0_0000 : $0 } }
            #expect(canonical(bits(tensor)) == canonical(reference.bits ?? []), "\(name)")
        }
    }

    @Test func unsupportedDTypesAreNamed() throws {
        let checkpoint = try TorchCheckpoint(path: fixture("tensors.bin"))
        #expect(throws: WeightsError.unsupportedDType(file: "tensors.bin", name: "u16", dtype: "torch.uint16")) {
            try checkpoint.float32("u16")
        }
        #expect(throws: WeightsError.unsupportedDType(file: "tensors.bin", name: "i32", dtype: "torch.IntStorage")) {
            try checkpoint.float32("i32")
        }
        #expect(throws: WeightsError.missingTensor(file: "tensors.bin", name: "not_a_tensor")) {
            try checkpoint.float32("not_a_tensor")
        }
    }

    @Test func float32ViewsShareTheMappedStorage() throws {
        let checkpoint = try TorchCheckpoint(path: fixture("tensors.bin"))
        let base = try checkpoint.float32("shared.base")
        let view = try checkpoint.float32("shared.view")
        let row = try checkpoint.float32("shared.row")
        // Zero copy: the views point into the same mapped record as the tensor they share storage with.
        #expect(view.pointer == base.pointer + 5)
        #expect(row.pointer == base.pointer + 12)
        let sharesMap = base.owner === view.owner
        #expect(sharesMap)
        let converted = try checkpoint.float32("f16")
        let ownsCopy = converted.owner !== base.owner
        #expect(ownsCopy)
    }

    @Test func bertCheckpointIsBitIdenticalToItsSafetensors() throws {
        let directory = fixtures.appendingPathComponent("bert-tiny")
        let torch = try TorchCheckpoint(path: directory.appendingPathComponent("pytorch_model.bin").path)
        let safetensors = try SafetensorsFile(path: directory.appendingPathComponent("model.safetensors").path)
        #expect(torch.tensorNames == safetensors.tensorNames)
        #expect(torch.tensorNames.contains("encoder.layer.1.attention.self.query.weight"))
        for name in safetensors.tensorNames {
            #expect(torch.info(name) == safetensors.info(name), "\(name)")
            let (a, b) = (try torch.float32(name), try safetensors.float32(name))
            #expect(a.shape == b.shape, "\(name)")
            #expect(bits(a) == bits(b), "\(name)")
        }
    }

    @Test func openWeightsFallsBackToPytorchModelBin() throws {
        let path = try corruptCopy(of: "bert-tiny/pytorch_model.bin", as: "pytorch_model.bin") { _ in }
        let weights = try openWeights(in: URL(fileURLWithPath: path).deletingLastPathComponent())
        #expect(weights is TorchCheckpoint)
        #expect(try weights.float32("pooler.dense.weight", shape: [16, 16]).count == 256)
    }
}

@Suite struct TorchCheckpointErrors {
    @Test func legacyFormatSaysHowToConvert() {
        let message = openingError(fixture("legacy.bin"))
        #expect(message.hasPrefix("legacy.bin: legacy (pre-1.6, non-zip) PyTorch format"))
        #expect(message.contains("safetensors"))
    }

    @Test func compressedEntryIsRefused() {
        #expect(openingError(fixture("compressed.bin")).contains("'tensors/data.pkl' is compressed"))
    }

    @Test func unknownGlobalIsRefusedNotCalled() {
        let message = openingError(fixture("evil.bin"))
        #expect(message.hasPrefix("evil.bin: evil/data.pkl: refusing global '__builtin__.eval'"))
    }

    @Test func unknownOpcode() {
        #expect(
            openingError(fixture("bad-opcode.bin"))
                == "bad-opcode.bin: tensors/data.pkl: unsupported or unknown pickle opcode (opcode 0xff at byte 2)")
    }

    @Test func stackUnderflow() {
        #expect(
            openingError(fixture("stack-underflow.bin"))
                == "stack-underflow.bin: tensors/data.pkl: pickle stack underflow (opcode 0x73 at byte 2)")
    }

    @Test func truncatedPickle() {
        let message = openingError(fixture("truncated-pickle.bin"))
        #expect(message.hasPrefix("truncated-pickle.bin: tensors/data.pkl: pickle ends in the middle"))
    }

    @Test func truncatedFiles() throws {
        let size = try Data(contentsOf: URL(fileURLWithPath: fixture("tensors.bin"))).count
        for cut in [0, 3, 30, 100, size / 3, size / 2, size - 200, size - 23, size - 22, size - 1] {
            let path = try corruptCopy(of: "tensors.bin") { $0.removeSubrange(cut...) }
            let message = openingError(path)
            #expect(message.contains("tensors.bin: "), "cut at \(cut)")
            if cut >= 4 { #expect(message.contains("truncated"), "cut at \(cut): \(message)") }
        }
    }

    @Test func notAZip() throws {
        let path = try corruptCopy(of: "bert-tiny/config.json", as: "pytorch_model.bin") { _ in }
        #expect(openingError(path) == "pytorch_model.bin: not a zip archive, so not a PyTorch (>= 1.6) checkpoint")
    }

    @Test func missingPickle() throws {
        let path = try corruptCopy(of: "tensors.bin") {
            #expect(replaceAll(&$0, "tensors/data.pkl", "tensors/data.pkx") == 2)
        }
        #expect(openingError(path).contains("no 'tensors/data.pkl' in the archive"))
    }

    @Test func missingDataRecord() throws {
        let path = try corruptCopy(of: "tensors.bin") {
            #expect(replaceAll(&$0, "tensors/data/5", "tensors/data/X") == 2)
        }
        #expect(
            openingError(path)
                == "tensors.bin: tensor 'empty': data record 'tensors/data/5' is missing from the archive")
    }

    @Test func corruptPickleFailsItsChecksum() throws {
        let path = try corruptCopy(of: "tensors.bin") {
            #expect(replaceAll(&$0, "_rebuild_tensor_v2", "_rebuild_tensor_v9") == 1)
        }
        #expect(openingError(path) == "tensors.bin: 'tensors/data.pkl' fails its CRC-32 check (corrupt file)")
    }

    /// Every byte overwritten in turn: each copy either opens (padding, ids) or throws a WeightsError.
    @Test func corruptBytesNeverCrash() throws {
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture("tensors-zip64.bin"))))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("torch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent("tensors-zip64.bin")
        try Data(original).write(to: url)
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        func poke(_ position: Int, _ value: UInt8) throws {
            try handle.seek(toOffset: UInt64(position))
            try handle.write(contentsOf: [value])
        }
        var failures = 0
        for position in stride(from: 0, to: original.count, by: 3) {
            try poke(position, original[position] == 0xFF ? 0x00 : 0xFF)
            defer { try? poke(position, original[position]) }
            do {
                let checkpoint = try TorchCheckpoint(path: url.path)
                for name in checkpoint.tensorNames { _ = try? checkpoint.float32(name) }
            } catch is WeightsError {
                failures += 1
            }
        }
        #expect(failures > 100)
    }
}

@Suite struct TorchPickleFuzz {
    /// The unpickler alone (past the CRC check): every byte of a real data.pkl overwritten in turn,
    /// and every prefix of it, must yield a value or a WeightsError, never a crash.
    @Test func corruptPicklesNeverCrash() throws {
        let file = try MappedFile(path: fixture("tensors.bin"))
        let archive = try ZipArchive(file: file, fileName: "tensors.bin")
        let pickle = [UInt8](try archive.checkedData(try #require(archive.entry(named: "tensors/data.pkl"))))
        var variants: [[UInt8]] = (0..<pickle.count).map { Array(pickle[..<$0]) }
        for position in pickle.indices {
            for value: UInt8 in [0x00, 0x29, 0x4B, 0x75, 0xFF] {
                var bytes = pickle
                bytes[position] = value
                variants.append(bytes)
            }
        }
        var failures = 0
        for bytes in variants {
            do {
                _ = try bytes.withUnsafeBytes { raw in
                    var unpickler = Unpickler(raw) { WeightsError.malformed(file: "tensors.bin", reason: $0) }
                    return try unpickler.run(call: TorchCheckpoint.call, persistentLoad: TorchCheckpoint.persistentLoad)
                }
            } catch is WeightsError {
                failures += 1
            }
        }
        #expect(failures > pickle.count)
    }
}

import CKernels
import Foundation

/// An fp32 weight matrix packed once at load for our kernels, which then run all of its GEMMs: the
/// panels for batches, and in a query encoder the skinny layout for a few rows (one query). The
/// checkpoint's copy is released once packed, so the panels take its place in memory and the
/// skinny copy (a query encoder's only) is what the packing adds: 42.5 MB for all-MiniLM-L6-v2.
struct PackedFloats: Sendable {
    /// Whether this CPU has the AVX2, FMA and F16C the kernels need; without them nothing is packed.
    static let cpuCanRun = cascade_isa_supported() >= CASCADE_ISA_AVX2

    let panels: PackedMatrix
    /// Only in a query encoder.
    let skinny: PackedMatrix?

    init(_ weight: FloatTensor, in arena: PackingArena, forQueries: Bool) {
        panels = PackedMatrix(weight, .panels, in: arena)
        skinny = forQueries ? PackedMatrix(weight, .skinny, in: arena) : nil
    }
}

/// A weight matrix copied into one of our fp32 kernels' layouts, in which each column takes the
/// same number of floats, so a column slice starting on a panel is one offset away.
final class PackedMatrix: @unchecked Sendable {
    enum Layout {
        /// `cascade_sgemm_nt_panels`: panels of 16 columns, each depth step's weights together
        /// (panels.c), for batches.
        case panels
        /// `cascade_sgemm_nt_skinny`: panels of 3 rows interleaved 8 floats at a time (skinny.c), so
        /// that a query streams the weights linearly.
        case skinny

        /// Columns a panel holds: slices start on a multiple of it.
        var panelColumns: Int { self == .panels ? 16 : 3 }
    }

    let layout: Layout
    /// Owns the memory `storage` points into.
    private let arena: PackingArena
    private let storage: UnsafeMutablePointer<Float>
    private let columnFloats: Int

    init(_ weight: FloatTensor, _ layout: Layout, in arena: PackingArena) {
        let (n, k) = (Int32(weight.shape[0]), Int32(weight.shape[1]))
        self.layout = layout
        self.arena = arena
        switch layout {
        case .panels:
            storage = arena.allocate(floats: cascade_panels_packed_count(n, k))
            cascade_panels_pack(n, k, weight.pointer, k, storage)
            columnFloats = Int(k)
        case .skinny:
            storage = arena.allocate(floats: cascade_skinny_packed_count(n, k))
            cascade_skinny_pack(n, k, weight.pointer, k, storage)
            columnFloats = cascade_skinny_packed_count(3, k) / 3
        }
    }

    /// The packed weights from column `column` on, the first of a panel.
    func columns(from column: Int) -> UnsafePointer<Float> {
        precondition(column % layout.panelColumns == 0, "slices start on a panel")
        return UnsafePointer(storage + column * columnFloats)
    }
}

/// The memory of one model's packed weights, handed out in 64-byte-aligned pieces from chunks that
/// are aligned to 2 MiB and marked for transparent huge pages (which Debian enables on `madvise`):
/// a query walks all 42.5 MB of them, and with 4 KiB pages it also walked some 10,000 page-table
/// entries; huge pages made the query's GEMMs 1.03-1.06x faster in paired runs. Pieces are taken
/// while a model loads, on one thread, and live as long as the arena.
final class PackingArena: @unchecked Sendable {
    static let hugePage = 2 << 20
    /// Most models' weights fit in a few chunks; a bigger matrix gets a chunk of its own size.
    static let chunkBytes = 16 << 20

    private var chunks: [UnsafeMutableRawBufferPointer] = []
    private var used = 0

    init() {}

    deinit { for chunk in chunks { chunk.deallocate() } }

    func allocate(floats: Int) -> UnsafeMutablePointer<Float> {
        allocate(bytes: floats * MemoryLayout<Float>.size).bindMemory(to: Float.self, capacity: floats)
    }

    func allocate<T>(_ count: Int, of type: T.Type) -> UnsafeMutablePointer<T> {
        allocate(bytes: count * MemoryLayout<T>.stride).bindMemory(to: T.self, capacity: count)
    }

    func allocate(bytes wanted: Int) -> UnsafeMutableRawPointer {
        let bytes = (wanted + 63) & ~63
        if chunks.isEmpty || used + bytes > chunks[chunks.count - 1].count {
            let size = max(Self.chunkBytes, (bytes + Self.hugePage - 1) / Self.hugePage * Self.hugePage)
            let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: Self.hugePage)
            // Advice only: where huge pages are off or unavailable, the chunk keeps small pages.
            _ = madvise(chunk.baseAddress, size, MADV_HUGEPAGE)
            chunks.append(chunk)
            used = 0
        }
        let piece = chunks[chunks.count - 1].baseAddress! + used
        used += bytes
        return piece
    }

    /// Bytes handed out so far (the packed weights' memory, for reports).
    var bytesUsed: Int { chunks.dropLast().reduce(0) { $0 + $1.count } + used }
}

import COpenBLAS
import Foundation

/// Bounded selection of the k best scores seen so far.
///
/// Orders by score only while scanning (ids live elsewhere and are costly to fetch); items that
/// tie with the current k-th best are kept aside in `ties`, so that after the scan the exact
/// tie-break by id needs ids for at most k + (number of boundary ties) slots.
struct TopK {
    let k: Int
    private(set) var scores: [Float] = []
    private(set) var slots: [UInt32] = []
    private(set) var ties: [(score: Float, slot: UInt32)] = []

    init(k: Int) {
        self.k = k
        scores.reserveCapacity(k)
        slots.reserveCapacity(k)
    }

    /// Scores below this cannot enter; NaN never passes `>=`.
    var threshold: Float { scores.count < k ? -Float.infinity : scores[0] }

    mutating func offer(_ score: Float, _ slot: UInt32) {
        if scores.count < k {
            scores.append(score)
            slots.append(slot)
            siftUp(scores.count - 1)
        } else if score == scores[0] {
            ties.append((score, slot))
        } else if score > scores[0] {
            let evicted = (score: scores[0], slot: slots[0])
            scores[0] = score
            slots[0] = slot
            siftDown(0)
            if evicted.score == scores[0] {
                ties.append(evicted)
            } else {
                ties.removeAll(keepingCapacity: true)
            }
        }
    }

    /// Heap members and boundary ties, unordered.
    var candidates: [(score: Float, slot: UInt32)] {
        Array(zip(scores, slots).map { (score: $0, slot: $1) }) + ties
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard scores[child] < scores[parent] else { break }
            scores.swapAt(child, parent)
            slots.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        let n = scores.count
        while true {
            let left = 2 * parent + 1
            guard left < n else { break }
            var smallest = left
            if left + 1 < n && scores[left + 1] < scores[left] { smallest = left + 1 }
            guard scores[smallest] < scores[parent] else { break }
            scores.swapAt(smallest, parent)
            slots.swapAt(smallest, parent)
            parent = smallest
        }
    }
}

/// Scores one block of vectors in place against one query (sgemv) or several (sgemm) and feeds
/// each query's live slots to its selection. Owns the score buffer for the length of one search.
final class BlockScanner {
    let dimension: Int
    let blockSize: Int
    let queryCount: Int
    /// rows x queryCount, row-major: the scores of one block.
    private let scores: UnsafeMutablePointer<Float>
    private var scratch: UnsafeMutablePointer<Float>?

    init(dimension: Int, blockSize: Int, queryCount: Int = 1) {
        self.dimension = dimension
        self.blockSize = blockSize
        self.queryCount = queryCount
        self.scores = .allocate(capacity: blockSize * queryCount)
    }

    deinit {
        scores.deallocate()
        scratch?.deallocate()
    }

    /// `vectors` points into the memory map; `rows` are the block's slots in use, `live` its
    /// bitmap; `queries` holds `queryCount` row-major queries, `tops` one selection per query.
    func scan(
        block: UInt32, vectors: UnsafeRawBufferPointer, rows: Int, live: UnsafeRawBufferPointer,
        queries: UnsafePointer<Float>, into tops: inout [TopK]
    ) {
        let dim = dimension
        let words = (rows + 63) / 64
        guard rows > 0, vectors.count >= blockSize * dim * 4, live.count >= words * 8 else { return }
        if Int(bitPattern: vectors.baseAddress) % MemoryLayout<Float>.alignment == 0 {
            score(vectors.baseAddress!.assumingMemoryBound(to: Float.self), rows: rows, queries: queries)
        } else {
            // Small values can sit unaligned inside a leaf page; copy those (never the big
            // blocks, which start on overflow pages).
            if scratch == nil { scratch = .allocate(capacity: blockSize * dim) }
            UnsafeMutableRawPointer(scratch!).copyMemory(from: vectors.baseAddress!, byteCount: blockSize * dim * 4)
            score(scratch!, rows: rows, queries: queries)
        }
        let base = block &* UInt32(blockSize)
        for q in 0..<queryCount {
            selectLive(top: &tops[q], scores: scores + q, stride: queryCount, rows: rows, live: live, base: base)
        }
    }

    /// The block is dimension-major (`dimension` rows of `blockSize` floats), so one query is a
    /// sum of scaled columns (OpenBLAS's sgemv_n kernel), which streams the block about twice as
    /// fast as dot products of 384-float rows (sgemv_t) on this machine.
    private func score(_ a: UnsafePointer<Float>, rows: Int, queries: UnsafePointer<Float>) {
        let d = blasint(dimension)
        let lda = blasint(blockSize)
        if queryCount == 1 {
            cblas_sgemv(CblasRowMajor, CblasTrans, d, blasint(rows), 1, a, lda, queries, 1, 0, scores, 1)
        } else {
            let n = blasint(queryCount)
            cblas_sgemm(
                CblasRowMajor, CblasTrans, CblasTrans, blasint(rows), n, d, 1, a, lda, queries, d, 0, scores, n)
        }
    }
}

/// Offers the scores of a block's live rows (`scores[j * stride]` for row j < rows; bit j of the
/// `live` bitmap) to `top` as slots `base + j`.
func selectLive(
    top: inout TopK, scores out: UnsafeMutablePointer<Float>, stride: Int, rows: Int, live: UnsafeRawBufferPointer,
    base: UInt32
) {
    let words = (rows + 63) / 64
    var threshold = top.threshold
    for w in 0..<words {
        var word = live.loadUnaligned(fromByteOffset: w * 8, as: UInt64.self)
        let remaining = rows - w * 64
        if remaining < 64 { word &= (UInt64(1) << UInt64(remaining)) &- 1 }
        let first = w * 64
        if word == ~UInt64(0) {
            for j in first..<first + 64 where out[j * stride] >= threshold {
                top.offer(out[j * stride], base &+ UInt32(j))
                threshold = top.threshold
            }
        } else {
            while word != 0 {
                let j = first + word.trailingZeroBitCount
                word &= word &- 1
                if out[j * stride] >= threshold {
                    top.offer(out[j * stride], base &+ UInt32(j))
                    threshold = top.threshold
                }
            }
        }
    }
}

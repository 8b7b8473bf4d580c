import Tokenization

// Texts of similar token counts batched together pad little: every batched model run (the
// scheduler's, `Retriever.embed`, `Reranker.score`, `cascade index`) orders its inputs here.

/// Indices of `encodings`, shortest first; equal lengths keep input order.
public func lengthOrder(_ encodings: [Encoding]) -> [Int] {
    encodings.indices.sorted { (encodings[$0].count, $0) < (encodings[$1].count, $1) }
}

/// Calls `body` with the indices of each batch of at most `size` encodings, in `lengthOrder`.
public func forEachLengthBatch(_ encodings: [Encoding], size: Int, _ body: ([Int]) throws -> Void) rethrows {
    let order = lengthOrder(encodings)
    let size = max(1, size)
    for start in stride(from: 0, to: order.count, by: size) {
        try body(Array(order[start..<min(start + size, order.count)]))
    }
}

/// Runs `body` over length-sorted batches of at most `batchSize` encodings and returns one
/// result per encoding, in input order.
public func inLengthOrder<T>(
    _ encodings: [Encoding], batchSize: Int, _ body: ([Encoding]) throws -> [T]
) rethrows -> [T] {
    var results = [T?](repeating: nil, count: encodings.count)
    try forEachLengthBatch(encodings, size: batchSize) { rows in
        for (row, output) in zip(rows, try body(rows.map { encodings[$0] })) { results[row] = output }
    }
    return results.map { $0! }
}

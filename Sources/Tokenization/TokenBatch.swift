/// One encoded text or text pair: what a BERT-family model reads.
public struct Encoding: Sendable, Equatable {
    public var ids: [Int32]
    /// 0 for the first segment (with its `[CLS]` and `[SEP]`), 1 for the second.
    public var typeIds: [Int32]

    public init(ids: [Int32], typeIds: [Int32]) {
        precondition(ids.count == typeIds.count, "ids and typeIds differ in length")
        self.ids = ids
        self.typeIds = typeIds
    }

    public var count: Int { ids.count }
}

/// Encodings padded to one length, row-major `[batchSize, sequenceLength]`.
public struct TokenBatch: Sendable, Equatable {
    public let batchSize: Int
    public let sequenceLength: Int
    public var inputIds: [Int32]
    public var tokenTypeIds: [Int32]
    /// 1 for a real token, 0 for padding.
    public var attentionMask: [Int32]
    /// Real tokens per row.
    public var lengths: [Int]

    public init(_ encodings: [Encoding], padId: Int32 = 0) {
        batchSize = encodings.count
        sequenceLength = encodings.map(\.count).max() ?? 0
        inputIds = [Int32](repeating: padId, count: batchSize * sequenceLength)
        tokenTypeIds = [Int32](repeating: 0, count: batchSize * sequenceLength)
        attentionMask = [Int32](repeating: 0, count: batchSize * sequenceLength)
        lengths = encodings.map(\.count)
        for (row, encoding) in encodings.enumerated() {
            let base = row * sequenceLength
            for (i, id) in encoding.ids.enumerated() {
                inputIds[base + i] = id
                tokenTypeIds[base + i] = encoding.typeIds[i]
                attentionMask[base + i] = 1
            }
        }
    }
}

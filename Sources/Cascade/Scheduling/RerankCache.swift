import Synchronization

/// Cross-encoder scores already computed, bounded in bytes, so that a repeated search, or a
/// deeper rerun of one (rerank_k 20 after 10), scores only the pairs it has not seen.
///
/// A key holds a hash of the passage's text, not only its id: an Upsert that changes a passage
/// makes its old scores unreachable (they age out), with no invalidation to get wrong.
///
/// Eviction is by two generations (the cheapest approximation of LRU that needs no list): new
/// and re-used entries go into the young table; when it holds half the budget it becomes the
/// old one and the previous old one is dropped. So an entry survives at least one generation
/// and a hit keeps it alive.
public final class RerankCache: Sendable {
    public struct Key: Hashable, Sendable {
        public var model: String
        public var query: String
        public var passageID: String
        public var textHash: UInt64

        public init(model: String, query: String, passageID: String, text: String) {
            self.model = model
            self.query = query
            self.passageID = passageID
            self.textHash = Self.textHash(text)
        }

        /// SipHash (Swift's `Hasher`), seeded per process, which is as long as the cache lives:
        /// collisions between two texts of one passage id (the only ones that matter) are out of
        /// reach, and canonically equivalent texts, which tokenize alike, share a key.
        static func textHash(_ text: String) -> UInt64 {
            var hasher = Hasher()
            hasher.combine(text)
            return UInt64(bitPattern: Int64(hasher.finalize()))
        }

        /// What an entry costs: the strings' bytes, the hash and score, and the table's own
        /// overhead (about 64 bytes a slot in a Swift dictionary of this key).
        var bytes: Int { model.utf8.count + query.utf8.count + passageID.utf8.count + 8 + 4 + 64 }
    }

    private struct Tables: ~Copyable {
        var young: [Key: Float] = [:]
        var old: [Key: Float] = [:]
        var youngBytes = 0
        var oldBytes = 0
    }

    public let capacityBytes: Int
    private let tables = Mutex(Tables())

    public init(capacityBytes: Int) {
        self.capacityBytes = capacityBytes
    }

    /// The cached score of each key, nil where there is none.
    public func scores(for keys: [Key]) -> [Float?] {
        guard capacityBytes > 0 else { return keys.map { _ in nil } }
        return tables.withLock { tables in
            keys.map { key in
                if let score = tables.young[key] { return score }
                guard let score = tables.old[key] else { return nil }
                Self.insert(key, score, into: &tables, capacity: capacityBytes)
                return score
            }
        }
    }

    public func insert(_ entries: [(key: Key, score: Float)]) {
        guard capacityBytes > 0 else { return }
        tables.withLock { tables in
            for entry in entries { Self.insert(entry.key, entry.score, into: &tables, capacity: capacityBytes) }
        }
    }

    /// Bytes held by both generations.
    public var bytes: Int { tables.withLock { $0.youngBytes + $0.oldBytes } }

    private static func insert(_ key: Key, _ score: Float, into tables: inout Tables, capacity: Int) {
        if tables.young[key] != nil { return }
        if tables.youngBytes + key.bytes > capacity / 2 {
            tables.old = tables.young
            tables.oldBytes = tables.youngBytes
            tables.young = [:]
            tables.youngBytes = 0
            guard key.bytes <= capacity / 2 else { return }
        }
        tables.young[key] = score
        tables.youngBytes += key.bytes
    }
}

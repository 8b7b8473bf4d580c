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

        /// What an entry costs: the strings' bytes, the hash, score and length, and the table's
        /// own overhead (about 64 bytes a slot in a Swift dictionary of this key).
        var bytes: Int { model.utf8.count + query.utf8.count + passageID.utf8.count + 8 + 4 + 8 + 64 }
    }

    /// A pair's score and its length in cross-encoder tokens (what a request's token cap counts,
    /// cached or not).
    public struct Entry: Sendable, Equatable {
        public var score: Float
        public var tokens: Int

        public init(score: Float, tokens: Int) {
            self.score = score
            self.tokens = tokens
        }
    }

    private struct QueryKey: Hashable {
        var model: String
        var query: String

        init(model: String, query: String) { (self.model, self.query) = (model, query) }
        init(_ key: Key) { self.init(model: key.model, query: key.query) }
        var bytes: Int { model.utf8.count + query.utf8.count + 8 + 64 }
    }

    private struct Generation {
        var entries: [Key: Entry] = [:]
        /// Entries per query: what prices a repeated search before its passages are known.
        var queries: [QueryKey: Int] = [:]
        var bytes = 0
    }

    private struct Tables: ~Copyable {
        var young = Generation()
        var old = Generation()
    }

    public let capacityBytes: Int
    private let tables = Mutex(Tables())

    public init(capacityBytes: Int) {
        self.capacityBytes = capacityBytes
    }

    /// The cached entry of each key, nil where there is none.
    public func entries(for keys: [Key]) -> [Entry?] {
        guard capacityBytes > 0 else { return keys.map { _ in nil } }
        return tables.withLock { tables in
            keys.map { key in
                if let entry = tables.young.entries[key] { return entry }
                guard let entry = tables.old.entries[key] else { return nil }
                Self.insert(key, entry, into: &tables, capacity: capacityBytes)
                return entry
            }
        }
    }

    public func insert(_ entries: [(key: Key, entry: Entry)]) {
        guard capacityBytes > 0 else { return }
        tables.withLock { tables in
            for item in entries { Self.insert(item.key, item.entry, into: &tables, capacity: capacityBytes) }
        }
    }

    /// About how many pairs of `query` under `model` have scores here (the larger generation's
    /// count: entries can be in both), so a repeated search is priced as the little model work
    /// it is. An estimate: the search's passages are not known until it has retrieved them.
    public func pairs(model: String, query: String) -> Int {
        guard capacityBytes > 0 else { return 0 }
        let key = QueryKey(model: model, query: query)
        return tables.withLock { max($0.young.queries[key] ?? 0, $0.old.queries[key] ?? 0) }
    }

    /// Bytes held by both generations.
    public var bytes: Int { tables.withLock { $0.young.bytes + $0.old.bytes } }

    private static func insert(_ key: Key, _ entry: Entry, into tables: inout Tables, capacity: Int) {
        if tables.young.entries[key] != nil { return }
        let query = QueryKey(key)
        var bytes = key.bytes + (tables.young.queries[query] == nil ? query.bytes : 0)
        if tables.young.bytes + bytes > capacity / 2 {
            tables.old = tables.young
            tables.young = Generation()
            bytes = key.bytes + query.bytes
            guard bytes <= capacity / 2 else { return }
        }
        tables.young.entries[key] = entry
        tables.young.queries[query, default: 0] += 1
        tables.young.bytes += bytes
    }
}

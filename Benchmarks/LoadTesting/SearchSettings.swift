/// The per-request cutoffs sent with every `Search`. `nil` leaves a field unset so the server applies
/// its default (for `rerankK` unset differs from 0, which means retrieval only).
public struct SearchSettings: Equatable, Codable, Sendable {
    public var retrieveK: UInt32?
    public var rerankK: UInt32?
    public var topN: UInt32?

    public init(retrieveK: UInt32? = nil, rerankK: UInt32? = nil, topN: UInt32? = nil) {
        self.retrieveK = retrieveK
        self.rerankK = rerankK
        self.topN = topN
    }

    /// "100:10" style label for report rows; "default" for a field left to the server.
    public var label: String {
        let r = retrieveK.map(String.init) ?? "default"
        let k = rerankK.map(String.init) ?? "default"
        return "\(r):\(k)"
    }

    /// Refuses combinations the server would refuse, so a typo fails before any load is sent.
    public func validate() throws(BenchError) {
        if let retrieveK, retrieveK == 0 {
            throw BenchError("retrieve_k must be at least 1 (leave it out for the server default)")
        }
        if let retrieveK, let rerankK, rerankK > retrieveK {
            throw BenchError(
                "rerank_k \(rerankK) exceeds retrieve_k \(retrieveK): only retrieved passages can be reranked")
        }
        if let topN, topN == 0 {
            throw BenchError("top_n must be at least 1 (leave it out for the server default)")
        }
    }
}

/// A cutoff sweep: `"100:0,100:10,200:20"`, each item `retrieve_k:rerank_k`.
public enum Sweep {
    public static func parse(_ text: String) throws(BenchError) -> [SearchSettings] {
        let trimmed = text.trimmingSpaces
        guard !trimmed.isEmpty else {
            throw BenchError("--sweep is empty: give retrieve_k:rerank_k pairs such as \"100:0,100:10\"")
        }
        var settings: [SearchSettings] = []
        for (index, rawItem) in trimmed.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
            let item = String(rawItem).trimmingSpaces
            let position = "--sweep item \(index + 1) (\"\(item)\")"
            guard !item.isEmpty else {
                throw BenchError("\(position) is empty: remove the stray comma")
            }
            let parts = item.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw BenchError("\(position) must be retrieve_k:rerank_k, e.g. 100:10")
            }
            guard let retrieveK = UInt32(parts[0].trimmingSpaces) else {
                throw BenchError("\(position): retrieve_k \"\(parts[0])\" is not a non-negative integer")
            }
            guard let rerankK = UInt32(parts[1].trimmingSpaces) else {
                throw BenchError("\(position): rerank_k \"\(parts[1])\" is not a non-negative integer")
            }
            let setting = SearchSettings(retrieveK: retrieveK, rerankK: rerankK)
            do {
                try setting.validate()
            } catch {
                throw BenchError("\(position): \(error.message)")
            }
            if settings.contains(setting) {
                throw BenchError("\(position) repeats an earlier setting")
            }
            settings.append(setting)
        }
        return settings
    }
}

/// One class of a mixed load: its cutoffs and how its requests are offered.
public struct MixClass: Equatable, Sendable {
    public var settings: SearchSettings
    public var shape: LoadShape

    public init(settings: SearchSettings, shape: LoadShape) {
        self.settings = settings
        self.shape = shape
    }

    /// "100:50@2" (2 callers) or "100:0@50/s" (50 requests per second).
    public var label: String {
        switch shape {
        case .closed(let callers): return "\(settings.label)@\(callers)"
        case .open(let schedule, _): return "\(settings.label)@\(String(format: "%g", schedule.rate))/s"
        }
    }
}

/// A mixed load: `"100:50@2,100:0@2"`, each item `retrieve_k:rerank_k@N` for N closed-loop
/// callers or `retrieve_k:rerank_k@R/s` for R requests per second (Poisson), all classes at once.
public enum Mix {
    public static func parse(_ text: String, maxOutstanding: Int, seed: UInt64) throws(BenchError) -> [MixClass] {
        var classes: [MixClass] = []
        let items = text.trimmingSpaces.split(separator: ",", omittingEmptySubsequences: false)
        guard items.count >= 2 else {
            throw BenchError("--mix needs two or more classes, e.g. \"100:50@2,100:0@2\"")
        }
        for (index, rawItem) in items.enumerated() {
            let item = String(rawItem).trimmingSpaces
            let position = "--mix item \(index + 1) (\"\(item)\")"
            let parts = item.split(separator: "@", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw BenchError("\(position) must be retrieve_k:rerank_k@callers or @rate/s, e.g. 100:50@2")
            }
            let settings: SearchSettings
            do {
                settings = try Sweep.parse(String(parts[0]))[0]
            } catch {
                throw BenchError("\(position): \(error.message.replacing("--sweep item 1", with: "cutoffs"))")
            }
            let load = parts[1].trimmingSpaces
            let shape: LoadShape
            if load.hasSuffix("/s") {
                guard let rate = Double(load.dropLast(2)), rate > 0, rate.isFinite else {
                    throw BenchError("\(position): \"\(load)\" is not a positive rate such as 20/s")
                }
                let schedule = try ArrivalSchedule(rate: rate, arrivals: .poisson, seed: seed &+ UInt64(index))
                shape = .open(schedule: schedule, maxOutstanding: maxOutstanding)
            } else {
                guard let callers = Int(load), (1...10_000).contains(callers) else {
                    throw BenchError("\(position): \"\(load)\" is not a caller count from 1 to 10000")
                }
                shape = .closed(concurrency: callers)
            }
            classes.append(MixClass(settings: settings, shape: shape))
        }
        return classes
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}

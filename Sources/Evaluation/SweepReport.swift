import Foundation

/// A sweep's result as written for operators: every point (frontier marked) and the recommendations.
public struct SweepReport: Equatable, Sendable, Codable {
    public struct Entry: Equatable, Sendable, Codable {
        public let point: SweepPoint
        public let onFrontier: Bool
    }

    public struct Recommendation: Equatable, Sendable, Codable {
        /// The rule in words, e.g. "fastest within 0.01 nDCG@10 of the best".
        public let rule: String
        /// nil when no setting satisfies the rule (a latency budget nothing meets).
        public let cutoffs: Cutoffs?
    }

    public let measure: Measure
    public let latencyStatistic: LatencyStatistic
    /// Fastest first.
    public let entries: [Entry]
    public let recommendations: [Recommendation]

    /// Pretty-printed JSON with sorted keys (stable for diffs).
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    public static func decode(json: Data) throws -> SweepReport {
        try JSONDecoder().decode(SweepReport.self, from: json)
    }
}

extension Frontier {
    public func report(qualityLoss: QualityLoss? = nil, latencyBudgetMs: Double? = nil) -> SweepReport {
        var recommendations = [
            SweepReport.Recommendation(rule: "best \(measure.rawValue)", cutoffs: best.cutoffs)
        ]
        if let qualityLoss {
            recommendations.append(
                .init(
                    rule:
                        "fastest (\(latencyStatistic.rawValue)) within \(qualityLoss) \(measure.rawValue) of the best",
                    cutoffs: cheapest(within: qualityLoss).cutoffs))
        }
        if let latencyBudgetMs {
            recommendations.append(
                .init(
                    rule: "best \(measure.rawValue) with \(latencyStatistic.rawValue) <= \(latencyBudgetMs) ms",
                    cutoffs: best(withinLatencyBudgetMs: latencyBudgetMs)?.cutoffs))
        }
        return SweepReport(
            measure: measure, latencyStatistic: latencyStatistic,
            entries: points.map { .init(point: $0, onFrontier: isOnFrontier($0.cutoffs)) },
            recommendations: recommendations)
    }
}

extension SweepReport {
    /// A fixed-width table, fastest first; `*` marks the frontier, recommendations follow.
    public var table: String {
        let header = ["", "retrieve_k", "rerank_k", "MRR@10", "nDCG@10", "R@100", "p50 ms", "p99 ms", "QPS"]
        var rows = [header]
        for entry in entries {
            let point = entry.point
            rows.append([
                entry.onFrontier ? "*" : "",
                "\(point.cutoffs.retrieveK)", "\(point.cutoffs.rerankK)",
                Self.format(point.quality.mrrAt10, 4), Self.format(point.quality.ndcgAt10, 4),
                Self.format(point.quality.recallAt100, 4),
                Self.format(point.latency.p50Ms, 2), Self.format(point.latency.p99Ms, 2),
                Self.format(point.throughputQPS, 1),
            ])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max()! }
        var lines = [
            "\(measure.rawValue) against \(latencyStatistic.rawValue) latency; * = on the Pareto frontier"
        ]
        for row in rows {
            let cells = row.indices.map { column in
                // Left-align the marker, right-align numbers.
                let pad = String(repeating: " ", count: widths[column] - row[column].count)
                return column == 0 ? row[column] + pad : pad + row[column]
            }
            lines.append(cells.joined(separator: "  "))
        }
        for recommendation in recommendations {
            lines.append("\(recommendation.rule): \(recommendation.cutoffs.map { "\($0)" } ?? "none")")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func format(_ value: Double, _ decimals: Int) -> String {
        String(format: "%.\(decimals)f", value)
    }
}

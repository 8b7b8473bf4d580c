/// The stages a request's time is split into. The names are the wire names (proto `Timing`,
/// Prometheus `stage` label, log keys), so the server, the `cascade` client and cascade-bench
/// share this one list.
public enum Stage: String, CaseIterable, Sendable {
    case queue, tokenize, encode, retrieve, fetch, rerank, write, total
}

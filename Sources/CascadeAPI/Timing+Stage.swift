// Written by hand (scripts/generate-proto.sh replaces only the generated *.pb.swift and
// *.grpc.swift files): the proto's Timing read and written by the one list of stages.
import CascadeWire

extension Cascade_V1_Timing {
    /// Microseconds spent in `stage`.
    public subscript(stage: Stage) -> UInt64 {
        get { self[keyPath: Self.field(stage)] }
        set { self[keyPath: Self.field(stage)] = newValue }
    }

    /// The message's field for each stage.
    private static func field(_ stage: Stage) -> WritableKeyPath<Cascade_V1_Timing, UInt64> {
        switch stage {
        case .queue: return \.queueUs
        case .tokenize: return \.tokenizeUs
        case .encode: return \.encodeUs
        case .retrieve: return \.retrieveUs
        case .fetch: return \.fetchUs
        case .rerank: return \.rerankUs
        case .write: return \.writeUs
        case .total: return \.totalUs
        }
    }
}

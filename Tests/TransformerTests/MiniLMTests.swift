import Foundation
import Testing
import Tokenization

@testable import Transformer

/// The real all-MiniLM-L6-v2 against sentence-transformers, and under a seeded classification head
/// against `BertForSequenceClassification` (token ids come from the fixture, not our tokenizer).
@Suite struct MiniLMTests {
    static let reference = try! Fixtures.load("minilm-reference.json", as: Fixtures.MiniLMReference.self)

    @Test func poolingComesFromSentenceTransformersFiles() throws {
        let pooling = try Pooling.read(from: try Fixtures.miniLM())
        #expect(pooling == Pooling(mode: .mean, normalize: true))
        #expect(try Pooling.read(from: Fixtures.tiny("bert")) == nil)
    }

    @Test func embeddingsMatchSentenceTransformers() throws {
        let encoder = try SentenceEncoder(directory: try Fixtures.miniLM())
        #expect(encoder.dimension == 384)
        #expect(encoder.architecture == "BertModel")
        #expect(encoder.pooling == Pooling(mode: .mean, normalize: true))
        let sentences = Self.reference.sentences
        #expect(sentences.count >= 50)
        let vectors = try encoder.embed(TokenBatch(sentences.map { encoding($0.input_ids) }))
        #expect(vectors.count == sentences.count)
        for (vector, sentence) in zip(vectors, sentences) {
            let similarity = cosine(vector, sentence.embedding)
            #expect(similarity >= 0.99999, "'\(sentence.text)': cosine \(similarity)")
            #expect(maxAbsDiff(vector, sentence.embedding) <= 1e-4, "'\(sentence.text)'")
        }
        // Alone in its batch (no padding around it) a sentence gets the same vector.
        let single = try encoder.embed(TokenBatch([encoding(sentences[3].input_ids)]))
        #expect(maxAbsDiff(single[0], sentences[3].embedding) <= 1e-4)
    }

    @Test func crossEncoderLogitsMatchTransformers() throws {
        let headPath = Fixtures.directory.appendingPathComponent("minilm-head/model.safetensors").path
        let crossEncoder = try CrossEncoder(
            encoderDirectory: try Fixtures.miniLM(), head: SafetensorsFile(path: headPath))
        #expect(crossEncoder.architecture == "BertForSequenceClassification")
        let pairs = Self.reference.pairs
        let batch = TokenBatch(pairs.map { Encoding(ids: $0.input_ids, typeIds: $0.token_type_ids) })
        let logits = try crossEncoder.score(batch)
        let expected = pairs.map(\.logit)
        let diff = maxAbsDiff(logits, expected)
        #expect(diff <= 1e-4, "logits \(logits) vs \(expected): max abs diff \(diff)")
        // Were the encoder ignored, the head would score every pair alike.
        #expect(Set(expected.map { ($0 * 100).rounded() }).count > 5)
    }
}

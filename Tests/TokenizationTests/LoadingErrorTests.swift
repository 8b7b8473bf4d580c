import Foundation
import Testing

@testable import Tokenization

/// Every way a model folder can be wrong gives an error that names the file (and field).
@Suite struct LoadingErrorTests {
    func folder(_ files: [String: Data]) throws -> URL {
        let dir = try TestSupport.temporaryDirectory()
        for (name, data) in files { try data.write(to: dir.appendingPathComponent(name)) }
        return dir
    }

    func loadError(_ files: [String: Data]) throws -> (TokenizerError, URL) {
        let dir = try folder(files)
        do {
            _ = try BertTokenizer(directory: dir)
        } catch let error as TokenizerError {
            return (error, dir)
        }
        Issue.record("loading \(files.keys.sorted()) succeeded")
        throw CancellationError()
    }

    static let tinyVocab = Data("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n##s\n".utf8)

    func tokenizerJSON(
        model: String = #"{"type": "WordPiece", "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2}}"#,
        normalizer: String = #"{"type": "BertNormalizer"}"#
    ) -> Data {
        Data(#"{"model": \#(model), "normalizer": \#(normalizer), "pre_tokenizer": {"type": "BertPreTokenizer"}}"#.utf8)
    }

    @Test func emptyFolderNamesTheMissingFiles() throws {
        let (error, dir) = try loadError([:])
        #expect(error == .noVocabulary(directory: dir.path))
        #expect(error.description == "no tokenizer.json or vocab.txt in \(dir.path)")
    }

    @Test func missingFolder() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cascade-tok-absent-\(UUID())")
        #expect(throws: TokenizerError.noFolder(directory: dir.path)) { try BertTokenizer(directory: dir) }
        #expect(TokenizerError.noFolder(directory: dir.path).description == "no model folder at \(dir.path)")
    }

    @Test func tokenizerJSONThatIsNotJSON() throws {
        let (error, dir) = try loadError(["tokenizer.json": Data("{\"model\": {".utf8)])
        guard case .malformed(let file, _, let reason) = error else {
            Issue.record("got \(error)")
            return
        }
        #expect(file == dir.appendingPathComponent("tokenizer.json").path)
        #expect(reason.contains("not valid JSON"))
        #expect(error.description.contains("tokenizer.json is malformed"))
    }

    @Test func tokenizerJSONWithoutModel() throws {
        let (error, _) = try loadError(["tokenizer.json": Data(#"{"normalizer": null}"#.utf8)])
        #expect(error.description.hasSuffix("tokenizer.json: field 'model' is missing or not an object"))
    }

    @Test func vocabThatIsNotAnObject() throws {
        let (error, _) = try loadError([
            "tokenizer.json": tokenizerJSON(model: #"{"type": "WordPiece", "vocab": [1, 2]}"#)
        ])
        #expect(error.description.contains("field 'model.vocab' is missing or not an object"))
    }

    @Test func vocabIdThatIsNotAnInteger() throws {
        let (error, _) = try loadError([
            "tokenizer.json": tokenizerJSON(model: #"{"type": "WordPiece", "vocab": {"[UNK]": "zero"}}"#)
        ])
        #expect(error.description.contains("field 'model.vocab.[UNK]' is not a non-negative integer id"))
    }

    @Test func bpeModelIsUnsupported() throws {
        let (error, _) = try loadError(["tokenizer.json": tokenizerJSON(model: #"{"type": "BPE", "vocab": {}}"#)])
        #expect(error.description.contains("field 'model.type' is BPE, which is not supported"))
    }

    @Test func otherNormalizerIsUnsupported() throws {
        let (error, _) = try loadError(["tokenizer.json": tokenizerJSON(normalizer: #"{"type": "Sequence"}"#)])
        #expect(error.description.contains("field 'normalizer.type' is Sequence"))
    }

    @Test func normalizerFlagOfTheWrongType() throws {
        let (error, _) = try loadError([
            "tokenizer.json": tokenizerJSON(normalizer: #"{"type": "BertNormalizer", "lowercase": "yes"}"#)
        ])
        #expect(error.description.contains("field 'normalizer.lowercase' is not true, false or null"))
    }

    @Test func addedTokenWithoutAnIdNamesItsIndex() throws {
        let json = #"""
            {"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2}},
             "added_tokens": [{"id": 0, "content": "[UNK]"}, {"content": "[CLS]"}]}
            """#
        let (error, _) = try loadError(["tokenizer.json": Data(json.utf8)])
        #expect(error.description.hasSuffix("field 'added_tokens[1]' needs a string 'content' and an integer 'id'"))
        let (negative, _) = try loadError([
            "tokenizer.json": tokenizerJSON(model: #"{"type": "WordPiece", "vocab": {"[UNK]": 0, "x": -4}}"#)
        ])
        #expect(negative.description.hasSuffix("field 'model.vocab.x' is not a non-negative integer id"))
    }

    @Test func specialTokenThatIsNotAName() throws {
        let (error, _) = try loadError([
            "vocab.txt": Self.tinyVocab, "tokenizer_config.json": Data(#"{"cls_token": 101}"#.utf8),
        ])
        #expect(error.description.hasSuffix("tokenizer_config.json: field 'cls_token' is not a token string"))
        // An AddedToken object names its token by its content.
        let dir = try folder([
            "vocab.txt": Self.tinyVocab,
            "tokenizer_config.json": Data(#"{"cls_token": {"content": "[SEP]", "lstrip": false}}"#.utf8),
        ])
        let tokenizer = try BertTokenizer(directory: dir)
        #expect(tokenizer.clsId == tokenizer.sepId)
    }

    @Test func vocabularyWithoutCLS() throws {
        let (error, dir) = try loadError(["vocab.txt": Data("[PAD]\n[UNK]\n[SEP]\nhello\n".utf8)])
        #expect(error == .missingToken(file: dir.appendingPathComponent("vocab.txt").path, token: "[CLS]"))
        #expect(error.description.hasSuffix("vocab.txt: the vocabulary has no [CLS] token"))
    }

    @Test func vocabTxtThatIsNotUTF8() throws {
        let (error, dir) = try loadError(["vocab.txt": Data([0x5B, 0x55, 0x4E, 0x4B, 0x5D, 0x0A, 0xFF, 0xFE, 0x0A])])
        #expect(error == .invalidUTF8(file: dir.appendingPathComponent("vocab.txt").path))
    }

    @Test func emptyVocabTxt() throws {
        let (error, _) = try loadError(["vocab.txt": Data()])
        #expect(error.description.hasSuffix("vocab.txt: the vocabulary is empty"))
    }

    @Test func unreadableVocabTxt() throws {
        let dir = try TestSupport.temporaryDirectory()
        try FileManager.default.createDirectory(
            at: dir.appendingPathComponent("vocab.txt"), withIntermediateDirectories: false)
        #expect {
            try BertTokenizer(directory: dir)
        } throws: { error in
            guard case .unreadable(let file, _) = error as? TokenizerError else { return false }
            return file == dir.appendingPathComponent("vocab.txt").path
        }
    }

    @Test func tokenizerConfigWithBadOptions() throws {
        let (error, _) = try loadError([
            "vocab.txt": Self.tinyVocab, "tokenizer_config.json": Data(#"{"do_lower_case": "yes"}"#.utf8),
        ])
        #expect(error.description.contains("tokenizer_config.json: field 'do_lower_case' is not true, false or null"))
        let (limit, _) = try loadError([
            "vocab.txt": Self.tinyVocab, "tokenizer_config.json": Data(#"{"model_max_length": -3}"#.utf8),
        ])
        #expect(limit.description.contains("field 'model_max_length' must be a positive number"))
        let (notJSON, _) = try loadError(["vocab.txt": Self.tinyVocab, "tokenizer_config.json": Data("[1]".utf8)])
        #expect(notJSON.description.contains("tokenizer_config.json is malformed: the top level is not a JSON object"))
    }

    @Test func modelMaxLengthIsReadAndCappedAt512() throws {
        let huge = try folder([
            "vocab.txt": Self.tinyVocab,
            "tokenizer_config.json": Data(#"{"model_max_length": 1000000000000000019884624838656}"#.utf8),
        ])
        #expect(try BertTokenizer(directory: huge).maxLength == 512)
        let small = try folder([
            "vocab.txt": Self.tinyVocab, "tokenizer_config.json": Data(#"{"model_max_length": 128}"#.utf8),
        ])
        let tokenizer = try BertTokenizer(directory: small)
        #expect(tokenizer.maxLength == 128)
        #expect(tokenizer.encode(String(repeating: "hello ", count: 300)).count == 128)
        #expect(tokenizer.tokenize("Hellos [MASK] x") == ["hello", "##s", "[MASK]", "[UNK]"])
    }
}

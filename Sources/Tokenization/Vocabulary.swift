import Foundation

/// Token strings and their ids, from vocab.txt (one token per line, id = line number) or from
/// tokenizer.json's `model.vocab`.
public struct Vocabulary: Sendable {
    /// Exact (scalar for scalar) token → id; see TokenKey for why not [String: Int32].
    let ids: [TokenKey: Int32]
    /// Token string by id; "" where no token has that id.
    public let tokens: [String]
    /// The file it came from, for error messages.
    public let source: String

    init(ids: [TokenKey: Int32], source: String) {
        self.ids = ids
        self.source = source
        var tokens = [String](repeating: "", count: Int(ids.values.max() ?? -1) + 1)
        for (token, id) in ids where id >= 0 { tokens[Int(id)] = token.string }
        self.tokens = tokens
    }

    public var count: Int { ids.count }

    public func id(for token: String) -> Int32? { ids[TokenKey(token)] }

    public func token(for id: Int32) -> String? {
        id >= 0 && Int(id) < tokens.count ? tokens[Int(id)] : nil
    }

    /// Reads vocab.txt like tokenizers' `WordPiece::read_file`: line n is id n, trailing whitespace
    /// trimmed, a repeated token keeps its last id.
    public static func load(vocabTxt url: URL) throws -> Vocabulary {
        let text = try readText(url)
        var ids: [TokenKey: Int32] = [:]
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        for (index, line) in lines.enumerated() {
            var end = line.unicodeScalars.endIndex
            while end > line.unicodeScalars.startIndex {
                let before = line.unicodeScalars.index(before: end)
                guard line.unicodeScalars[before].properties.isWhitespace else { break }
                end = before
            }
            ids[TokenKey(String(line.unicodeScalars[..<end]))] = Int32(index)
        }
        if ids.isEmpty { throw TokenizerError.emptyVocabulary(file: url.path) }
        return Vocabulary(ids: ids, source: url.path)
    }

    /// The special token's id, or an error naming the vocabulary file.
    func require(_ token: String) throws -> Int32 {
        guard let id = ids[TokenKey(token)] else { throw TokenizerError.missingToken(file: source, token: token) }
        return id
    }
}

func readText(_ url: URL) throws -> String {
    let data: Data
    do {
        data = try Data(contentsOf: url)
    } catch {
        let reason = FileManager.default.fileExists(atPath: url.path) ? "\(error.localizedDescription)" : "no such file"
        throw TokenizerError.unreadable(file: url.path, reason: reason)
    }
    guard let text = String(data: data, encoding: .utf8) else { throw TokenizerError.invalidUTF8(file: url.path) }
    return text
}

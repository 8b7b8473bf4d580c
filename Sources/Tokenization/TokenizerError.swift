import Foundation

/// Why a tokenizer could not be loaded; every case names the file (and field) at fault.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// There is no folder at the path given.
    case noFolder(directory: String)
    /// The folder has neither tokenizer.json nor vocab.txt.
    case noVocabulary(directory: String)
    case unreadable(file: String, reason: String)
    case invalidUTF8(file: String)
    /// Not valid JSON, or a field with the wrong type or value.
    case malformed(file: String, field: String, reason: String)
    /// Valid, but a component this tokenizer does not implement (e.g. a BPE model).
    case unsupported(file: String, field: String, value: String)
    /// A required special token (e.g. [CLS]) is not in the vocabulary.
    case missingToken(file: String, token: String)
    case emptyVocabulary(file: String)

    public var description: String {
        switch self {
        case .noFolder(let directory):
            return "no model folder at \(directory)"
        case .noVocabulary(let directory):
            return "no tokenizer.json or vocab.txt in \(directory)"
        case .unreadable(let file, let reason):
            return "cannot read \(file): \(reason)"
        case .invalidUTF8(let file):
            return "\(file) is not valid UTF-8"
        case .malformed(let file, let field, let reason):
            return field.isEmpty ? "\(file) is malformed: \(reason)" : "\(file): field '\(field)' \(reason)"
        case .unsupported(let file, let field, let value):
            return "\(file): field '\(field)' is \(value), which is not supported (only BERT WordPiece)"
        case .missingToken(let file, let token):
            return "\(file): the vocabulary has no \(token) token"
        case .emptyVocabulary(let file):
            return "\(file): the vocabulary is empty"
        }
    }
}

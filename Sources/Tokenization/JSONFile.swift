import Foundation

/// Reading the JSON files of model folders and the server's config into `Decodable` types, with
/// failures that name the field at fault by its key path (`limits.max_rerank_k`,
/// `added_tokens[3]`), so each file's reader can say which file and which field is wrong. It lives
/// in the lowest module every JSON reader (tokenizer, model, server config) depends on.
public enum JSONFile {
    /// What is wrong in a JSON file and where; `path` is empty for the file as a whole.
    public struct Failure: Error, Equatable, Sendable, CustomStringConvertible {
        /// The key path, e.g. `defaults.top_n` or `added_tokens[2]`.
        public var path: String
        /// What is wrong with it, as the end of a sentence: "must be a number".
        public var reason: String
        /// `path reason`, or what the failure itself says (an unknown key).
        public var description: String

        public init(path: String, reason: String) {
            self.path = path
            self.reason = reason
            self.description = path.isEmpty ? reason : "\(path) \(reason)"
        }

        /// A key the file's format does not have (a misspelt limit would otherwise be silently ignored).
        public static func unknownKey(path: String, known: some Sequence<String>) -> Failure {
            var failure = Failure(path: path, reason: "is not a known key")
            failure.description = "unknown key \(path) (known: \(known.sorted().joined(separator: ", ")))"
            return failure
        }

        /// The JSON decoder's own account: where, and which type it wanted there.
        init(_ error: DecodingError) {
            switch error {
            case .typeMismatch(let type, let context):
                self.init(path: JSONFile.path(context.codingPath), reason: "must be \(JSONFile.describe(type))")
            case .valueNotFound(let type, let context):
                self.init(path: JSONFile.path(context.codingPath), reason: "must be \(JSONFile.describe(type))")
            case .keyNotFound(let key, let context):
                self.init(path: JSONFile.path(context.codingPath + [key]), reason: "is missing")
            case .dataCorrupted(let context) where context.codingPath.isEmpty:
                let detail = (context.underlyingError as NSError?)?.localizedDescription ?? context.debugDescription
                self.init(path: "", reason: "not valid JSON (\(detail))")
            case .dataCorrupted(let context):
                self.init(path: JSONFile.path(context.codingPath), reason: "is invalid (\(context.debugDescription))")
            @unknown default:
                self.init(path: "", reason: "\(error)")
            }
        }
    }

    /// Decodes `data`; every failure is a `Failure` naming the key path.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws(Failure) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let failure as Failure {
            throw failure
        } catch let error as DecodingError {
            throw Failure(error)
        } catch {
            throw Failure(path: "", reason: "not valid JSON (\(error.localizedDescription))")
        }
    }

    /// `limits.max_rerank_k`, `added_tokens[3].content`: keys joined by dots, array indices in brackets.
    public static func path(_ codingPath: [any CodingKey]) -> String {
        var text = ""
        for key in codingPath {
            if let index = key.intValue, key.stringValue == "Index \(index)" {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : "." + key.stringValue
            }
        }
        return text
    }

    /// How a message names a JSON type.
    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        case is any BinaryInteger.Type: return "an integer"
        case is any BinaryFloatingPoint.Type: return "a number"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") || name.hasPrefix("[") && !name.contains(":") { return "a list" }
            return "an object"
        }
    }

    /// Any key of a JSON object, for objects whose keys are data (a vocabulary, tensor names).
    public struct AnyKey: CodingKey, Hashable, Sendable {
        public var stringValue: String
        public var intValue: Int? { nil }

        public init(_ name: String) { stringValue = name }
        public init(stringValue: String) { self.stringValue = stringValue }
        public init?(intValue: Int) { nil }
    }
}

extension KeyedDecodingContainer {
    /// The value at `key`, nil when absent or null. A value of the wrong type fails with `reason`
    /// ("must be a number") naming the key's path; failures deeper inside it keep their own.
    public func value<T: Decodable>(_ type: T.Type = T.self, _ key: Key, else reason: String) throws -> T? {
        do {
            return try decodeIfPresent(T.self, forKey: key)
        } catch let error as DecodingError {
            let at = codingPath + [key]
            if case .typeMismatch(_, let context) = error, JSONFile.path(context.codingPath) == JSONFile.path(at) {
                throw JSONFile.Failure(path: JSONFile.path(at), reason: reason)
            }
            if case .dataCorrupted(let context) = error, JSONFile.path(context.codingPath) == JSONFile.path(at) {
                throw JSONFile.Failure(path: JSONFile.path(at), reason: reason)
            }
            throw JSONFile.Failure(error)
        }
    }

    /// The value at `key` when it is a `T`, else nil: for fields a reader may do without.
    public func ifValid<T: Decodable>(_ type: T.Type = T.self, _ key: Key) -> T? {
        (try? decodeIfPresent(T.self, forKey: key)) ?? nil
    }

    /// A failure at `key`'s path: its value is the right type but not an acceptable one.
    public func failure(_ key: Key, _ reason: String) -> JSONFile.Failure {
        JSONFile.Failure(path: JSONFile.path(codingPath + [key]), reason: reason)
    }

    /// Three states, as tokenizer files use them: absent (`.none`), null (`.some(nil)`), or a value.
    public func flag(_ key: Key, else reason: String) throws -> Bool?? {
        guard contains(key) else { return .none }
        if try decodeNil(forKey: key) { return .some(nil) }
        return .some(try value(Bool.self, key, else: reason))
    }
}

extension Decoder {
    /// A keyed container that refuses keys `Keys` does not list, naming the first unknown one.
    public func strictContainer<Keys: CodingKey & CaseIterable>(
        keyedBy: Keys.Type
    ) throws -> KeyedDecodingContainer<Keys> {
        try refuseUnknownKeys(known: Keys.allCases.map(\.stringValue))
        return try container(keyedBy: Keys.self)
    }

    /// Fails on the first key (in sorted order) not in `known`.
    public func refuseUnknownKeys(known: [String]) throws {
        let keys = try container(keyedBy: JSONFile.AnyKey.self).allKeys.map(\.stringValue)
        let known = Set(known)
        if let unknown = keys.sorted().first(where: { !known.contains($0) }) {
            throw JSONFile.Failure.unknownKey(
                path: JSONFile.path(codingPath + [JSONFile.AnyKey(unknown)]), known: known)
        }
    }
}

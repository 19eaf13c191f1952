import FoundationEssentials

/// Any JSON value, decoded strictly (a boolean is never a number and a number never a boolean), so JSON input
/// (batch lines, config.json) can be checked field by field with precise messages. Stands in for
/// `JSONSerialization`, which needs full Foundation (not linked: about 6 MiB resident per rank).
public enum JSONValue: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case integer(Int)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Parses one JSON text (nil if it is not valid JSON).
    public static func parse(_ data: Data) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: data)
    }

    /// The first key that appears twice in one object of a JSON text, with the path of that object ("" for the top
    /// level, "tokenizer" for a nested one), or nil. JSONDecoder keeps one of the two silently; an input whose
    /// meaning depends on which is refused instead. Meant for valid JSON (`parse` first): a scan of the raw text.
    public static func firstDuplicateKey(in data: Data) -> (key: String, object: String)? {
        enum Frame {
            case object(keys: Set<String>, path: String, expectingKey: Bool)
            case array
        }
        var frames: [Frame] = []
        var lastKey = ""
        let bytes = [UInt8](data)
        var i = 0
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "{"):
                let parentPath: String
                if case .object(_, let path, _)? = frames.last {
                    parentPath = path.isEmpty ? lastKey : path + "." + lastKey
                } else if case .array? = frames.last {
                    parentPath = "[]"
                } else {
                    parentPath = ""
                }
                frames.append(.object(keys: [], path: parentPath, expectingKey: true))
            case UInt8(ascii: "["):
                frames.append(.array)
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if !frames.isEmpty { frames.removeLast() }
            case UInt8(ascii: ","):
                if case .object(let keys, let path, _)? = frames.last {
                    frames[frames.count - 1] = .object(keys: keys, path: path, expectingKey: true)
                }
            case UInt8(ascii: "\""):
                var end = i + 1
                while end < bytes.count && bytes[end] != UInt8(ascii: "\"") {
                    end += bytes[end] == UInt8(ascii: "\\") ? 2 : 1
                }
                if case .object(var keys, let path, true)? = frames.last, end < bytes.count {
                    // Escapes decoded as JSONDecoder decodes them: "\u0061" and "a" are one key.
                    let quoted = Data(bytes[i...end])
                    let key = (try? JSONDecoder().decode(String.self, from: quoted)) ?? ""
                    if !keys.insert(key).inserted { return (key, path) }
                    lastKey = key
                    frames[frames.count - 1] = .object(keys: keys, path: path, expectingKey: false)
                }
                i = end
            default:
                break
            }
            i += 1
        }
        return nil
    }

    /// The value as a Double when it is any number.
    public var numberValue: Double? {
        switch self {
        case .integer(let value): Double(value)
        case .number(let value): value
        default: nil
        }
    }

    /// The value when it is a string.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The elements when the value is an array.
    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }
}

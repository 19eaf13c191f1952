import Basics
import FoundationEssentials
import Generation
import Tokenization

/// A request id as written in the input: a JSON string or integer, echoed back with its type.
public enum RequestId: Hashable, Sendable, Codable, CustomStringConvertible {
    case string(String)
    case integer(Int)

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Int.self) {
            self = .integer(value)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        }
    }

    public var description: String {
        switch self {
        case .string(let value): "\"\(value)\""
        case .integer(let value): String(value)
        }
    }
}

/// One request line of a batch input file.
public struct BatchRequest: Sendable, Equatable {
    /// 1-based line number in the input file.
    public var line: Int
    public var id: RequestId
    /// The prompt text; for a conversation, the prompt its model's chat format builds (empty until built).
    public var prompt: String
    /// A conversation to answer, in place of `prompt` (chat models).
    public var messages: [ChatMessage]?
    public var parameters: RequestParameters
}

/// A line that could not be used, with why.
public struct MalformedLine: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var message: String

    public var description: String { "line \(line): \(message)" }
}

/// Reads a JSONL batch input: one object per line, `{"id": ..., "prompt": "...", optional parameters}` (or
/// `"messages": [{"role": ..., "content": ...}, ...]` in place of the prompt, for chat models). Blank
/// lines are skipped; a line that is not such an object (bad JSON, a missing or mistyped field, an unknown field,
/// an id seen on an earlier line) is reported with its line number and left out, and the others still run.
public enum BatchInput {
    public static func read(contentsOf url: URL) throws -> (requests: [BatchRequest], malformed: [MalformedLine]) {
        if let problem = RegularFile.problem(at: url.path) {
            throw BatchInputError(description: "the input file \(url.path) \(problem)")
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw BatchInputError(description: "cannot read the input file \(url.path): \(error.explanation)")
        }
        return parse(data)
    }

    public static func parse(_ data: Data) -> (requests: [BatchRequest], malformed: [MalformedLine]) {
        var requests: [BatchRequest] = []
        var malformed: [MalformedLine] = []
        var seen: [RequestId: Int] = [:]
        let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        for (index, raw) in lines.enumerated() {
            let number = index + 1
            var bytes = Data(raw)
            if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            do {
                let request = try parseLine(bytes, lineNumber: number)
                if let first = seen[request.id] {
                    throw BatchInputError(description: "id \(request.id) already used on line \(first)")
                }
                seen[request.id] = number
                requests.append(request)
            } catch let error as BatchInputError {
                malformed.append(MalformedLine(line: number, message: error.description))
            } catch {
                malformed.append(MalformedLine(line: number, message: "\(error)"))
            }
        }
        return (requests, malformed)
    }

    static func parseLine(_ bytes: Data, lineNumber: Int) throws -> BatchRequest {
        guard let value = JSONValue.parse(bytes) else { throw BatchInputError(description: "not valid JSON") }
        guard case .object(let fields) = value else {
            throw BatchInputError(description: "expected a JSON object like {\"id\": 1, \"prompt\": \"...\"}")
        }
        if let (key, _) = JSONValue.firstDuplicateKey(in: bytes) {
            throw BatchInputError(description: "field \"\(key)\" appears twice")
        }
        let known = Set(["id", "prompt", "messages"] + RequestParameters.keys)
        if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
            throw BatchInputError(
                description: "unknown field \"\(unknown)\" (known: id, prompt, messages, "
                    + RequestParameters.keys.joined(separator: ", ") + ")")
        }
        let id: RequestId
        switch fields["id"] {
        case .string(let text)?: id = .string(text)
        case .integer(let value)?: id = .integer(value)
        case nil: throw BatchInputError(description: "missing \"id\"")
        default: throw BatchInputError(description: "\"id\" must be a string or an integer")
        }
        var prompt = ""
        var messages: [ChatMessage]?
        switch (fields["prompt"], fields["messages"]) {
        case (.string(let text)?, nil): prompt = text
        case (nil, let value?):
            do { messages = try ChatMessage.parse(value, source: "\"messages\"") } catch {
                throw BatchInputError(description: error.description)
            }
        case (nil, nil): throw BatchInputError(description: "missing \"prompt\" (or \"messages\")")
        case (_?, _?): throw BatchInputError(description: "give \"prompt\" or \"messages\", not both")
        default: throw BatchInputError(description: "\"prompt\" must be a string")
        }
        var p = RequestParameters()
        p.maxNewTokens = try integer(fields, "max_new_tokens", minimum: 0)
        p.maxLength = try integer(fields, "max_length", minimum: 1)
        p.temperature = try number(fields, "temperature", check: { $0 > 0 }, expected: "a positive number")
        p.topK = try integer(fields, "top_k", minimum: 0)
        p.topP = try number(fields, "top_p", check: { $0 >= 0 && $0 <= 1 }, expected: "a number in [0, 1]")
        p.seed = try integer(fields, "seed", minimum: 0).map { UInt64($0) }
        switch fields["greedy"] {
        case nil: break
        case .bool(let flag)?: p.greedy = flag
        default: throw BatchInputError(description: "\"greedy\" must be true or false")
        }
        p.numBeams = try integer(fields, "num_beams", minimum: 1)
        p.lengthPenalty = try number(fields, "length_penalty", check: { $0.isFinite }, expected: "a number")
        p.noRepeatNgramSize = try integer(fields, "no_repeat_ngram_size", minimum: 0)
        p.minGenLength = try integer(fields, "min_gen_length", minimum: 0)
        if p.maxNewTokens != nil && p.maxLength != nil {
            throw BatchInputError(description: "use either \"max_new_tokens\" or \"max_length\", not both")
        }
        if p.greedy == true && p.numBeams != nil {
            throw BatchInputError(description: "\"greedy\" and \"num_beams\" exclude each other")
        }
        return BatchRequest(line: lineNumber, id: id, prompt: prompt, messages: messages, parameters: p)
    }

    private static func integer(_ fields: [String: JSONValue], _ key: String, minimum: Int) throws -> Int? {
        guard let value = fields[key] else { return nil }
        guard case .integer(let integer) = value, integer >= minimum else {
            throw BatchInputError(description: "\"\(key)\" must be an integer >= \(minimum)")
        }
        return integer
    }

    private static func number(
        _ fields: [String: JSONValue], _ key: String, check: (Double) -> Bool, expected: String
    ) throws -> Double? {
        guard let value = fields[key] else { return nil }
        guard let number = value.numberValue, check(number) else {
            throw BatchInputError(description: "\"\(key)\" must be \(expected)")
        }
        return number
    }
}

/// Why a batch input or output file cannot be used.
public struct BatchInputError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(description: String) { self.description = description }
}

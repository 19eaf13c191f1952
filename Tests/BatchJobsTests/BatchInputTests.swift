import Foundation
import Generation
import Testing

@testable import BatchJobs

/// Input lines: valid ones parsed with their parameters, every kind of bad line reported with its number while
/// the others still parse.
@Suite struct BatchInputTests {
    static func parse(_ text: String) -> (requests: [BatchRequest], malformed: [MalformedLine]) {
        BatchInput.parse(Data(text.utf8))
    }

    @Test func validLinesWithParameters() {
        let text = """
            {"id": 1, "prompt": "a [MASK] b"}
            {"id": "x-2", "prompt": "c", "max_new_tokens": 5, "temperature": 0.5, "top_k": 3, "top_p": 0.9, "seed": 7}

            {"id": 3, "prompt": "d", "greedy": true, "max_length": 64}\r
            {"id": 4, "prompt": "e", "num_beams": 4, "length_penalty": 0.8, "no_repeat_ngram_size": 3, "min_gen_length": 2}
            """
        let (requests, malformed) = Self.parse(text)
        #expect(malformed.isEmpty)
        #expect(requests.map(\.id) == [.integer(1), .string("x-2"), .integer(3), .integer(4)])
        #expect(requests.map(\.line) == [1, 2, 4, 5])
        #expect(requests[1].parameters.maxNewTokens == 5 && requests[1].parameters.topK == 3)
        #expect(requests[1].parameters.temperature == 0.5 && requests[1].parameters.seed == 7)
        #expect(requests[2].parameters.greedy == true && requests[2].parameters.maxLength == 64)
        #expect(requests[3].parameters.numBeams == 4 && requests[3].parameters.noRepeatNgramSize == 3)
        #expect(requests[3].parameters.lengthPenalty == 0.8 && requests[3].parameters.minGenLength == 2)
    }

    @Test func badLinesAreReportedWithLineNumbers() {
        let text = """
            {"id": 1, "prompt": "ok"}
            {"id": 2, "prompt": "broken"
            [1, 2]
            {"prompt": "no id"}
            {"id": 5}
            {"id": true, "prompt": "x"}
            {"id": 7, "prompt": 3}
            {"id": 8, "prompt": "x", "max_tokens": 5}
            {"id": 9, "prompt": "x", "top_k": -1}
            {"id": 10, "prompt": "x", "top_p": 2}
            {"id": 11, "prompt": "x", "greedy": 1}
            {"id": 1, "prompt": "duplicate"}
            {"id": 13, "prompt": "x", "max_new_tokens": 4, "max_length": 9}
            {"id": 14, "prompt": "x", "max_new_tokens": 2.5}
            {"id": 15, "prompt": "fine too"}
            """
        let (requests, malformed) = Self.parse(text)
        #expect(requests.map(\.id) == [.integer(1), .integer(15)])
        #expect(malformed.map(\.line) == Array(2...14))
        let messages = Dictionary(uniqueKeysWithValues: malformed.map { ($0.line, $0.message) })
        #expect(messages[2] == "not valid JSON")
        #expect(messages[3]!.contains("expected a JSON object"))
        #expect(messages[4] == "missing \"id\"")
        #expect(messages[5] == "missing \"prompt\" (or \"messages\")")
        #expect(messages[6] == "\"id\" must be a string or an integer")
        #expect(messages[7] == "\"prompt\" must be a string")
        #expect(messages[8]!.hasPrefix("unknown field \"max_tokens\""))
        #expect(messages[9] == "\"top_k\" must be an integer >= 0")
        #expect(messages[10] == "\"top_p\" must be a number in [0, 1]")
        #expect(messages[11] == "\"greedy\" must be true or false")
        #expect(messages[12] == "id 1 already used on line 1")
        #expect(messages[13]!.contains("not both"))
        #expect(messages[14] == "\"max_new_tokens\" must be an integer >= 0")
    }
}

extension BatchInputTests {
    /// A conversation in place of the prompt; lines with both, neither, or messages that are not
    /// `{role, content}` objects are reported.
    @Test func messagesInPlaceOfPrompts() {
        let text = """
            {"id": 1, "messages": [{"role": "user", "content": "你好"}], "greedy": true}
            {"id": 2, "prompt": "x", "messages": [{"role": "user", "content": "a"}]}
            {"id": 3, "messages": []}
            {"id": 4, "messages": [{"role": "user", "text": "a"}]}
            {"id": 5, "messages": "hi"}
            """
        let (requests, malformed) = Self.parse(text)
        #expect(requests.count == 1 && requests[0].messages?.first?.content == "你好" && requests[0].prompt.isEmpty)
        let messages = Dictionary(uniqueKeysWithValues: malformed.map { ($0.line, $0.message) })
        #expect(messages[2] == "give \"prompt\" or \"messages\", not both")
        #expect(messages[3]?.contains("non-empty JSON array") == true)
        #expect(messages[4]?.contains("message 0 must be an object with string fields") == true)
        #expect(messages[5]?.contains("non-empty JSON array") == true)
    }
}

/// The output file: ids of complete lines, torn last lines cut off, appends that survive reopening.
@Suite struct ResultStoreTests {
    static func temporaryFile(_ contents: String?) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("results-\(UUID().uuidString).jsonl")
        if let contents { try Data(contents.utf8).write(to: url) }
        return url
    }

    @Test func newFileIsCreatedAndAppendedTo() throws {
        let url = try Self.temporaryFile(nil)
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            let store = try ResultStore(url: url)
            #expect(store.completedIds.isEmpty && store.repairedBytes == 0)
            try store.append(id: .integer(1), json: Data(#"{"id":1,"answer":"a"}"#.utf8))
            try store.append(id: .string("b"), json: Data(#"{"id":"b","answer":"b"}"#.utf8))
        }
        let reopened = try ResultStore(url: url)
        #expect(reopened.completedIds == [.integer(1), .string("b")])
        #expect(reopened.lineCount == 2)
        #expect(
            try String(contentsOf: url, encoding: .utf8)
                == "{\"id\":1,\"answer\":\"a\"}\n{\"id\":\"b\",\"answer\":\"b\"}\n")
    }

    @Test func tornLastLineIsCutOffAndRerun() throws {
        let url = try Self.temporaryFile("{\"id\":1,\"answer\":\"a\"}\n{\"id\":2,\"ans")
        defer { try? FileManager.default.removeItem(at: url) }
        let store = try ResultStore(url: url)
        #expect(store.completedIds == [.integer(1)])
        #expect(store.repairedBytes == "{\"id\":2,\"ans".utf8.count)
        try store.append(id: .integer(2), json: Data(#"{"id":2,"answer":"b"}"#.utf8))
        #expect(
            try String(contentsOf: url, encoding: .utf8) == "{\"id\":1,\"answer\":\"a\"}\n{\"id\":2,\"answer\":\"b\"}\n"
        )
    }

    @Test func aForeignFileIsRefusedWithItsLineNumber() throws {
        let url = try Self.temporaryFile("{\"id\":1,\"answer\":\"a\"}\nhello world\n")
        defer { try? FileManager.default.removeItem(at: url) }
        #expect {
            _ = try ResultStore(url: url)
        } throws: { error in
            "\(error)".contains(":2 is not a JSON object")
        }
        let noId = try Self.temporaryFile("{\"answer\":\"a\"}\n")
        defer { try? FileManager.default.removeItem(at: noId) }
        #expect(throws: BatchInputError.self) { _ = try ResultStore(url: noId) }
        // A file of someone else's is left as it was: its last line used to be cut as "torn" before any check.
        let notes = try Self.temporaryFile("some notes\nmore notes without a newline")
        defer { try? FileManager.default.removeItem(at: notes) }
        #expect(throws: BatchInputError.self) { _ = try ResultStore(url: notes) }
        let unterminated = try Self.temporaryFile("no newline at all")
        defer { try? FileManager.default.removeItem(at: unterminated) }
        #expect(throws: BatchInputError.self) { _ = try ResultStore(url: unterminated) }
        #expect(try String(contentsOf: notes, encoding: .utf8) == "some notes\nmore notes without a newline")
        #expect(try String(contentsOf: unterminated, encoding: .utf8) == "no newline at all")
        // A line with an id but neither an answer nor an error is no result: it used to mark its id as done.
        let noResult = try Self.temporaryFile("{\"id\":1}\n")
        defer { try? FileManager.default.removeItem(at: noResult) }
        #expect {
            _ = try ResultStore(url: noResult)
        } throws: { error in
            "\(error)".contains(":1 is not a result line")
        }
    }

    @Test func progressLine() {
        let start = ContinuousClock.now
        var progress = BatchProgress(total: 4, start: start)
        progress.record(generatedTokens: 30)
        let line = progress.line(now: start + .seconds(10))
        #expect(line == "[batch] 1/4 done, 3.0 tok/s, elapsed 10s, ETA 30s")
        #expect(BatchProgress.clock(187) == "3m07s" && BatchProgress.clock(7500) == "2h05m")
    }
}

import Foundation
import TestSupport
import Testing

/// THUDM/chatglm-6b's release layout under real `mpirun` at TP 1, 2 and 4, against the official code's outputs for
/// the tiny release of `../shared/fixtures/chatglm` (copied to Tests/Fixtures): every case's input ids, its 16
/// greedy ids and decoded answer exact, its prefill logits within 1e-4 over the whole vocabulary.
@Suite(.serialized) struct ChatGLM6BTests {
    static let fixture = try! ChatGLMFixture.chatGLM6B.get()
    static let caseNames = fixture.cases.keys.sorted()

    struct Report: Decodable {
        var input_ids: [Int]
        var generated_ids: [Int]
        var answer_text: String
        var ranks: [[String: JSONNumberOrString]]
    }

    /// Any scalar of a rank's report (the test reads only their count).
    struct JSONNumberOrString: Decodable {
        init(from decoder: Decoder) throws { _ = try? decoder.singleValueContainer() }
    }

    /// The case's input: chat cases as the messages the official prompt was built from (`[Round i]\n问：q\n答：a\n`
    /// for history, the last question alone when there is none), plain cases as text.
    static func arguments(_ name: String, _ testCase: ChatGLMFixture.Case, scratch: URL) throws -> [String] {
        guard name.hasPrefix("chat_") else {
            return ["--prompt", testCase.prompt]
        }
        var messages: [[String: String]] = []
        if testCase.prompt.hasPrefix("[Round ") {
            let rounds = testCase.prompt.components(separatedBy: "[Round ").dropFirst()
            for round in rounds {
                let body = round.drop { $0 != "\n" }.dropFirst()
                let parts = body.components(separatedBy: "\n答：")
                messages.append(["role": "user", "content": String(parts[0].dropFirst("问：".count))])
                let answer = parts[1].hasSuffix("\n") ? String(parts[1].dropLast()) : parts[1]
                if !answer.isEmpty { messages.append(["role": "assistant", "content": answer]) }
            }
        } else {
            messages = [["role": "user", "content": testCase.prompt]]
        }
        let file = scratch.appendingPathComponent("messages-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: messages).write(to: file)
        return ["--messages", file.path]
    }

    @Test(arguments: [1, 2, 4])
    func everyCaseMatchesTheOfficialCode(tp: Int) throws {
        let scratch = try CommandRunner.temporaryDirectory("chatglm6b-tp\(tp)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let model = Self.fixture.directory.path
        for name in Self.caseNames {
            let testCase = try #require(Self.fixture.cases[name])
            let input = try Self.arguments(name, testCase, scratch: scratch)
            let result = try CommandRunner.mpirun(
                tp,
                ["generate", "--model", model, "--greedy", "--max-new-tokens", "16", "--json", "--threads", "1"]
                    + input)
            try #require(result.status == 0, "\(name) TP \(tp): \(result.stderr)")
            let report = try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
            #expect(report.input_ids == testCase.inputIds, "\(name) TP \(tp) (\(input[0]))")
            #expect(report.generated_ids == testCase.gen, "\(name) TP \(tp)")
            #expect(report.answer_text == testCase.decoded, "\(name) TP \(tp)")
            #expect(report.ranks.count == tp)

            let out = scratch.appendingPathComponent("\(name).f32").path
            let logits = try CommandRunner.mpirun(
                tp, ["logits", "--model", model, "--prompt", testCase.prompt, "--out", out, "--threads", "1"])
            try #require(logits.status == 0, "\(name) TP \(tp): \(logits.stderr)")
            let official = try CommandRunner.readFloats(
                Self.fixture.directory.appendingPathComponent("logits/\(name).prefill.f32").path)
            let error = maxAbsDifference(try CommandRunner.readFloats(out), official)
            #expect(error < 1e-4, "\(name) TP \(tp): max |logit - official| = \(error)")
        }
    }
}

import Foundation
import TestSupport
import Testing

/// GLM-130B's official cases (`Tests/Fixtures/glm-tiny-icetk`, outputs of the official code) run through the binary
/// under any launcher: one rank, mpirun on this host, or the namespace cluster.
enum OfficialCaseRuns {
    /// Every case's logits at its last context position from `model` on `tp` ranks (`extra` arguments added) within
    /// `bound` of the official ones, or within `bound` times their largest magnitude when `relativeToScale`.
    static func checkLogits(
        tp: Int, model: String, extra: [String] = [], bound: Float, relativeToScale: Bool = false, in scratch: URL,
        launch: (Int, [String]) throws -> CommandRunner.Result
    ) throws {
        for testCase in Fixture.cases {
            let out = scratch.appendingPathComponent("\(testCase.name).f32").path
            let ids = testCase.inputIds.map(String.init).joined(separator: ",")
            let run = try launch(tp, ["logits", "--model", model, "--ids", ids, "--out", out, "--threads", "1"] + extra)
            try #require(run.status == 0, "\(testCase.name) at TP \(tp): \(run.stderr)")
            let official = Fixture.referenceLogits(testCase)
            let limit = relativeToScale ? bound * official.map(abs).max()! : bound
            let error = maxAbsDifference(try CommandRunner.readFloats(out), official)
            #expect(error < limit, "\(testCase.name) at TP \(tp) \(extra): max |logit - official| = \(error)")
        }
    }

    /// A batch input with every official case (greedy, 16 new tokens) and a long request after each case numbered
    /// in `padding`.
    static func batchInput(in directory: URL, padding: [Int]) throws -> String {
        var lines: [String] = []
        for (index, testCase) in Fixture.cases.enumerated() {
            let prompt = String(decoding: try JSONEncoder().encode(testCase.rawText), as: UTF8.self)
            lines.append(#"{"id": "\#(testCase.name)", "prompt": \#(prompt), "greedy": true, "max_new_tokens": 16}"#)
            if padding.contains(index + 1) {
                lines.append(
                    #"{"id": "long\#(index + 1)", "prompt": "The morning train [MASK]", "max_new_tokens": 800}"#)
            }
        }
        let path = directory.appendingPathComponent("in.jsonl").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The result file holds `lines` lines, one per id, and every official case's line has the official tokens.
    static func expectOfficialTokens(_ output: String, lines: Int) throws {
        let text = try String(contentsOfFile: output, encoding: .utf8)
        var generated: [String: [Int]] = [:]
        for line in text.split(separator: "\n") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let id = try #require(object["id"] as? String)
            #expect(generated[id] == nil, "\(id) written twice")
            generated[id] = object["generated_ids"] as? [Int] ?? []
        }
        #expect(generated.count == lines, "\(text)")
        for testCase in Fixture.cases {
            #expect(generated[testCase.name] == testCase.expectedGeneratedIds, "\(testCase.name)")
        }
    }
}

import Foundation
import TestSupport
import Testing

/// Sampling settings at the edge of what a Float holds travel from rank 0 to every rank in the wire encoding, which
/// takes any bit pattern: `--temperature inf` (or a value that rounds to it) and a batch line's `1e39` run instead of
/// trapping in an encoder, on one rank and on two.
@Suite(.serialized) struct ExtremeValueTests {
    static var model: String { Fixture.checkpointDirectory.path }

    @Test(arguments: ["inf", "1e308", "1e-45"])
    func extremeTemperaturesRun(temperature: String) throws {
        for ranks in [1, 2] {
            let arguments = [
                "generate", "--model", Self.model, "--prompt", "Hello [MASK] world", "--temperature", temperature,
                "--max-new-tokens", "3", "--threads", "1",
            ]
            let result = ranks == 1 ? try CommandRunner.glm(arguments) : try CommandRunner.mpirun(ranks, arguments)
            #expect(result.status == 0, "\(ranks) ranks, --temperature \(temperature): \(result.stderr)")
        }
    }

    @Test func aBatchLineWithAnOverflowingTemperatureRunsWithTheOthers() throws {
        let scratch = try CommandRunner.temporaryDirectory("extreme-batch")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let input = scratch.appendingPathComponent("input.jsonl").path
        let output = scratch.appendingPathComponent("output.jsonl").path
        try (#"{"id": 1, "prompt": "Hi", "temperature": 1e39}"# + "\n" + #"{"id": 2, "prompt": "Hello"}"# + "\n")
            .write(toFile: input, atomically: true, encoding: .utf8)
        let result = try CommandRunner.mpirun(
            2, ["batch", "--model", Self.model, "--input", input, "--output", output, "--max-new-tokens", "3",
                "--threads", "1", "--quiet"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2 && lines.allSatisfy { !$0.contains("\"error\"") }, "\(lines)")
    }
}

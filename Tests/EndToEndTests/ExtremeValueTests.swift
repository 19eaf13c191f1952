import Foundation
import TestSupport
import Testing

/// Values at the edge of what an option holds: a temperature that is or rounds to an infinite Float is a clear usage
/// error (it trapped in the request's JSON encoding before), so is one too small for fp32 logits, and the smallest
/// allowed one runs, on one rank and on two;
/// in a batch, such a line becomes an error line and the others run. Beams, threads and batch sizes that would
/// exhaust memory or hang are refused by their bounds.
@Suite(.serialized) struct ExtremeValueTests {
    static var model: String { Fixture.checkpointDirectory.path }

    static func generate(_ extra: [String]) -> [String] {
        ["generate", "--model", model, "--prompt", "Hello [MASK] world", "--max-new-tokens", "3", "--threads", "1"]
            + extra
    }

    @Test(arguments: ["inf", "1e308"])
    func infiniteTemperaturesAreUsageErrors(temperature: String) throws {
        for ranks in [1, 2] {
            let arguments = Self.generate(["--temperature", temperature])
            let result = ranks == 1 ? try CommandRunner.glm(arguments) : try CommandRunner.mpirun(ranks, arguments)
            #expect(result.status == 64, "\(ranks) ranks, --temperature \(temperature): \(result.stderr)")
            #expect(result.stderr.contains("--temperature must be a finite number"), "\(result.stderr)")
        }
    }

    /// Below 1e-4, logits / temperature overflow fp32 and the draw is no longer the limit the temperature tends to
    /// (the argmax): 1e-44 gave another answer than --greedy with exit 0. The smallest allowed value runs.
    @Test func temperaturesTooSmallForFp32AreRefusedAndTheSmallestAllowedRuns() throws {
        for ranks in [1, 2] {
            let tiny = Self.generate(["--temperature", "1e-45"])
            let refused = ranks == 1 ? try CommandRunner.glm(tiny) : try CommandRunner.mpirun(ranks, tiny)
            #expect(refused.status == 64, "\(ranks) ranks: \(refused.stderr)")
            #expect(refused.stderr.contains("--temperature must be at least 0.0001"), "\(refused.stderr)")
            let smallest = Self.generate(["--temperature", "1e-4"])
            let result = ranks == 1 ? try CommandRunner.glm(smallest) : try CommandRunner.mpirun(ranks, smallest)
            #expect(result.status == 0, "\(ranks) ranks: \(result.stderr)")
        }
    }

    @Test(arguments: [
        (["--num-beams", "1000000"], "--num-beams must be at most 256"),
        (["--num-beams", "4611686018427387904"], "--num-beams must be at most 256"),
        (["--threads", "100000"], "--threads must be at most 1024"),
        (["--threads", "4611686018427387904"], "--threads must be at most 1024"),
    ])
    func unboundedValuesAreRefused(extra: [String], message: String) throws {
        let result = try CommandRunner.run(CommandRunner.glmcluster, Self.generate(extra), timeout: 30)
        #expect(result.status == 64 && result.stderr.contains(message), "\(extra): \(result.stderr)")
    }

    @Test func benchBatchSizesAreBounded() throws {
        let result = try CommandRunner.run(
            CommandRunner.glmcluster,
            [
                "bench", "--config", "configs/demo.json", "--prompt-tokens", "4", "--gen-tokens", "1", "--batch-sizes",
                "1000000",
            ], timeout: 30)
        #expect(result.status == 64 && result.stderr.contains("must be at most 4096"), "\(result.stderr)")
    }

    @Test func aBatchLineWithAnOverflowingValueIsAnErrorLineAndTheOthersRun() throws {
        let scratch = try CommandRunner.temporaryDirectory("extreme-batch")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let input = scratch.appendingPathComponent("input.jsonl").path
        let output = scratch.appendingPathComponent("output.jsonl").path
        let lines = [
            #"{"id": 1, "prompt": "Hi", "temperature": 1e39}"#,
            #"{"id": 2, "prompt": "Hello"}"#,
            #"{"id": 3, "prompt": "Hey", "num_beams": 4611686018427387904}"#,
        ]
        try (lines.joined(separator: "\n") + "\n").write(toFile: input, atomically: true, encoding: .utf8)
        let result = try CommandRunner.mpirun(
            2,
            [
                "batch", "--model", Self.model, "--input", input, "--output", output, "--max-new-tokens", "3",
                "--threads", "1", "--quiet",
            ])
        #expect(result.status == 3, "\(result.stderr)")
        let written = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
        #expect(written.count == 3, "\(written)")
        #expect(
            written.contains { $0.contains(#""id":1"#) && $0.contains(#"\"temperature\" must be a finite number"#) })
        #expect(written.contains { $0.contains(#""id":2"#) && !$0.contains("error") })
        #expect(written.contains { $0.contains(#""id":3"#) && $0.contains(#"\"num_beams\" must be at most 256"#) })
    }
}

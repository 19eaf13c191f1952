import Foundation
import TestSupport
import Testing

/// `--allreduce fp16`: the ranks' partial sums travel as IEEE fp16. Against the official GLM-130B vectors at TP 2
/// and 4 the logits move by at most 4e-3 of their largest magnitude (measured: 1.1e-3 at TP 2, 1.5e-3 at TP 4;
/// fp32 sums stay within 1e-6 of it) and greedy decoding keeps the official tokens; sums past fp16's range are
/// taken again in fp32 instead of turning into infinities.
@Suite(.serialized) struct HalfAllreduceTests {
    @Test(arguments: [2, 4]) func officialVectorsHoldWithHalfSums(tp: Int) throws {
        let scratch = try CommandRunner.temporaryDirectory("half-allreduce")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let model = Fixture.mp2Directory.path
        try OfficialCaseRuns.checkLogits(
            tp: tp, model: model, extra: ["--allreduce", "fp16"], bound: 4e-3, relativeToScale: true, in: scratch
        ) { try CommandRunner.mpirun($0, $1) }
        let input = try OfficialCaseRuns.batchInput(in: scratch, padding: [])
        let output = scratch.appendingPathComponent("out.jsonl").path
        let batch = try CommandRunner.mpirun(
            tp,
            ["batch", "--model", model, "--input", input, "--output", output, "--threads", "1", "--allreduce", "fp16"])
        try #require(batch.status == 0, "\(batch.stderr)")
        try OfficialCaseRuns.expectOfficialTokens(output, lines: Fixture.cases.count)
    }

    /// GLM-4's tiny release with its row-parallel weights scaled by 2^16: every layer's partial sums overflow fp16,
    /// every such sum is taken again in fp32, and the logits equal the fp32 allreduce's bit for bit (the embedding's
    /// sum, one non-zero row per token, is exact in fp16).
    @Test func sumsPastTheHalfRangeAreTakenInFp32() throws {
        let fixture = try #require(ChatGLM2FamilyTests.fixtures["glm4"])
        let scratch = try CommandRunner.temporaryDirectory("half-allreduce-overflow")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let model = scratch.appendingPathComponent("scaled").path
        let script = CommandRunner.packageRoot.appendingPathComponent("Tests/Reference/scale_row_parallel_weights.py")
        let scaled = try CommandRunner.python([script.path, fixture.directory.path, model, "16"])
        try #require(scaled.status == 0, "\(scaled.stderr)")
        var logits: [String: [Float]] = [:]
        for format in ["fp32", "fp16"] {
            let out = scratch.appendingPathComponent("\(format).f32").path
            let run = try CommandRunner.mpirun(
                2,
                [
                    "logits", "--model", model, "--prompt", "Hello there, how are you", "--out", out, "--threads", "1",
                    "--allreduce", format,
                ])
            try #require(run.status == 0, "\(format): \(run.stderr)")
            logits[format] = try CommandRunner.readFloats(out)
        }
        let fp32 = try #require(logits["fp32"])
        #expect(fp32.allSatisfy(\.isFinite) && fp32.map(abs).max()! > 1)
        let fp16 = try #require(logits["fp16"])
        let finite = fp16.allSatisfy(\.isFinite)
        #expect(finite, "fp16 sums gave non-finite logits")
        let identical = fp16 == fp32
        #expect(identical, "max |fp16 - fp32| = \(maxAbsDifference(fp16, fp32))")
    }
}

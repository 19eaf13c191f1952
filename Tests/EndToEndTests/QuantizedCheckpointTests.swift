import Foundation
import TestSupport
import Testing

/// Official weight-only quantization through the CLI: `convert --quantize` writes official quantized checkpoints,
/// `--quantize` quantizes at load time, and a checkpoint quantized at MP=2 runs at TP=1, 2 and 4 with the logits
/// of the NumPy reference (Tests/Reference/glm_reference.py), which dequantizes every source shard with its own
/// scales before merging.
@Suite(.serialized) struct QuantizedCheckpointTests {
    static let fixture = Fixture.checkpointDirectory.path

    /// "Hello World! I am" [gMASK] <sop>.
    static let ids = "39316,20932,20035,20115,150001,150004"

    /// The fixture converted with `convert --tp N --quantize B`, created once per test process.
    static let converted: [String: String] = {
        let root = try! CommandRunner.processLifetimeDirectory("quantized-checkpoints")
        var paths: [String: String] = [:]
        for (name, tp, bits) in [("int8-mp1", 1, "int8"), ("int8-mp2", 2, "int8"), ("int4-mp2", 2, "int4")] {
            let out = root.appendingPathComponent(name).path
            let result = try! CommandRunner.glm([
                "convert", "--from", fixture, "--to", out, "--tp", "\(tp)", "--quantize", bits,
            ])
            precondition(result.status == 0, "convert failed: \(result.stderr)")
            paths[name] = out
        }
        return paths
    }()

    static func logits(_ model: String, ranks: Int, _ extra: [String] = []) throws -> [Float] {
        let scratch = try CommandRunner.temporaryDirectory("quantized-logits")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let out = scratch.appendingPathComponent("logits.f32").path
        let arguments = ["logits", "--model", model, "--ids", ids, "--out", out] + extra
        let result = ranks == 1 ? try CommandRunner.glm(arguments) : try CommandRunner.mpirun(ranks, arguments)
        try #require(result.status == 0, "logits (\(ranks) ranks, \(model)) failed: \(result.stderr)")
        return try CommandRunner.readFloats(out)
    }

    /// `--quantize int8` at load time is exactly the official per-shard quantization: the same logits, bit for
    /// bit, as the `convert --quantize int8` checkpoint at the same tensor-parallel degree.
    @Test(arguments: [1, 2])
    func loadTimeQuantizationEqualsConvertedCheckpoint(tp: Int) throws {
        let file = try #require(Self.converted[tp == 1 ? "int8-mp1" : "int8-mp2"])
        let atLoad = try Self.logits(Self.fixture, ranks: tp, ["--quantize", "int8"])
        let converted = try Self.logits(file, ranks: tp)
        #expect(atLoad.count == 150528)
        #expect(atLoad == converted, "TP=\(tp): max difference \(maxAbsDifference(atLoad, converted))")
        let fp16 = try Self.logits(Self.fixture, ranks: tp)
        #expect(atLoad != fp16)
    }

    /// glm_reference.py with its dequantization kept in fp32: the official kernel (`int8WeightExtractionHalf`)
    /// multiplies level and scale in fp16, which rounds each dequantized weight to fp16; the engine multiplies in
    /// fp32 (exact: 8-bit level times 11-bit scale). The wrapper checks that its exact weights round to the
    /// reference's own fp16 ones bit for bit, so the unpacking and scale handling are the reference's.
    static let exactDequantizationReference = """
        import sys, runpy
        import numpy as np
        sys.path.insert(0, sys.argv[1])
        import glm_reference as g
        official = g._dequantize
        def exact(key, w, scale, local_in):
            expected = official(key, w, scale, local_in)
            ones = official(key, w, np.ones_like(scale), local_in).astype(np.float32)  # the levels
            result = ones * scale.astype(np.float32)[:, None]
            assert np.array_equal(result.astype(np.float16).view(np.uint16), expected.view(np.uint16)), key
            return result
        g._dequantize = exact
        sys.exit(g.main(sys.argv[2:]))
        """

    /// A checkpoint quantized at MP=2 gives the reference's logits at TP=1 (row-parallel layers with two scale
    /// groups per row), TP=2 and TP=4: within 1e-3 of the reference with exact (fp32) dequantization, and within
    /// the fp16 rounding of the dequantized weights of the reference with the official fp16 product.
    @Test(arguments: ["int8", "int4"])
    func mp2CheckpointMatchesReferenceAtAnyDegree(bits: String) throws {
        let model = try #require(Self.converted["\(bits)-mp2"])
        let scratch = try CommandRunner.temporaryDirectory("quantized-reference")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let exactFile = scratch.appendingPathComponent("exact.f32").path
        let officialFile = scratch.appendingPathComponent("official.f32").path
        let referenceDirectory = URL(fileURLWithPath: CommandRunner.referenceScript).deletingLastPathComponent().path
        let exact = try CommandRunner.python([
            "-c", Self.exactDequantizationReference, referenceDirectory, "logits", "--model", model, "--ids", Self.ids,
            "--out", exactFile,
        ])
        try #require(exact.status == 0, "reference (exact dequantization) failed: \(exact.stderr)")
        let official = try CommandRunner.python([
            CommandRunner.referenceScript, "logits", "--model", model, "--ids", Self.ids, "--out", officialFile,
        ])
        try #require(official.status == 0, "reference failed: \(official.stderr)")
        let expected = try CommandRunner.readFloats(exactFile)
        let expectedOfficial = try CommandRunner.readFloats(officialFile)
        var report: [String] = []
        for tp in [1, 2, 4] {
            let ours = try Self.logits(model, ranks: tp)
            try #require(ours.count == expected.count)
            let error = maxAbsDifference(ours, expected)
            let officialError = maxAbsDifference(ours, expectedOfficial)
            report.append("TP=\(tp) \(error) (official fp16 product: \(officialError))")
            #expect(error < 1e-3, "\(bits) MP=2 checkpoint at TP=\(tp): max |logit - reference| = \(error)")
            #expect(
                officialError < 0.1, "\(bits) MP=2 at TP=\(tp): max |logit - fp16-product reference| = \(officialError)"
            )
        }
        print("\(bits) MP=2 checkpoint vs NumPy reference, max |delta logit|: \(report.joined(separator: ", "))")
    }

    /// Coordinator loading streams fp16: it quantizes per rank after receiving (same logits as shared loading),
    /// and refuses an official quantized checkpoint with a clear message.
    @Test func coordinatorLoading() throws {
        let shared = try Self.logits(Self.fixture, ranks: 2, ["--quantize", "int4"])
        let coordinator = try Self.logits(
            Self.fixture, ranks: 2, ["--quantize", "int4", "--weights-from", "coordinator"])
        #expect(shared == coordinator)

        let model = try #require(Self.converted["int8-mp2"])
        let scratch = try CommandRunner.temporaryDirectory("quantized-coordinator")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let result = try CommandRunner.mpirun(
            2,
            [
                "logits", "--model", model, "--ids", Self.ids, "--out", scratch.appendingPathComponent("x").path,
                "--weights-from", "coordinator",
            ])
        #expect(result.status != 0)
        #expect(result.stderr.contains("quantized checkpoint") && result.stderr.contains("--weights-from shared"))
    }

    @Test func badRequestsAreClearErrors() throws {
        let model = try #require(Self.converted["int8-mp2"])
        let scratch = try CommandRunner.temporaryDirectory("quantized-errors")
        defer { try? FileManager.default.removeItem(at: scratch) }
        // Another bit width than the checkpoint's.
        let requantize = try CommandRunner.glm([
            "logits", "--model", model, "--ids", Self.ids, "--out", scratch.appendingPathComponent("x").path,
            "--quantize", "int4",
        ])
        #expect(requantize.status != 0)
        #expect(requantize.stderr.contains("already quantized") && requantize.stderr.contains("mp_rank_00"))
        // Converting a quantized checkpoint again.
        let again = try CommandRunner.glm([
            "convert", "--from", model, "--to", scratch.appendingPathComponent("again").path, "--tp", "1",
        ])
        #expect(again.status != 0)
        #expect(again.stderr.contains("already quantized") && again.stderr.contains("fp16 source"))
        // Not a bit width.
        let bad = try CommandRunner.glm([
            "logits", "--model", Self.fixture, "--ids", Self.ids, "--out", "x", "--quantize", "int3",
        ])
        #expect(bad.status != 0 && bad.stderr.contains("int3"))
    }
}

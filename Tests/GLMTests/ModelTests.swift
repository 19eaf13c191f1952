import Checkpoint
import Foundation
import GLM
import TestSupport
import Testing

@Suite struct ModelTests {
    /// The official checkpoint stores the fp16 inverse frequencies it was trained with: ours must equal them.
    @Test func rotaryInverseFrequenciesEqualTheCheckpointsOwn() throws {
        let file = try TorchCheckpointFile(
            path: Fixture.root.appendingPathComponent("mp1/49300/mp_rank_00_model_states.pt").path)
        let stored = try file.float16("transformer.layers.0.attention.rotary_emb.inv_freq")
        #expect(RotaryEmbedding(headDimension: 8).inverseFrequencies == stored)
    }

    /// The fp16 table differs from exact RoPE: at position 1500 the angles are rounded to fp16.
    @Test func rotaryTableRoundsAnglesAndValuesToHalf() {
        let rotary = RotaryEmbedding(headDimension: 128)
        let (cosines, sines) = rotary.table(position: 1500)
        for j in [0, 1, 5, 40] {
            let angle = Float(Float16(Float(Float16(1500)) * Float(rotary.inverseFrequencies[j])))
            #expect(cosines[j] == Float(Float16(cos(Double(angle)))))
            #expect(sines[j] == Float(Float16(sin(Double(angle)))))
        }
        // Position 1500, j = 0: angle 1500 rad is exact in fp16, but j = 1 is rounded.
        let exact = 1500.0 * (1.0 / pow(10000.0, 2.0 / 128.0))
        #expect(abs(Double(cosines[1]) - cos(exact)) > 1e-3)
    }

    /// Decoding token by token with the KV cache gives the logits of recomputing the whole sequence.
    @Test(arguments: ["en_mask", "en_gmask", "mask_first"])
    func incrementalDecodingEqualsFullRecomputation(caseName: String) throws {
        let (model, _) = try Fixture.load("mp1")
        let testCase = try #require(Fixture.cases.first { $0.name == caseName })
        let context = testCase.inputIds
        let layout = SequenceLayout(
            contextLength: context.count, maskPosition: testCase.maskPosition, useGMask: testCase.useGMask)
        let generated = testCase.expectedGeneratedIds
        let cache = model.makeCache(capacity: context.count + generated.count)
        var incremental = [model.forward(tokens: context, layout: layout, cache: cache)]
        for token in generated.dropLast() {
            incremental.append(model.forward(tokens: [token], layout: layout, cache: cache))
        }
        for step in [1, 5, generated.count - 1] {
            let sequence = context + generated.prefix(step)
            let full = model.forward(
                tokens: sequence, layout: layout, cache: model.makeCache(capacity: sequence.count))
            #expect(maxAbsDifference(full, incremental[step]) < 1e-4, "step \(step)")
        }
    }

    @Test func sequenceLayoutFollowsTheOfficialMaskAndPositions() {
        let masked = SequenceLayout(contextLength: 6, maskPosition: 2, useGMask: false)
        #expect((0..<9).map(masked.position(of:)) == [0, 1, 2, 3, 4, 2, 2, 2, 2])
        let gmask = SequenceLayout(contextLength: 6, maskPosition: 4, useGMask: true)
        #expect((0..<9).map(gmask.position(of:)) == Array(0..<9))
        // Context tokens see the whole context but not <sop>; <sop> and later tokens are causal.
        #expect(masked.allows(row: 0, column: 4))
        #expect(!masked.allows(row: 0, column: 5))
        #expect(masked.allows(row: 5, column: 5))
        #expect(!masked.allows(row: 5, column: 6))
        #expect(masked.allows(row: 7, column: 6))
    }
}

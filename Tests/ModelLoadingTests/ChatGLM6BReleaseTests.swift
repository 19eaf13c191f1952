import Checkpoint
import Configuration
import Foundation
import GLM
import ModelLoading
import Partitioning
import TestSupport
import Testing

/// THUDM/chatglm-6b's release layout, loaded as it is and computed by the ChatGLM-6B architecture file, against the
/// logits of the official `modeling_chatglm.py` (fp32, `../shared/fixtures/chatglm`), on 1, 2 and 4 simulated
/// tensor-parallel ranks.
@Suite struct ChatGLM6BReleaseTests {
    static let fixture = try! ChatGLMFixture.chatGLM6B.get()
    static let caseNames = fixture.cases.keys.sorted()

    @Test func theReleaseConfigurationIsRecognisedAndRead() throws {
        let source = ModelSource(path: Self.fixture.directory.path)
        let c = try source.configuration()
        #expect(c.architecture == .chatGLM6B)
        #expect(c.numLayers == 3 && c.hiddenSize == 64 && c.numAttentionHeads == 4 && c.innerHiddenSize == 256)
        #expect(c.vocabSize == 1344 && c.tokenizer.commandTokensStart == 988 && c.tokenizer.eos == 993)
        #expect(WeightSpec.all(for: c).first { $0.key.hasSuffix("dense_h_to_4h.weight") }?.shape == [256, 64])
        let store = try source.weightStore(for: c)
        #expect(store is ReleaseCheckpoint && store.weightFiles.count == 4)
        #expect(try store.fingerprint().hasPrefix("release (pytorch_model-00001-of-00004.bin "))
    }

    /// Prefill logits, then each of the 16 official greedy tokens fed back one at a time: every step's logits over
    /// the whole vocabulary within 1e-4 of the official ones, and every official token the argmax.
    @Test(arguments: [1, 2, 4], caseNames)
    func logitsMatchTheOfficialCode(ranks: Int, caseName: String) throws {
        let testCase = try #require(Self.fixture.cases[caseName])
        let directory = Self.fixture.directory
        let prefill = try Self.floats(directory.appendingPathComponent("logits/\(caseName).prefill.f32"))
        let steps = try Self.floats(directory.appendingPathComponent("logits/\(caseName).steps.f32"))
        let vocabulary = 1344
        #expect(prefill.count == vocabulary && steps.count == 16 * vocabulary)

        let source = ModelSource(path: directory.path)
        let configuration = try source.configuration()
        let store = try source.weightStore(for: configuration)
        let ids = testCase.inputIds
        let gMask = configuration.tokenizer.commandTokensStart + 1
        let layout = SequenceLayout(
            contextLength: ids.count, maskPosition: try #require(ids.firstIndex(of: gMask)), useGMask: true)
        // Each rank's logits of the prefill and of every step, over its vocabulary slice.
        let results = SimulatedWorld.run(ranks: ranks) { rank -> Result<[[Float]], ErrorBox> in
            Result { () throws(ErrorBox) -> [[Float]] in
                do {
                    let partition = Partition(index: rank.rank, count: ranks)
                    let weights = try source.weights(from: store, configuration: configuration, partition: partition)
                    let model = GLMModel(
                        configuration: configuration, weights: weights, partition: partition,
                        reduction: SimulatedReduction(rank: rank))
                    let cache = model.makeCache(capacity: ids.count + 16)
                    var logits = [model.forward(tokens: ids, layout: layout, cache: cache)]
                    for token in testCase.gen {
                        logits.append(model.forward(tokens: [token], layout: layout, cache: cache))
                    }
                    return logits
                } catch { throw ErrorBox(description: "\(error)") }
            }
        }
        let perRank = try results.map { try $0.get() }
        let merged = (0..<17).map { step in perRank.flatMap { $0[step] } }
        let prefillError = maxAbsDifference(merged[0], prefill)
        #expect(prefillError < 1e-4, "\(caseName) TP \(ranks): prefill max |logit - official| = \(prefillError)")
        for step in 0..<16 {
            let official = Array(steps[(step * vocabulary)..<((step + 1) * vocabulary)])
            let error = maxAbsDifference(merged[step], official)
            #expect(error < 1e-4, "\(caseName) TP \(ranks) step \(step): max |logit - official| = \(error)")
            let argmax = merged[step].indices.max { merged[step][$0] < merged[step][$1] }
            #expect(argmax == testCase.gen[step], "\(caseName) TP \(ranks) step \(step)")
        }
    }

    static func floats(_ url: URL) throws -> [Float] {
        let data = try Data(contentsOf: url)
        return data.withUnsafeBytes { raw in
            (0..<(data.count / 4)).map {
                Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))
            }
        }
    }
}

struct ErrorBox: Error, CustomStringConvertible {
    var description: String
}

/// The tensor-parallel sum over simulated ranks: every rank adds the parts in rank order, so all get the same bits.
struct SimulatedReduction: TensorParallelReduction {
    let rank: SimulatedRank

    func sum(_ values: UnsafeMutableBufferPointer<Float>) {
        let parts = rank.world.exchange(rank: rank.rank, kind: "sum", Array(values)).map { $0 as! [Float] }
        for i in values.indices { values[i] = parts.dropFirst().reduce(parts[0][i]) { $0 + $1[i] } }
    }
}

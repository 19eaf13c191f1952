import Checkpoint
import Configuration
import GLM
import ModelLoading
import Partitioning
import TestSupport
import Tensors
import Testing

/// Non-finite weights are refused with the tensor's name, whatever the tensor and wherever the value sits.
@Suite struct WeightValueTests {
    static let configuration = Fixture.configuration

    static func assemble(poisoning key: String, at index: Int, with value: Float16) throws -> GLMWeights {
        try GLMWeights.assemble(configuration: configuration) { spec in
            var values = [Float16](repeating: 0.5, count: spec.shape.reduce(1, *))
            if spec.key == key { values[min(index, values.count - 1)] = value }
            return HalfTensor(shape: spec.shape, values: values)
        }
    }

    @Test(arguments: [
        ("transformer.word_embeddings.weight", 0), ("transformer.layers.1.mlp.dense_4h_to_h.weight", 4095),
        ("transformer.layers.0.input_layernorm.bias", 31), ("transformer.final_layernorm.weight", 1),
    ])
    func nanAndInfinityNameTheirTensor(key: String, index: Int) throws {
        for value in [Float16.nan, .infinity, -.infinity] {
            do {
                _ = try Self.assemble(poisoning: key, at: index, with: value)
                Issue.record("\(key) with \(value) loaded")
            } catch {
                #expect("\(error)".contains("tensor '\(key)'"), "\(error)")
            }
        }
    }

    @Test func theLargestAndSmallestFiniteValuesLoad() throws {
        for value in [Float16.greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude] {
            _ = try Self.assemble(poisoning: "transformer.layers.0.attention.dense.weight", at: 7, with: value)
        }
    }

    @Test func theScanFindsTheFirstNonFiniteValueInAnyBlock() {
        for count in [1, 7, 4096, 4097, 10_000] {
            for position in [0, count / 2, count - 1] {
                var bits = [UInt16](repeating: Float16(1).bitPattern, count: count)
                #expect(VectorKernels.firstNonFiniteHalf(bits, count: count) == nil)
                bits[position] = Float16.nan.bitPattern
                if position + 1 < count { bits[count - 1] = Float16.infinity.bitPattern }
                #expect(VectorKernels.firstNonFiniteHalf(bits, count: count) == position, "\(count) \(position)")
            }
        }
    }
}

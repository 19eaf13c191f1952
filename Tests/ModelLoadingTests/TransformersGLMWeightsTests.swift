import Checkpoint
import Configuration
import Foundation
import ModelLoading
import Partitioning
import TestSupport
import Testing

/// GLM-4 in transformers' `GlmForCausalLM` layout (the tiny glm-4-9b-chat-hf release: the same bf16 weights as the
/// original release, renamed, with separate q/k/v projections) read under the original's keys: every tensor of
/// every partition equals the original release's, bit for bit.
@Suite struct TransformersGLMWeightsTests {
    @Test(arguments: [1, 2, 4]) func everyPartitionEqualsTheOriginalRelease(partitions: Int) throws {
        let original = try ChatGLMFixture.glm4.get().directory
        let configuration = try ModelSource(path: original.path).configuration()
        #expect(configuration.architecture == .chatGLM2 && configuration.keyValueGroups == 2)
        #expect(configuration.rotaryBase == 5_000_000)
        let store = try ModelSource(path: original.path).weightStore(for: configuration)
        #expect(store is SafetensorsRelease && store.weightFiles.count == 3)
        let hf = try TransformersGLMWeights(
            store: SafetensorsRelease(
                directory: original.deletingLastPathComponent().appendingPathComponent("glm-4-9b-chat-hf-tiny")))
        let originalKeys = try store.tensorKeys().filter { !$0.hasSuffix("inv_freq") }
        #expect(Set(hf.tensorKeys()) == Set(originalKeys))
        for spec in WeightSpec.all(for: configuration) {
            for index in 0..<partitions {
                let partition = Partition(index: index, count: partitions)
                let a = try store.tensor(spec.key, globalShape: spec.shape, layout: spec.layout, partition: partition)
                let b = try hf.tensor(spec.key, globalShape: spec.shape, layout: spec.layout, partition: partition)
                #expect(
                    a.shape == b.shape && a.values.map(\.bitPattern) == b.values.map(\.bitPattern),
                    "\(spec.key) \(partition)")
            }
        }
    }
}

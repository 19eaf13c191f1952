import Configuration

/// The released shapes `glmcluster plan --preset` predicts for without a checkpoint: the numbers of each release's
/// config.json (GLM-130B's from the paper and its official config, as `ModelConfiguration.glm130B`).
public enum PlanPresets {
    public static let all: [String: ModelConfiguration] = [
        "glm-130b": .glm130B,
        "chatglm-6b": {
            var c = ModelConfiguration(
                numLayers: 28, hiddenSize: 4096, numAttentionHeads: 32, innerHiddenSize: 16384, vocabSize: 130528,
                maxSequenceLength: 2048, tokenizer: .icetk)
            c.architecture = .chatGLM6B
            return c
        }(),
        "glm-4-9b": {
            var c = ModelConfiguration(
                numLayers: 40, hiddenSize: 4096, numAttentionHeads: 32, innerHiddenSize: 13696, vocabSize: 151552,
                maxSequenceLength: 131072, tokenizer: .icetk)
            c.architecture = .chatGLM2
            c.keyValueGroups = 2
            return c
        }(),
    ]
}

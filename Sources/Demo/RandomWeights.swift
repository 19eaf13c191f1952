import Checkpoint
import Configuration
import GLM
import Partitioning
import Tensors

/// Random GLM weights in the official state-dict layout, for tests and the demo model.
///
/// Scales follow the official test fixture so random models produce varied, non-degenerate text: unit-normal
/// embedding rows for the tokenizer's text ids, small rows (0.1) for the command tokens so they are rarely
/// generated as text, zero rows elsewhere (padding and image ids never win), projections scaled by
/// 1/sqrt(fan-in), LayerNorm gains near one, a final LayerNorm gain that keeps logits moderate.
public enum RandomWeights {
    /// Global (MP=1) tensors for every key of `WeightSpec.all(for:)`, in that order.
    /// `eosScale` multiplies the eos embedding row: above 1, random texts end sooner (tests of finished beams and
    /// end tokens need models that stop).
    public static func generate(
        configuration c: ModelConfiguration, seed: UInt64, textTokenCount: Int, eosScale: Float = 1
    ) -> [(key: String, tensor: HalfTensor)] {
        var random = SeededRandomSource(seed: seed)
        let text = c.tokenizer.numImageTokens..<min(c.tokenizer.numImageTokens + textTokenCount, c.vocabSize)
        let commands =
            c.tokenizer.commandTokensStart..<(c.tokenizer.commandTokensStart + TokenizerConfiguration.commandTokenCount)
        return WeightSpec.all(for: c).map { spec in
            let count = spec.shape.reduce(1, *)
            var values = [Float16](repeating: 0, count: count)
            let key = spec.key
            func fill(_ scale: Float, offset: Float = 0) {
                for i in 0..<count { values[i] = Float16(offset + scale * random.nextGaussian()) }
            }
            if key.hasSuffix("word_embeddings.weight") || key.hasSuffix("output_layer.weight") {
                let h = c.hiddenSize
                for row in text {
                    for j in 0..<h { values[row * h + j] = Float16(random.nextGaussian()) }
                }
                for row in commands {
                    for j in 0..<h { values[row * h + j] = Float16(0.1 * random.nextGaussian()) }
                }
                let eos = c.tokenizer.eos
                if eosScale != 1 && eos < c.vocabSize {
                    for j in 0..<h { values[eos * h + j] = Float16(eosScale * Float(values[eos * h + j])) }
                }
            } else if key.hasSuffix("final_layernorm.weight") {
                // Logits are dot products with unit-normal embedding rows: a gain of 4/sqrt(h) keeps their spread
                // near 4 at any width, so sampling has real choices instead of one overwhelming token.
                fill(4 / Float(c.hiddenSize).squareRoot())
            } else if key.hasSuffix("layernorm.weight") {
                fill(0.1, offset: 1)
            } else if key.hasSuffix(".bias") {
                fill(0.1)
            } else {
                let fanIn = Float(spec.shape[1])
                let gain: Float = key.contains("query_key_value") ? 1.5 : key.contains("dense_h_to_4h") ? 1 : 3
                fill(gain / fanIn.squareRoot())
            }
            return (key, HalfTensor(shape: spec.shape, values: values))
        }
    }
}

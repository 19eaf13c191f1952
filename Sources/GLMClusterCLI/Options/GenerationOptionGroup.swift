import ArgumentParser
import Generation

/// Sampling strategy and length limits, with the official script's defaults.
struct GenerationOptionGroup: ParsableArguments {
    @Flag(name: .long, help: "Greedy decoding (the official top-k 1).")
    var greedy = false

    @Option(name: .long, help: "Sampling temperature.")
    var temperature: Float = 1

    @Option(name: .long, help: "Keep the k most likely tokens (0: off).")
    var topK: Int = 0

    @Option(name: .long, help: "Nucleus sampling mass (0: off).")
    var topP: Float = 0.7

    @Option(name: .long, help: "Random seed for sampling.")
    var seed: UInt64 = 1234

    @Option(
        name: .long, help: "Stop when context plus generated tokens reach N (the official out_seq_length; default 256)."
    )
    var maxLength: Int?

    @Option(name: .long, help: "Generate at most N tokens per blank.")
    var maxNewTokens: Int?

    func validate() throws {
        if maxLength != nil && maxNewTokens != nil {
            throw ValidationError("use either --max-length or --max-new-tokens, not both")
        }
        if let maxLength, maxLength < 1 { throw ValidationError("--max-length must be positive, got \(maxLength)") }
        if let maxNewTokens, maxNewTokens < 0 {
            throw ValidationError("--max-new-tokens must not be negative, got \(maxNewTokens)")
        }
        if !(temperature > 0) { throw ValidationError("--temperature must be positive, got \(temperature)") }
        if topK < 0 { throw ValidationError("--top-k must not be negative, got \(topK)") }
        if !(topP >= 0 && topP <= 1) { throw ValidationError("--top-p must be in [0, 1], got \(topP)") }
    }

    var options: GenerationOptions {
        let sampling =
            greedy
            ? SamplingParameters.greedy
            : SamplingParameters(temperature: temperature, topK: topK, topP: topP, seed: seed)
        return GenerationOptions(sampling: sampling, maxLength: maxLength, maxNewTokens: maxNewTokens)
    }
}

import ArgumentParser
import Generation

/// Sampling or beam search and length limits; unset values take the model family's official defaults.
struct GenerationOptionGroup: ParsableArguments {
    @Flag(name: .long, help: "Greedy decoding (the official top-k 1).")
    var greedy = false

    @Option(name: .long, help: "Sampling temperature (default: 1 for GLM-130B, 0.95 for ChatGLM-6B).")
    var temperature: Float?

    @Option(name: .long, help: "Keep the k most likely tokens (0: off).")
    var topK: Int?

    @Option(name: .long, help: "Nucleus sampling mass (0: off; default 0.7).")
    var topP: Float?

    @Option(name: .long, help: "Random seed for sampling.")
    var seed: UInt64 = 1234

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Stop when context plus generated tokens reach N (default: GLM-130B's out_seq_length 256, ChatGLM-6B's "
                + "max_length 2048).")
    )
    var maxLength: Int?

    @Option(name: .long, help: "Generate at most N tokens per blank.")
    var maxNewTokens: Int?

    @Option(
        name: .long,
        help: "Beam search with N beams (the official BeamSearchStrategy, deterministic) instead of sampling.")
    var numBeams: Int?

    @Option(name: .long, help: "Beam search: rank finished beams by score / ((5 + length) / 6)^P.")
    var lengthPenalty: Double = 1

    @Option(name: .long, help: "Beam search: ban tokens that would repeat an n-gram generated so far (0: off).")
    var noRepeatNgramSize: Int = 3

    @Option(name: .long, help: "Beam search: ban the end tokens until N tokens of the blank are generated.")
    var minGenLength: Int = 0

    /// What was given, `defaults` (the model's: `ClusterSession.generationDefaults`) for the rest.
    func settings(over defaults: GenerationSettings) -> GenerationSettings {
        var settings = defaults
        if greedy { settings.greedy = true }
        if let temperature { settings.temperature = temperature }
        if let topK { settings.topK = topK }
        if let topP { settings.topP = topP }
        settings.seed = seed
        settings.maxLength = maxLength
        settings.maxNewTokens = maxNewTokens
        settings.numBeams = numBeams
        settings.lengthPenalty = lengthPenalty
        settings.noRepeatNgramSize = noRepeatNgramSize
        settings.minGenLength = minGenLength
        return settings
    }

    /// What was given, checked before the model (and so its family) is known.
    func validate() throws {
        do { try settings(over: GenerationSettings()).validate() } catch { throw ValidationError(error.description) }
    }
}

import ArgumentParser
import Generation

/// Sampling or beam search and length limits, with the official script's defaults.
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

    var settings: GenerationSettings {
        var settings = GenerationSettings()
        settings.greedy = greedy
        settings.temperature = temperature
        settings.topK = topK
        settings.topP = topP
        settings.seed = seed
        settings.maxLength = maxLength
        settings.maxNewTokens = maxNewTokens
        settings.numBeams = numBeams
        settings.lengthPenalty = lengthPenalty
        settings.noRepeatNgramSize = noRepeatNgramSize
        settings.minGenLength = minGenLength
        return settings
    }

    func validate() throws {
        do { try settings.validate() } catch { throw ValidationError(error.description) }
    }
}

import ArgumentParser
import BatchJobs
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

    func validate() throws {
        try Self.check(
            maxLength: maxLength, maxNewTokens: maxNewTokens, temperature: Double(temperature), topK: topK,
            topP: Double(topP), greedy: greedy, numBeams: numBeams, noRepeatNgramSize: noRepeatNgramSize,
            minGenLength: minGenLength, lengthPenalty: lengthPenalty, prefix: "--")
    }

    /// The checks shared by the command line and batch input lines (`prefix` names fields as the user wrote them).
    static func check(
        maxLength: Int?, maxNewTokens: Int?, temperature: Double, topK: Int, topP: Double, greedy: Bool,
        numBeams: Int?, noRepeatNgramSize: Int, minGenLength: Int, lengthPenalty: Double, prefix: String
    ) throws {
        func name(_ option: String) -> String {
            prefix == "--" ? "--" + option : "\"" + option.replacing("-", with: "_") + "\""
        }
        if maxLength != nil && maxNewTokens != nil {
            throw ValidationError("use either \(name("max-length")) or \(name("max-new-tokens")), not both")
        }
        if let maxLength, maxLength < 1 {
            throw ValidationError("\(name("max-length")) must be positive, got \(maxLength)")
        }
        if let maxNewTokens, maxNewTokens < 0 {
            throw ValidationError("\(name("max-new-tokens")) must not be negative, got \(maxNewTokens)")
        }
        if !(temperature > 0) { throw ValidationError("\(name("temperature")) must be positive, got \(temperature)") }
        if topK < 0 { throw ValidationError("\(name("top-k")) must not be negative, got \(topK)") }
        if !(topP >= 0 && topP <= 1) { throw ValidationError("\(name("top-p")) must be in [0, 1], got \(topP)") }
        if let numBeams {
            if numBeams < 1 { throw ValidationError("\(name("num-beams")) must be at least 1, got \(numBeams)") }
            if greedy { throw ValidationError("\(name("greedy")) and \(name("num-beams")) exclude each other") }
        }
        if noRepeatNgramSize < 0 {
            throw ValidationError("\(name("no-repeat-ngram-size")) must not be negative, got \(noRepeatNgramSize)")
        }
        if minGenLength < 0 {
            throw ValidationError("\(name("min-gen-length")) must not be negative, got \(minGenLength)")
        }
        if !lengthPenalty.isFinite { throw ValidationError("\(name("length-penalty")) must be a number") }
    }

    var options: GenerationOptions {
        let sampling =
            greedy
            ? SamplingParameters.greedy
            : SamplingParameters(temperature: temperature, topK: topK, topP: topP, seed: seed)
        let beams = numBeams.map {
            BeamSearchParameters(
                beams: $0, lengthPenalty: lengthPenalty, noRepeatNgramSize: noRepeatNgramSize,
                minGenLength: minGenLength)
        }
        return GenerationOptions(
            sampling: sampling, maxLength: maxLength, maxNewTokens: maxNewTokens, beamSearch: beams)
    }

    /// These options with a batch input line's own settings on top (a line's length limit replaces both of
    /// ours; its `greedy` or sampling fields replace ours; its `num_beams` turns beam search on).
    func options(overriddenBy line: RequestParameters) throws -> GenerationOptions {
        var maxLength = self.maxLength
        var maxNewTokens = self.maxNewTokens
        if line.maxLength != nil || line.maxNewTokens != nil {
            maxLength = line.maxLength
            maxNewTokens = line.maxNewTokens
        }
        let temperature = line.temperature ?? Double(self.temperature)
        let topK = line.topK ?? self.topK
        let topP = line.topP ?? Double(self.topP)
        let numBeams = line.numBeams ?? (line.greedy == true ? nil : self.numBeams)
        let greedy = line.greedy ?? (line.numBeams != nil ? false : self.greedy)
        let noRepeat = line.noRepeatNgramSize ?? noRepeatNgramSize
        let minGen = line.minGenLength ?? minGenLength
        let penalty = line.lengthPenalty ?? lengthPenalty
        try Self.check(
            maxLength: maxLength, maxNewTokens: maxNewTokens, temperature: temperature, topK: topK, topP: topP,
            greedy: greedy, numBeams: numBeams, noRepeatNgramSize: noRepeat, minGenLength: minGen,
            lengthPenalty: penalty, prefix: "")
        let sampling =
            greedy
            ? SamplingParameters.greedy
            : SamplingParameters(
                temperature: Float(temperature), topK: topK, topP: Float(topP), seed: line.seed ?? seed)
        let beams = numBeams.map {
            BeamSearchParameters(beams: $0, lengthPenalty: penalty, noRepeatNgramSize: noRepeat, minGenLength: minGen)
        }
        return GenerationOptions(
            sampling: sampling, maxLength: maxLength, maxNewTokens: maxNewTokens, beamSearch: beams)
    }
}

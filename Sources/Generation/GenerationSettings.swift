import Configuration

/// Sampling or beam search and length limits as a user sets them (command-line options, a server's request), with
/// the official script's defaults; `options` turns them into what a generation runs with.
public struct GenerationSettings: Sendable, Equatable, Codable {
    /// Greedy decoding (the official top-k 1).
    public var greedy = false
    public var temperature: Float = 1
    /// Keep the k most likely tokens (0: off).
    public var topK = 0
    /// Nucleus sampling mass (0: off).
    public var topP: Float = 0.7
    public var seed: UInt64 = 1234
    /// Stop when context plus generated tokens reach this (the official out_seq_length; default 256).
    public var maxLength: Int?
    /// Generate at most this many tokens per blank.
    public var maxNewTokens: Int?
    /// Beam search with this many beams instead of sampling.
    public var numBeams: Int?
    public var lengthPenalty: Double = 1
    public var noRepeatNgramSize = 3
    public var minGenLength = 0
    /// The length limit when neither `maxLength` nor `maxNewTokens` is set: the family's default.
    public var defaultMaxLength = GenerationOptions.defaultMaxLength
    /// A release's default number of new tokens (generation_config.json's `max_new_tokens`), which wins over
    /// `defaultMaxLength` as in transformers; used when neither limit is set.
    public var defaultMaxNewTokens: Int?

    public init() {}

    /// The length limit a generation runs with: the one set, else the family's default where it is not the
    /// official GLM-130B one (which `GenerationOptions` applies itself, so GLM-130B's options stay as they were).
    func effectiveMaxLength(maxLength: Int?, maxNewTokens: Int?) -> Int? {
        if maxLength != nil || maxNewTokens != nil || defaultMaxNewTokens != nil { return maxLength }
        return defaultMaxLength == GenerationOptions.defaultMaxLength ? nil : defaultMaxLength
    }

    /// The new-token limit a generation runs with: the one set, else the release's default when no length is set.
    func effectiveMaxNewTokens(maxLength: Int?, maxNewTokens: Int?) -> Int? {
        maxLength == nil && maxNewTokens == nil ? defaultMaxNewTokens : maxNewTokens
    }

    /// The most beams a request may ask for: each beam holds a KV cache of its own.
    public static let maximumBeams = 256
    /// The smallest temperature (see `check`).
    public static let minimumTemperature = 1e-4
    /// The largest length penalty either way (see `check`).
    public static let maximumLengthPenalty = 20.0

    /// Checks every value; the error names the option as the command line spells it.
    public func validate() throws(GenerationSettingsError) {
        try Self.check(
            maxLength: maxLength, maxNewTokens: maxNewTokens, temperature: Double(temperature), topK: topK,
            topP: Double(topP), greedy: greedy, numBeams: numBeams, noRepeatNgramSize: noRepeatNgramSize,
            minGenLength: minGenLength, lengthPenalty: lengthPenalty, naming: .option)
    }

    /// What a generation runs with (call `validate` first).
    public var options: GenerationOptions {
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
            sampling: sampling, maxLength: effectiveMaxLength(maxLength: maxLength, maxNewTokens: maxNewTokens),
            maxNewTokens: effectiveMaxNewTokens(maxLength: maxLength, maxNewTokens: maxNewTokens), beamSearch: beams)
    }

    /// These settings with a request's own on top (a request's length limit replaces both of ours; its `greedy`
    /// or sampling fields replace ours; its `num_beams` turns beam search on), checked together; the error names
    /// the request's fields.
    public func options(overriddenBy request: RequestParameters) throws(GenerationSettingsError) -> GenerationOptions {
        var maxLength = self.maxLength
        var maxNewTokens = self.maxNewTokens
        if request.maxLength != nil || request.maxNewTokens != nil {
            maxLength = request.maxLength
            maxNewTokens = request.maxNewTokens
        }
        let temperature = request.temperature ?? Double(self.temperature)
        let topK = request.topK ?? self.topK
        let topP = request.topP ?? Double(self.topP)
        let numBeams = request.numBeams ?? (request.greedy == true ? nil : self.numBeams)
        let greedy = request.greedy ?? (request.numBeams != nil ? false : self.greedy)
        let noRepeat = request.noRepeatNgramSize ?? noRepeatNgramSize
        let minGen = request.minGenLength ?? minGenLength
        let penalty = request.lengthPenalty ?? lengthPenalty
        try Self.check(
            maxLength: maxLength, maxNewTokens: maxNewTokens, temperature: temperature, topK: topK, topP: topP,
            greedy: greedy, numBeams: numBeams, noRepeatNgramSize: noRepeat, minGenLength: minGen,
            lengthPenalty: penalty, naming: .requestField)
        let sampling =
            greedy
            ? SamplingParameters.greedy
            : SamplingParameters(
                temperature: Float(temperature), topK: topK, topP: Float(topP), seed: request.seed ?? seed)
        let beams = numBeams.map {
            BeamSearchParameters(beams: $0, lengthPenalty: penalty, noRepeatNgramSize: noRepeat, minGenLength: minGen)
        }
        return GenerationOptions(
            sampling: sampling, maxLength: effectiveMaxLength(maxLength: maxLength, maxNewTokens: maxNewTokens),
            maxNewTokens: effectiveMaxNewTokens(maxLength: maxLength, maxNewTokens: maxNewTokens), beamSearch: beams)
    }

    /// How an error names a setting: `--max-length` on the command line, `"max_length"` in a request.
    enum Naming {
        case option, requestField

        func name(_ option: String) -> String {
            switch self {
            case .option: "--" + option
            case .requestField: "\"" + option.replacing("-", with: "_") + "\""
            }
        }
    }

    private static func check(
        maxLength: Int?, maxNewTokens: Int?, temperature: Double, topK: Int, topP: Double, greedy: Bool,
        numBeams: Int?, noRepeatNgramSize: Int, minGenLength: Int, lengthPenalty: Double, naming: Naming
    ) throws(GenerationSettingsError) {
        func fail(_ message: String) -> GenerationSettingsError { GenerationSettingsError(description: message) }
        let name = naming.name
        if maxLength != nil && maxNewTokens != nil {
            throw fail("use either \(name("max-length")) or \(name("max-new-tokens")), not both")
        }
        if let maxLength, maxLength < 1 { throw fail("\(name("max-length")) must be positive, got \(maxLength)") }
        if let maxNewTokens, maxNewTokens < 0 {
            throw fail("\(name("max-new-tokens")) must not be negative, got \(maxNewTokens)")
        }
        if !(temperature > 0) { throw fail("\(name("temperature")) must be positive, got \(temperature)") }
        // Sampling scales fp32 logits by 1/temperature: below the minimum they overflow to infinity and the
        // probabilities become NaN. Argmax is what such a temperature asks for.
        if Float(temperature) < Float(minimumTemperature) {
            throw fail(
                "\(name("temperature")) must be at least \(minimumTemperature), got \(temperature); "
                    + "\(name("greedy")) draws the most likely token")
        }
        // Sampling divides fp32 logits by it: a value that rounds to an infinite Float would flatten every logit.
        if !Float(temperature).isFinite {
            throw fail(
                "\(name("temperature")) must be a finite number (at most \(Float.greatestFiniteMagnitude)), got "
                    + "\(temperature)")
        }
        if topK < 0 { throw fail("\(name("top-k")) must not be negative, got \(topK)") }
        if !(topP >= 0 && topP <= 1) { throw fail("\(name("top-p")) must be in [0, 1], got \(topP)") }
        if let numBeams {
            if numBeams < 1 { throw fail("\(name("num-beams")) must be at least 1, got \(numBeams)") }
            if numBeams > maximumBeams {
                throw fail("\(name("num-beams")) must be at most \(maximumBeams), got \(numBeams)")
            }
            if greedy { throw fail("\(name("greedy")) and \(name("num-beams")) exclude each other") }
        }
        if noRepeatNgramSize < 0 {
            throw fail("\(name("no-repeat-ngram-size")) must not be negative, got \(noRepeatNgramSize)")
        }
        if minGenLength < 0 { throw fail("\(name("min-gen-length")) must not be negative, got \(minGenLength)") }
        // Finished beams are ranked by score / ((5 + length) / 6)^penalty: beyond this bound the divisor leaves
        // Double's range at the longest sequences and scores become infinite.
        if !(abs(lengthPenalty) <= maximumLengthPenalty) {
            throw fail(
                "\(name("length-penalty")) must be a number in [-\(Int(maximumLengthPenalty)), "
                    + "\(Int(maximumLengthPenalty))], got \(lengthPenalty)")
        }
    }
}

/// Generation settings that cannot work; the message names the option or request field and what was expected.
public struct GenerationSettingsError: Error, CustomStringConvertible, Equatable, Sendable {
    public var description: String
    public init(description: String) { self.description = description }
}

/// Per-request generation settings (a batch input line, a server request); absent ones take the job's settings.
public struct RequestParameters: Sendable, Equatable, Codable {
    public var maxNewTokens: Int?
    public var maxLength: Int?
    public var temperature: Double?
    public var topK: Int?
    public var topP: Double?
    public var seed: UInt64?
    public var greedy: Bool?
    public var numBeams: Int?
    public var lengthPenalty: Double?
    public var noRepeatNgramSize: Int?
    public var minGenLength: Int?

    public init() {}

    /// The request field names, in the order `keys` lists them.
    public static let keys = [
        "max_new_tokens", "max_length", "temperature", "top_k", "top_p", "seed", "greedy", "num_beams",
        "length_penalty", "no_repeat_ngram_size", "min_gen_length",
    ]
}

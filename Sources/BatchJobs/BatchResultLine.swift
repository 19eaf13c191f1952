import FoundationEssentials
import Generation

/// One line of `glmcluster batch`'s output (`--output`), keys sorted.
public struct BatchResultLine: Encodable {
    struct Blank: Encodable {
        var text: String
        var generated_ids: [Int]
        var finish_reason: String
    }
    struct Beam: Encodable {
        var answer: String
        var generated_ids: [Int]
        var finish_reason: String
        var score: Double
    }
    struct Timings: Encodable {
        /// Waiting for a place in the batch.
        var queue_ms: Double
        /// From arrival to the first generated token (includes the prefill).
        var time_to_first_token_ms: Double
        /// From arrival to the last token.
        var total_ms: Double
        /// Decoding steps per second after the first token (each step draws one token per beam).
        var decode_tokens_per_second: Double
    }

    var id: RequestId
    var prompt: String
    var answer: String?
    /// All blanks' generated ids, in order (ends excluded).
    var generated_ids: [Int]?
    /// The last blank's (`end_token` or `length`).
    var finish_reason: String?
    /// Prompt ids (with the mask, eos and without `<sop>`), and generated ids (`generated_ids.count`).
    var prompt_tokens: Int?
    var generated_tokens: Int?
    var blanks: [Blank]?
    var beams: [Beam]?
    var timings: Timings?
    /// Set instead of the results when the request could not run (it is not retried on a rerun).
    public var error: String?
    /// The request this line answers (its prompt and effective settings, hashed): a rerun whose input line changed
    /// is told apart from one that did not.
    public var request_fingerprint: String?

    /// An error line echoes at most this many characters of its prompt (a refused prompt may be megabytes).
    public static let echoedErrorPromptCharacters = 4096

    public init(id: RequestId, prompt: String, error: String, requestFingerprint: String? = nil) {
        self.id = id
        self.prompt =
            prompt.utf8.count > Self.echoedErrorPromptCharacters && prompt.count > Self.echoedErrorPromptCharacters
            ? String(prompt.prefix(Self.echoedErrorPromptCharacters)) + "… (\(prompt.utf8.count) bytes in all)"
            : prompt
        self.error = error
        request_fingerprint = requestFingerprint
    }

    public init(
        id: RequestId, prompt: String, promptTokens: Int, result: GenerationResult, timing: BatchTiming,
        requestFingerprint: String? = nil
    ) {
        self.id = id
        self.prompt = prompt
        request_fingerprint = requestFingerprint
        answer = result.answer.answer
        generated_ids = result.blanks.flatMap(\.generatedIds)
        finish_reason = (result.blanks.last?.finishReason ?? .length).rawValue
        prompt_tokens = promptTokens
        generated_tokens = generated_ids?.count
        blanks = result.blanks.map {
            Blank(text: $0.text, generated_ids: $0.generatedIds, finish_reason: $0.finishReason.rawValue)
        }
        if !result.beams.isEmpty {
            beams = result.beams.map {
                Beam(
                    answer: $0.answer.answer, generated_ids: $0.generatedIds, finish_reason: $0.finishReason.rawValue,
                    score: $0.score)
            }
        }
        func ms(_ from: ContinuousClock.Instant, _ to: ContinuousClock.Instant) -> Double {
            let d = (to - from).components
            return ((Double(d.seconds) + Double(d.attoseconds) * 1e-18) * 1e3 * 1000).rounded() / 1000
        }
        let first = timing.tokenTimes.first ?? timing.finished
        let last = timing.tokenTimes.last ?? timing.finished
        let decodeSeconds = ms(first, last) / 1e3
        timings = Timings(
            queue_ms: ms(timing.queued, timing.admitted ?? timing.queued),
            time_to_first_token_ms: ms(timing.queued, first), total_ms: ms(timing.queued, timing.finished),
            decode_tokens_per_second: decodeSeconds > 0 ? Double(timing.tokenTimes.count - 1) / decodeSeconds : 0)
    }

    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // JSON has no infinities: a score or rate that is not finite is written as a string, never an error.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(self)
    }
}

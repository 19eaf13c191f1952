import FoundationEssentials
import Generation

/// The JSON printed by `generate --json`; the first blank's fields at the top level, every blank in `blanks`,
/// and each rank's memory in `ranks`.
public struct GenerationReport: Encodable {
    struct Beam: Encodable {
        var answer_text: String
        var generated_ids: [Int]
        var finish_reason: String
        var score: Double
    }
    struct Blank: Encodable {
        var input_ids: [Int]
        var mask_position: Int
        var generated_ids: [Int]
        var text: String
        var finish_reason: String
    }
    var prompt: String
    var input_ids: [Int]
    var generated_ids: [Int]
    var blank_text: String
    var answer_text: String
    var finish_reason: String
    var generation_mask: String
    var use_gmask: Bool
    var blanks: [Blank]
    var output_ids: [Int]
    /// Beam search: every finished beam of the last blank, best first (absent for sampling).
    var beams: [Beam]?
    var ranks: [RankResources]

    public init(_ result: GenerationResult, ranks: [RankResources]) {
        let first = result.blanks.first
        prompt = result.prompt.displayText
        input_ids = first?.contextIds ?? []
        generated_ids = first?.generatedIds ?? []
        blank_text = first?.text ?? ""
        answer_text = result.answer.answer
        finish_reason = first?.finishReason.rawValue ?? FinishReason.length.rawValue
        generation_mask = result.prompt.generationMask.officialName
        use_gmask = result.prompt.useGMask
        blanks = result.blanks.map {
            Blank(
                input_ids: $0.contextIds, mask_position: $0.maskPosition, generated_ids: $0.generatedIds,
                text: $0.text, finish_reason: $0.finishReason.rawValue)
        }
        output_ids = result.outputIds
        if !result.beams.isEmpty {
            beams = result.beams.map {
                Beam(
                    answer_text: $0.answer.answer, generated_ids: $0.generatedIds,
                    finish_reason: $0.finishReason.rawValue, score: $0.score)
            }
        }
        self.ranks = ranks
    }

    public func jsonString() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // JSON has no infinities: a score or rate that is not finite is written as a string, never an error.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}

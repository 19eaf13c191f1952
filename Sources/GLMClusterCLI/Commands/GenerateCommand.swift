import ArgumentParser
import Communication
import Foundation
import Generation
import Tokenization

/// `glmcluster generate`: fill the blanks of one prompt, as the official `generate.py` does.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Fill the blanks ([MASK], [sMASK], [gMASK]) of a prompt.")

    @OptionGroup var model: ModelOptions
    @Option(name: .long, help: "Prompt text; without a mask, [gMASK] is appended (generation continues the text).")
    var prompt: String
    @OptionGroup var generation: GenerationOptionGroup
    @Flag(name: .long, help: "Print one JSON object instead of the answer text.")
    var json = false

    func run() throws {
        _ = Communicator.world
        let configuration = try ModelLoader.configuration(model)
        let tokenizer = try ModelLoader.tokenizer(configuration, model)
        let glm = try ModelLoader.model(configuration, model)
        let result = try BlankFiller(model: glm, tokenizer: tokenizer).generate(
            text: prompt, options: generation.options)
        if json {
            print(try GenerationReport(result).jsonString())
        } else {
            print(result.answer.answer)
        }
    }
}

/// The JSON printed by `generate --json`; the first blank's fields at the top level, every blank in `blanks`.
struct GenerationReport: Encodable {
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

    init(_ result: GenerationResult) {
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
    }

    func jsonString() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}

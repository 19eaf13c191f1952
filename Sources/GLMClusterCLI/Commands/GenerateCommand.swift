import ArgumentParser
import Distributed
import FoundationEssentials
import Generation
import Tokenization

/// `glmcluster generate`: fill the blanks of one prompt, as the official `generate.py` does, on one rank or
/// under `mpirun` with tensor parallelism.
struct GenerateCommand: ClusterCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Fill the blanks ([MASK], [sMASK], [gMASK]) of a prompt.")

    @OptionGroup var model: ModelOptions
    @OptionGroup var cluster: ClusterOptions
    @Option(name: .long, help: "Prompt text; without a mask, [gMASK] is appended (generation continues the text).")
    var prompt: String
    @OptionGroup var generation: GenerationOptionGroup
    @Flag(name: .long, help: "Print one JSON object instead of the answer text.")
    var json = false

    func execute() throws {
        let session = try ModelSession(model: model, cluster: cluster)
        let glm = try session.loadModel()
        let runtime = session.runtime

        // Rank 0 builds the prompt; every rank then follows the same request in lockstep.
        let built = try session.onCoordinator("building the prompt") { tokenizer in
            let blank = PromptBuilder(tokenizer: tokenizer).build(prompt)
            try blank.checkLength(maxSequenceLength: session.configuration.maxSequenceLength)
            return blank
        }
        let request = try GenerationRequest.decode(
            runtime.broadcast(built.map { GenerationRequest(prompt: $0, options: generation.options).encoded() } ?? []))
        let filler = BlankFiller(
            model: glm, special: SpecialTokenIds(configuration: session.configuration.tokenizer),
            tokenizer: session.tokenizer, collectives: runtime.group)
        let result = try filler.generate(prompt: built ?? request.prompt, options: request.options)
        let ranks = runtime.gatherReports(weightBytes: glm.weights.byteCount, cacheBytes: result.cacheBytes)

        guard runtime.isCoordinator else { return }
        if json {
            print(try GenerationReport(result, ranks: ranks).jsonString())
        } else {
            print(result.answer.answer)
        }
    }
}

/// The JSON printed by `generate --json`; the first blank's fields at the top level, every blank in `blanks`,
/// and each rank's memory in `ranks`.
struct GenerationReport: Encodable {
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

    init(_ result: GenerationResult, ranks: [RankResources]) {
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

    func jsonString() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}

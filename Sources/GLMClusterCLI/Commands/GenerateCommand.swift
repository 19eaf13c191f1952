import ArgumentParser
import Distributed
import Generation

/// `glmcluster generate`: fill the blanks of one prompt, as the official `generate.py` does, on one rank or
/// under `mpirun` with tensor parallelism.
struct GenerateCommand: ClusterCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Fill the blanks ([MASK], [sMASK], [gMASK]) of a prompt.")

    @OptionGroup var model: ModelOptions
    @OptionGroup var cluster: ClusterOptions
    @Option(name: .long, help: "Prompt text; without a mask, [gMASK] is appended (generation continues the text).")
    var prompt: String?
    @Option(
        name: .long,
        help: ArgumentHelp(
            "A JSON file holding an array of {\"role\", \"content\"} messages: the model's chat format builds the "
                + "prompt and the answer is its reply (chat models)."))
    var messages: String?
    @OptionGroup var generation: GenerationOptionGroup
    @Flag(name: .long, help: "Print one JSON object instead of the answer text.")
    var json = false

    func validate() throws {
        if (prompt == nil) == (messages == nil) { throw ValidationError("give exactly one of --prompt and --messages") }
        if messages?.isEmpty == true { throw ValidationError("--messages must name a file") }
    }

    func execute() throws {
        let session = try ClusterSession(model: model.source, cluster: cluster.settings(job: "generate"))
        let input: PromptInput = messages.map { .messagesFile($0) } ?? .text(prompt!)
        let options = generation.settings(over: session.generationDefaults).options
        guard let outcome = try session.generate(input, options: options) else { return }
        print(
            json
                ? try GenerationReport(outcome.result, ranks: outcome.ranks).jsonString() : outcome.result.answer.answer
        )
    }
}

import ArgumentParser
import Distributed

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
        let session = try ClusterSession(model: model.source, cluster: cluster.settings(job: "generate"))
        guard let outcome = try session.generate(text: prompt, options: generation.settings.options) else { return }
        print(json ? try GenerationReport(outcome.result, ranks: outcome.ranks).jsonString() : outcome.result.answer.answer)
    }
}

import ArgumentParser
import Basics
import Distributed
import FoundationEssentials

/// `glmcluster logits`: the logits at the last context position (`<sop>`), as little-endian float32.
struct LogitsCommand: ClusterCommand {
    static let configuration = CommandConfiguration(
        commandName: "logits", abstract: "Write the logits of the first decode step (at <sop>) as float32.")

    @OptionGroup var model: ModelOptions
    @OptionGroup var cluster: ClusterOptions
    @Option(name: .long, help: "Prompt text, built into a context as `generate` does.")
    var prompt: String?
    @Option(name: .long, help: "Comma-separated ids: the whole context, ending with <sop> (150004 in GLM-130B).")
    var ids: String?
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Comma-separated ids fed after the context one at a time, as decoded tokens: the logits of each step "
                + "follow the first step's (teacher forcing)."))
    var then: String?
    @Option(name: .long, help: "Output file: vocab_size little-endian float32 values per step.")
    var out: String

    func validate() throws {
        if (prompt == nil) == (ids == nil) { throw ValidationError("give exactly one of --prompt and --ids") }
        // Only rank 0 writes, so only its view of the path counts; checked before any work.
        if ClusterJob.isCoordinatorProcess {
            do {
                try OutputFile.check(out, option: "--out", allowingDevices: true)
                try OutputFile.checkNotAmong(
                    model.source.inputFiles(), out, option: "--out",
                    inputsName: "a file of the model in --model \(model.model)")
            } catch {
                throw ValidationError(error.description)
            }
        }
    }

    func execute() throws {
        let session = try ClusterSession(model: model.source, cluster: cluster.settings(job: "logits"))
        let context: LogitsContext = prompt.map { .prompt($0) } ?? .ids(ids!)
        guard let logits = try session.logits(of: context, continuation: then) else { return }
        try OutputFile.write(LittleEndianFloats.encode(logits), to: out, option: "--out")
    }
}

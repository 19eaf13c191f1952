import ArgumentParser
import Distributed

/// `glmcluster tokenize`: text to icetk ids (no masks, eos or `<sop>` added). Under `mpirun`, rank 0 answers.
struct TokenizeCommand: ClusterCommand {
    static let configuration = CommandConfiguration(commandName: "tokenize", abstract: "Print the ids of a text.")

    @OptionGroup var model: ModelOptions
    @OptionGroup var cluster: ClusterOptions
    @Option(name: .long, help: "Text to tokenize.")
    var text: String

    func execute() throws {
        let session = try ClusterSession(model: model.source, cluster: cluster.settings(job: "tokenize"))
        if let ids = session.tokenize(text) { print(ids.map(String.init).joined(separator: ",")) }
    }
}

/// `glmcluster detokenize`: ids to text, command tokens rendered as `[name]`. Under `mpirun`, rank 0 answers.
struct DetokenizeCommand: ClusterCommand {
    static let configuration = CommandConfiguration(commandName: "detokenize", abstract: "Print the text of ids.")

    @OptionGroup var model: ModelOptions
    @OptionGroup var cluster: ClusterOptions
    @Option(name: .long, help: "Comma-separated token ids.")
    var ids: String

    func execute() throws {
        let session = try ClusterSession(model: model.source, cluster: cluster.settings(job: "detokenize"))
        if let text = try session.detokenize(ids: ids) { print(text) }
    }
}

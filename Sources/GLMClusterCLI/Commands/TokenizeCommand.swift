import ArgumentParser
import Communication
import Tokenization

/// `glmcluster tokenize`: text to icetk ids (no masks, eos or `<sop>` added).
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tokenize", abstract: "Print the ids of a text.")

    @OptionGroup var model: ModelOptions
    @Option(name: .long, help: "Text to tokenize.")
    var text: String

    func run() throws {
        _ = Communicator.world
        let configuration = try ModelLoader.configuration(model)
        let tokenizer = try ModelLoader.tokenizer(configuration, model)
        print(tokenizer.tokenize(text).map(String.init).joined(separator: ","))
    }
}

/// `glmcluster detokenize`: ids to text, command tokens rendered as `[name]`.
struct DetokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "detokenize", abstract: "Print the text of ids.")

    @OptionGroup var model: ModelOptions
    @Option(name: .long, help: "Comma-separated token ids.")
    var ids: String

    func run() throws {
        _ = Communicator.world
        let configuration = try ModelLoader.configuration(model)
        let tokenizer = try ModelLoader.tokenizer(configuration, model)
        print(tokenizer.detokenize(try IdList.parse(ids, vocabularySize: configuration.vocabSize)))
    }
}

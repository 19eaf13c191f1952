import ArgumentParser
import Communication
import Foundation
import GLM
import Generation
import Tokenization

/// `glmcluster logits`: the logits at the last context position (`<sop>`), as little-endian float32.
struct LogitsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logits", abstract: "Write the logits of the first decode step (at <sop>) as float32.")

    @OptionGroup var model: ModelOptions
    @Option(name: .long, help: "Prompt text, built into a context as `generate` does.")
    var prompt: String?
    @Option(name: .long, help: "Comma-separated ids: the whole context, ending with <sop> (150004).")
    var ids: String?
    @Option(name: .long, help: "Output file: vocab_size little-endian float32 values.")
    var out: String

    func validate() throws {
        if (prompt == nil) == (ids == nil) { throw ValidationError("give exactly one of --prompt and --ids") }
    }

    func run() throws {
        _ = Communicator.world
        let configuration = try ModelLoader.configuration(model)
        let tokenizer = try ModelLoader.tokenizer(configuration, model)
        let builder = PromptBuilder(tokenizer: tokenizer)
        let blank: BlankPrompt
        if let prompt {
            blank = builder.build(prompt)
        } else {
            blank = try builder.prompt(fromIds: try IdList.parse(ids!, vocabularySize: configuration.vocabSize))
        }
        let context = blank.ids + [tokenizer.id(of: .sop)]
        guard context.count <= configuration.maxSequenceLength else {
            throw GenerationError.promptTooLong(tokens: context.count, maximum: configuration.maxSequenceLength)
        }
        let glm = try ModelLoader.model(configuration, model)
        let layout = SequenceLayout(
            contextLength: context.count, maskPosition: blank.maskPosition(tokenizer: tokenizer)!,
            useGMask: blank.useGMask)
        let logits = glm.forward(tokens: context, layout: layout, cache: glm.makeCache(capacity: context.count))
        try LittleEndianFloats.write(logits, to: URL(fileURLWithPath: out))
    }
}

/// Reads and writes raw little-endian float32 files.
enum LittleEndianFloats {
    static func write(_ values: [Float], to url: URL) throws {
        var data = Data(capacity: values.count * 4)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        do { try data.write(to: url) } catch {
            throw ValidationError("cannot write \(url.path): \(error.localizedDescription)")
        }
    }
}

/// Parses `--ids 1,2,3`.
enum IdList {
    static func parse(_ text: String, vocabularySize: Int) throws -> [Int] {
        let parts = text.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
        guard !parts.isEmpty else { throw ValidationError("--ids: expected comma-separated token ids, got nothing") }
        return try parts.map { part in
            guard let id = Int(part), id >= 0, id < vocabularySize else {
                throw ValidationError("--ids: \"\(part)\" is not a token id in [0, \(vocabularySize))")
            }
            return id
        }
    }
}

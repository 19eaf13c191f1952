import ArgumentParser
import Basics
import Communication
import Distributed
import FoundationEssentials
import GLM
import Generation
import Tokenization

/// `glmcluster logits`: the logits at the last context position (`<sop>`), as little-endian float32.
struct LogitsCommand: ClusterCommand {
    static let configuration = CommandConfiguration(
        commandName: "logits", abstract: "Write the logits of the first decode step (at <sop>) as float32.")

    @OptionGroup var model: ModelOptions
    @OptionGroup var cluster: ClusterOptions
    @Option(name: .long, help: "Prompt text, built into a context as `generate` does.")
    var prompt: String?
    @Option(name: .long, help: "Comma-separated ids: the whole context, ending with <sop> (150004).")
    var ids: String?
    @Option(name: .long, help: "Output file: vocab_size little-endian float32 values.")
    var out: String

    func validate() throws {
        if (prompt == nil) == (ids == nil) { throw ValidationError("give exactly one of --prompt and --ids") }
    }

    func execute() throws {
        let session = try ModelSession(model: model, cluster: cluster)
        let runtime = session.runtime
        let configuration = session.configuration

        // Rank 0 turns the prompt or ids into a context; the others receive it.
        let built = try session.onCoordinator("reading the context") { tokenizer -> BlankPrompt in
            let builder = PromptBuilder(tokenizer: tokenizer)
            let blank: BlankPrompt
            if let prompt {
                blank = builder.build(prompt)
            } else {
                let list = try IdList.parse(ids!, vocabularySize: configuration.vocabSize)
                do { blank = try builder.prompt(fromIds: list) } catch {
                    throw InputError(description: "--ids: \(error) (<sop> is \(tokenizer.id(of: .sop)))")
                }
            }
            guard blank.ids.count + 1 <= configuration.maxSequenceLength else {
                throw GenerationError.promptTooLong(
                    tokens: blank.ids.count + 1, maximum: configuration.maxSequenceLength)
            }
            return blank
        }
        let request = try GenerationRequest.decode(
            runtime.broadcast(built.map { GenerationRequest(prompt: $0, options: GenerationOptions()).encoded() } ?? [])
        )
        let blank = request.prompt
        let special = SpecialTokenIds(configuration: configuration.tokenizer)
        let glm = try session.loadModel()

        let context = blank.ids + [special.id(of: .sop)]
        let maskPosition = blank.ids.firstIndex(of: special.id(of: blank.generationMask))!
        let layout = SequenceLayout(contextLength: context.count, maskPosition: maskPosition, useGMask: blank.useGMask)
        let logits = glm.forward(tokens: context, layout: layout, cache: glm.makeCache(capacity: context.count))

        // Each rank holds its vocabulary slice; rank 0 writes them in order.
        let slices = runtime.communicator.gather(LittleEndianFloats.encode(logits))
        _ = runtime.gatherReports(weightBytes: glm.weights.byteCount, cacheBytes: 0)
        guard runtime.isCoordinator else { return }
        try LittleEndianFloats.write(slices.flatMap { $0 }, to: URL(fileURLWithPath: out))
    }
}

/// Reads and writes raw little-endian float32 files.
enum LittleEndianFloats {
    static func encode(_ values: [Float]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count * 4)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        return bytes
    }

    static func write(_ bytes: [UInt8], to url: URL) throws {
        do { try Data(bytes).write(to: url) } catch {
            throw InputError(description: "cannot write \(url.path): \(error.explanation)")
        }
    }
}

/// Parses `--ids 1,2,3`.
enum IdList {
    static func parse(_ text: String, vocabularySize: Int) throws -> [Int] {
        let parts = text.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
        guard !parts.isEmpty else {
            throw InputError(description: "--ids: expected comma-separated token ids, got nothing")
        }
        return try parts.map { part in
            guard let id = Int(part), id >= 0, id < vocabularySize else {
                throw InputError(description: "--ids: \"\(part)\" is not a token id in [0, \(vocabularySize))")
            }
            return id
        }
    }
}

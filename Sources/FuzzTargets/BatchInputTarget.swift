import BatchJobs
import FoundationEssentials
import Generation
import Tokenization

/// A batch input file: its lines parsed, each request's parameters laid over the command line's settings and sent
/// in the wire encoding (as the batch job fingerprints them), and, with a tokenizer, its prompt built and its
/// length checked.
enum BatchInputTarget {
    static func run(_ bytes: UnsafeRawBufferPointer, context: FuzzContext) {
        let (requests, _) = BatchInput.parse(Data(bytes))
        let builder = context.tokenizer.map { PromptBuilder(tokenizer: $0) }
        for request in requests {
            if let options = try? GenerationSettings().options(overriddenBy: request.parameters) {
                let copy = try? GenerationOptions(wireBytes: options.wireBytes())
                precondition(copy == options, "request settings changed in the wire encoding")
            }
            if let builder {
                let prompt = builder.build(request.prompt)
                _ = try? prompt.checkLength(maxSequenceLength: context.maxSequenceLength)
            }
        }
    }
}

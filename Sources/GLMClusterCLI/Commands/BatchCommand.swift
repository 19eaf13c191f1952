import ArgumentParser
import BatchJobs
import Distributed
import Generation

/// `glmcluster batch`: every prompt of a JSONL file through continuous batching (`BatchJob`), results appended to
/// a JSONL file as each request finishes. Rerunning the same command after an interruption skips the ids already
/// written.
struct BatchCommand: ClusterCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Run every prompt of a JSONL file with continuous batching; resumable.",
        discussion: """
            Input lines: {"id": 1, "prompt": "...", optional max_new_tokens, max_length, temperature, top_k, \
            top_p, seed, greedy, num_beams, length_penalty, no_repeat_ngram_size, min_gen_length}; absent \
            fields take the command-line values. Output lines: id, prompt, answer, generated_ids, finish_reason, \
            prompt_tokens, generated_tokens, blanks, beams (beam search), timings; or id, prompt, error for a \
            request that cannot run (too long, larger than --kv-memory); those are not retried on a rerun. \
            Malformed input lines are reported by line number and skipped. Progress goes to stderr. Exit status 0 \
            when every input line produced a result, 3 when some were malformed or failed.
            """)

    @OptionGroup var model: ModelOptions
    @OptionGroup var cluster: ClusterOptions
    @Option(name: .long, help: "JSONL file of requests.")
    var input: String
    @Option(name: .long, help: "JSONL file of results (appended to; ids already there are skipped).")
    var output: String
    @OptionGroup var generation: GenerationOptionGroup
    @Option(name: .long, help: "Most sequences decoded together (each beam counts as one).")
    var maxBatch: Int = 8
    @Option(
        name: .long,
        help: "KV-cache memory per rank for the requests in flight, e.g. 512MiB or 4GiB (default: no limit).")
    var kvMemory: String?
    @Flag(name: .long, help: "No progress lines on stderr.")
    var quiet = false

    /// The job with `defaults` (the model's) for the generation settings not given.
    func job(over defaults: GenerationSettings) -> BatchJobSettings {
        BatchJobSettings(
            input: input, output: output, generation: generation.settings(over: defaults), maxBatch: maxBatch,
            kvMemory: kvMemory, quiet: quiet)
    }

    func validate() throws {
        do { try job(over: GenerationSettings()).validate() } catch { throw ValidationError(error.description) }
    }

    func execute() throws {
        let description = job(over: GenerationSettings()).description
        let session = try ClusterSession(model: model.source, cluster: cluster.settings(job: description))
        guard try BatchJob.run(job(over: session.generationDefaults), session: session) else {
            throw AgreedExit(code: 3)
        }
    }
}

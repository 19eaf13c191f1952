import ArgumentParser
import Basics
import BatchJobs
import Distributed
import FoundationEssentials
import Generation
import Tokenization

/// `glmcluster batch`: every prompt of a JSONL file through continuous batching, results appended to a JSONL
/// file as each request finishes. Rerunning the same command after an interruption skips the ids already written.
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

    func validate() throws {
        if maxBatch < 1 { throw ValidationError("--max-batch must be at least 1, got \(maxBatch)") }
        if let kvMemory, ByteSize.parse(kvMemory) == nil {
            throw ValidationError("--kv-memory: cannot read '\(kvMemory)' as a size (examples: 512MiB, 4GiB, 1e9)")
        }
    }

    /// What rank 0 read: the results file, the requests still to run (with their prompts), and what was skipped.
    private struct Plan {
        var store: ResultStore
        var pending: [(request: BatchRequest, prompt: BlankPrompt, options: GenerationOptions)]
        var invalid: [(request: BatchRequest, message: String)]
        var malformed: [MalformedLine]
        var alreadyDone: Int
        var total: Int
    }

    func execute() throws {
        let session = try ModelSession(model: model, cluster: cluster)
        let runtime = session.runtime
        let maxSequence = session.configuration.maxSequenceLength
        let generation = self.generation
        // Rank 0 reads the files before the weights load, so a wrong path fails in seconds.
        let plan = try session.onCoordinator("reading the batch files") { tokenizer -> Plan in
            let store = try ResultStore(url: URL(fileURLWithPath: output))
            let (requests, malformed) = try BatchInput.read(contentsOf: URL(fileURLWithPath: input))
            var pending: [(BatchRequest, BlankPrompt, GenerationOptions)] = []
            var invalid: [(BatchRequest, String)] = []
            var alreadyDone = 0
            let builder = PromptBuilder(tokenizer: tokenizer)
            for request in requests {
                if store.completedIds.contains(request.id) {
                    alreadyDone += 1
                    continue
                }
                do {
                    let options = try generation.options(overriddenBy: request.parameters)
                    let prompt = builder.build(request.prompt)
                    try prompt.checkLength(maxSequenceLength: maxSequence)
                    pending.append((request, prompt, options))
                } catch {
                    invalid.append((request, "\(error)"))
                }
            }
            return Plan(
                store: store, pending: pending, invalid: invalid, malformed: malformed, alreadyDone: alreadyDone,
                total: requests.count)
        }
        if let plan, !quiet {
            var note = "[batch] \(plan.total) requests in \(input)"
            if plan.alreadyDone > 0 { note += ", \(plan.alreadyDone) already in \(output)" }
            if plan.store.repairedBytes > 0 {
                note += "; cut a torn last line (\(plan.store.repairedBytes) bytes) from \(output)"
            }
            StandardError.writeLine(note)
        }
        for line in plan?.malformed ?? [] {
            StandardError.writeLine("[batch] \(input):\(line.line): \(line.message); skipped")
        }

        // Every rank gets the token-level requests; only rank 0 keeps the display texts.
        let requests = try [GenerationRequest].decode(
            runtime.broadcast(
                plan.map { plan in
                    let list = plan.pending.map { GenerationRequest(prompt: $0.prompt, options: $0.options) }
                    return Array(try! JSONEncoder().encode(list))
                } ?? []))
        // Requests that cannot run (too long, bad settings) get their error lines at once; they need no weights.
        var failures = 0
        if let plan {
            for (request, message) in plan.invalid {
                try plan.store.append(
                    id: request.id,
                    json: BatchResultLine(id: request.id, prompt: request.prompt, error: message).jsonData())
                failures += 1
                StandardError.writeLine("[batch] id \(request.id): \(message)")
            }
        }
        var progress = BatchProgress(total: requests.count)
        // Nothing left to run (a finished job rerun): the weights are not even loaded.
        if !requests.isEmpty {
            try run(requests, plan: plan, session: session, progress: &progress, failures: &failures)
        }

        var incomplete = false
        if let plan {
            let malformed = plan.malformed.map { String($0.line) }
            let written = progress.done + plan.invalid.count
            var summary =
                written == 0
                ? "[batch] summary: nothing to run, \(plan.alreadyDone) results already in \(output)"
                : "[batch] summary: \(written) results written to \(output) (\(failures) with errors), "
                    + "\(plan.alreadyDone) already there"
            summary +=
                malformed.isEmpty
                ? ", no malformed lines" : ", malformed input lines skipped: " + malformed.joined(separator: ", ")
            StandardError.writeLine(summary)
            incomplete = failures > 0 || !malformed.isEmpty
        }
        // Every rank exits with the same status.
        if runtime.broadcast([incomplete ? 1 : 0]) == [1] { throw ExitCode(3) }
    }

    /// Loads the weights and runs the requests through continuous batching; rank 0 appends each result as it ends.
    private func run(
        _ requests: [GenerationRequest], plan: Plan?, session: ModelSession, progress: inout BatchProgress,
        failures: inout Int
    ) throws {
        let runtime = session.runtime
        let glm = try session.loadModel()
        let filler = BlankFiller(
            model: glm, special: SpecialTokenIds(configuration: session.configuration.tokenizer),
            tokenizer: session.tokenizer, collectives: runtime.group)

        var kvBytes: Int?
        if let kvMemory { kvBytes = ByteSize.parse(kvMemory) }
        let batcher = ContinuousBatcher(model: glm, maxBatch: maxBatch, kvMemoryBytes: kvBytes)
        let entries = requests.enumerated().map { index, request in
            let prompt = plan?.pending[index].prompt ?? request.prompt
            let footprint = filler.footprint(prompt: prompt, options: request.options)
            return BatchEntry(batchSlots: footprint.slots, reservedCacheBytes: footprint.cacheBytes) {
                try filler.makeTask(prompt: prompt, options: request.options)
            }
        }
        var lastReport = ContinuousClock.now - .seconds(10)
        try batcher.run(entries) { index, outcome, timing in
            guard let plan else { return }
            let (request, prompt, _) = plan.pending[index]
            let line: BatchResultLine
            switch outcome {
            case .finished(let task):
                line = BatchResultLine(
                    id: request.id, prompt: request.prompt, promptTokens: prompt.ids.count, result: task.result!,
                    timing: timing)
            case .failed(let error):
                line = BatchResultLine(id: request.id, prompt: request.prompt, error: "\(error)")
            case .rejected(let reason):
                line = BatchResultLine(id: request.id, prompt: request.prompt, error: "rejected: \(reason)")
            }
            try plan.store.append(id: request.id, json: line.jsonData())
            if let error = line.error {
                failures += 1
                StandardError.writeLine("[batch] id \(request.id): \(error)")
            }
            progress.record(generatedTokens: timing.tokenTimes.count)
            let now = ContinuousClock.now
            if !quiet && (now - lastReport >= .seconds(1) || progress.done == progress.total) {
                StandardError.writeLine(progress.line(now: now))
                lastReport = now
            }
        }
    }
}

extension Array where Element == GenerationRequest {
    static func decode(_ bytes: [UInt8]) throws -> [GenerationRequest] {
        try JSONDecoder().decode([GenerationRequest].self, from: Data(bytes))
    }
}

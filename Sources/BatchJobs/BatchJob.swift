import Basics
import Distributed
import FoundationEssentials
import GLM
import Generation
import Tokenization

/// What a batch job runs: the files, the job-wide generation settings and the batching limits.
public struct BatchJobSettings: Sendable {
    /// JSONL file of requests.
    public var input: String
    /// JSONL file of results, appended to; ids already there are skipped.
    public var output: String
    /// Settings for every request, below each line's own.
    public var generation: GenerationSettings
    /// Most sequences decoded together (each beam counts as one).
    public var maxBatch: Int
    /// KV-cache memory per rank for the requests in flight (`512MiB`, `4GiB`, ...); nil: no limit.
    public var kvMemory: String?
    /// No progress lines on stderr.
    public var quiet: Bool

    public init(
        input: String, output: String, generation: GenerationSettings, maxBatch: Int = 8, kvMemory: String? = nil,
        quiet: Bool = false
    ) {
        self.input = input
        self.output = output
        self.generation = generation
        self.maxBatch = maxBatch
        self.kvMemory = kvMemory
        self.quiet = quiet
    }

    /// What every rank applies locally and must agree on (each request's own settings come from rank 0).
    public var description: String { "batch --max-batch \(maxBatch) --kv-memory \(kvMemory ?? "none")" }

    /// The most sequences one batch may decode together.
    public static let maximumBatch = 4096

    /// The checks that need no files; messages name the options.
    public func validate() throws(BatchInputError) {
        if maxBatch < 1 { throw BatchInputError(description: "--max-batch must be at least 1, got \(maxBatch)") }
        if maxBatch > Self.maximumBatch {
            throw BatchInputError(description: "--max-batch must be at most \(Self.maximumBatch), got \(maxBatch)")
        }
        if let kvMemory, ByteSize.parse(kvMemory) == nil {
            throw BatchInputError(
                description: "--kv-memory: cannot read '\(kvMemory)' as a size (examples: 512MiB, 4GiB, 1e9)")
        }
    }
}

/// Every prompt of a JSONL file through continuous batching, each result appended to the output file as its
/// request finishes. Rerunning the same job after an interruption skips the ids already written.
///
/// Rank 0 reads the files before the weights load (a wrong path fails in seconds), shares the requests still to
/// run as token ids, and alone writes results; every rank runs the same batch in lockstep.
public enum BatchJob {
    /// Runs the job on every rank. Returns whether every input line produced a result (the same on every rank):
    /// false when some lines were malformed or some requests failed.
    public static func run(_ settings: BatchJobSettings, session: ClusterSession) throws -> Bool {
        let plan = try session.onCoordinator("reading the batch files") { tokenizer in
            try Plan(settings, tokenizer: tokenizer, maxSequenceLength: session.configuration.maxSequenceLength)
        }
        if let plan { plan.reportStart(settings) }

        // Every rank gets the token-level requests; only rank 0 keeps the display texts.
        let requests = session.coordinator.share {
            plan!.pending.map { GenerationRequest(prompt: $0.prompt, options: $0.options) }
        }
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
            try runRequests(requests, plan: plan, settings: settings, session: session, progress: &progress,
                failures: &failures)
        }
        let complete = plan.map { $0.reportSummary(settings, progress: progress, failures: failures) } ?? true
        // Every rank ends with the same status.
        return session.coordinator.share { complete }
    }

    /// Loads the weights and runs the requests through continuous batching; rank 0 appends each result as it ends.
    private static func runRequests(
        _ requests: [GenerationRequest], plan: Plan?, settings: BatchJobSettings, session: ClusterSession,
        progress: inout BatchProgress, failures: inout Int
    ) throws {
        let model = try session.loadModel()
        let filler = session.blankFiller(model)
        let batcher = ContinuousBatcher(
            model: model, maxBatch: settings.maxBatch, kvMemoryBytes: settings.kvMemory.flatMap(ByteSize.parse))
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
            if !settings.quiet && (now - lastReport >= .seconds(1) || progress.done == progress.total) {
                StandardError.writeLine(progress.line(now: now))
                lastReport = now
            }
        }
    }

    /// What rank 0 read: the results file, the requests still to run (with their prompts), and what was skipped.
    private struct Plan {
        var store: ResultStore
        var pending: [(request: BatchRequest, prompt: BlankPrompt, options: GenerationOptions)] = []
        var invalid: [(request: BatchRequest, message: String)] = []
        var malformed: [MalformedLine]
        var alreadyDone = 0
        var total: Int

        init(_ settings: BatchJobSettings, tokenizer: IcetkTokenizer, maxSequenceLength: Int) throws {
            store = try ResultStore(url: URL(fileURLWithPath: settings.output))
            let (requests, malformed) = try BatchInput.read(contentsOf: URL(fileURLWithPath: settings.input))
            self.malformed = malformed
            total = requests.count
            let builder = PromptBuilder(tokenizer: tokenizer)
            for request in requests {
                if store.completedIds.contains(request.id) {
                    alreadyDone += 1
                    continue
                }
                do {
                    let options = try settings.generation.options(overriddenBy: request.parameters)
                    let prompt = builder.build(request.prompt)
                    try prompt.checkLength(maxSequenceLength: maxSequenceLength)
                    pending.append((request, prompt, options))
                } catch {
                    invalid.append((request, "\(error)"))
                }
            }
        }

        func reportStart(_ settings: BatchJobSettings) {
            if !settings.quiet {
                var note = "[batch] \(total) requests in \(settings.input)"
                if alreadyDone > 0 { note += ", \(alreadyDone) already in \(settings.output)" }
                if store.repairedBytes > 0 {
                    note += "; cut a torn last line (\(store.repairedBytes) bytes) from \(settings.output)"
                }
                StandardError.writeLine(note)
            }
            for line in malformed {
                StandardError.writeLine("[batch] \(settings.input):\(line.line): \(line.message); skipped")
            }
        }

        /// Writes the summary line; returns whether every input line produced a result.
        func reportSummary(_ settings: BatchJobSettings, progress: BatchProgress, failures: Int) -> Bool {
            let malformedLines = malformed.map { String($0.line) }
            let written = progress.done + invalid.count
            var summary =
                written == 0
                ? "[batch] summary: nothing to run, \(alreadyDone) results already in \(settings.output)"
                : "[batch] summary: \(written) results written to \(settings.output) (\(failures) with errors), "
                    + "\(alreadyDone) already there"
            summary +=
                malformedLines.isEmpty
                ? ", no malformed lines" : ", malformed input lines skipped: " + malformedLines.joined(separator: ", ")
            StandardError.writeLine(summary)
            return failures == 0 && malformedLines.isEmpty
        }
    }
}

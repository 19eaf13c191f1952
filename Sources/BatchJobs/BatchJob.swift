import Basics
import Coordination
import Distributed
import FoundationEssentials
import GLM
import Generation
import Glibc
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
        if input.isEmpty { throw BatchInputError(description: "--input must name a file") }
        if output.isEmpty { throw BatchInputError(description: "--output must name a file") }
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
            try Plan(
                settings, tokenizer: tokenizer, maxSequenceLength: session.configuration.maxSequenceLength,
                model: session.modelIdentity())
        }
        if let plan { plan.reportStart(settings) }

        // Every rank gets the token-level requests; only rank 0 keeps the display texts.
        let requests = session.coordinator.share {
            plan!.pending.map { GenerationRequest(prompt: $0.prompt, options: $0.options) }
        }
        // Requests that cannot run (too long, bad settings) get their error lines at once; they need no weights.
        var failures = 0
        if let plan {
            for (request, message, fingerprint) in plan.invalid {
                try plan.store.append(
                    id: request.id,
                    json: BatchResultLine(
                        id: request.id, prompt: request.prompt, error: message, requestFingerprint: fingerprint
                    ).jsonData())
                failures += 1
                StandardError.writeLine("[batch] id \(request.id): \(message)")
            }
        }
        var progress = BatchProgress(total: requests.count)
        // Nothing left to run (a finished job rerun): the weights are not even loaded.
        if !requests.isEmpty {
            try runRequests(
                requests, plan: plan, settings: settings, session: session, progress: &progress,
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
        session.runtime.setPhase("running the batch")
        // Rank 0 names requests by id; the other ranks know them only by their place among this run's requests.
        let ids = plan.map { $0.pending.map { "request \($0.request.id)" } }
        batcher.onPass = { pass in
            session.runtime.setPhase(
                "batch step \(pass.step): " + pass.describe { ids?[$0] ?? "the \($0 + 1). request of this run" })
        }
        try batcher.run(entries) { index, outcome, timing in
            guard let plan else { return }
            let (request, prompt, _, fingerprint) = plan.pending[index]
            let line: BatchResultLine
            switch outcome {
            case .finished(let task):
                var result = task.result!
                if request.messages != nil {
                    result.answer.answer = plan.tokenizer.chatResponse(result.answer.answer)
                    result.answer.styledAnswer = result.answer.answer
                }
                line = BatchResultLine(
                    id: request.id, prompt: request.prompt, promptTokens: prompt.ids.count, result: result,
                    timing: timing, requestFingerprint: fingerprint)
            case .failed(let error):
                line = BatchResultLine(
                    id: request.id, prompt: request.prompt, error: "\(error)", requestFingerprint: fingerprint)
            case .rejected(let reason):
                line = BatchResultLine(
                    id: request.id, prompt: request.prompt, error: "rejected: \(reason)",
                    requestFingerprint: fingerprint)
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
    ///
    /// Resuming: a request whose id already has a line is skipped when the line answers the same request (the same
    /// `request_fingerprint`: prompt and effective settings; lines written before fingerprints existed count as the
    /// same). When the input line changed since (another prompt, other settings, other command-line defaults), the
    /// old result is kept and the request is refused as a malformed line naming both files: remove the old line to
    /// run it again, or give the request a new id.
    private struct Plan {
        var store: ResultStore
        var pending: [(request: BatchRequest, prompt: BlankPrompt, options: GenerationOptions, fingerprint: String)] =
            []
        var invalid: [(request: BatchRequest, message: String, fingerprint: String)] = []
        var malformed: [MalformedLine]
        /// The coordinator's tokenizer: it builds conversations' prompts and post-processes their answers.
        let tokenizer: any PromptTokenizer
        var alreadyDone = 0
        var total: Int

        init(_ settings: BatchJobSettings, tokenizer: any PromptTokenizer, maxSequenceLength: Int, model: String) throws
        {
            try Self.checkDistinct(input: settings.input, output: settings.output)
            store = try ResultStore(url: URL(fileURLWithPath: settings.output))
            let (requests, malformed) = try BatchInput.read(contentsOf: URL(fileURLWithPath: settings.input))
            self.malformed = malformed
            total = requests.count
            self.tokenizer = tokenizer
            for var request in requests {
                let options = Result { () throws(GenerationSettingsError) in
                    try settings.generation.options(overriddenBy: request.parameters)
                }
                let fingerprint = Self.fingerprint(request, options, model: model)
                if store.completedIds.contains(request.id) {
                    if let stored = store.requestFingerprints[request.id], stored != fingerprint {
                        self.malformed.append(
                            MalformedLine(
                                line: request.line,
                                message: "id \(request.id) already has a result in \(settings.output) for a different "
                                    + "request (its prompt, its settings or the model changed since); remove that "
                                    + "result line to run it again, or give the request a new id"))
                    } else {
                        alreadyDone += 1
                    }
                    continue
                }
                do {
                    let prompt: BlankPrompt
                    if let messages = request.messages {
                        prompt = try tokenizer.checkedChatPrompt(messages, maxSequenceLength: maxSequenceLength)
                        request.prompt = prompt.displayText
                    } else {
                        try PromptBuilder.checkSize(request.prompt, maxSequenceLength: maxSequenceLength)
                        prompt = tokenizer.prompt(request.prompt)
                        try prompt.checkLength(maxSequenceLength: maxSequenceLength)
                    }
                    try PromptBuilder.checkBlanks(prompt, special: tokenizer.specialTokens)
                    pending.append((request, prompt, try options.get(), fingerprint))
                } catch {
                    invalid.append((request, "\(error)", fingerprint))
                }
            }
            self.malformed.sort { $0.line < $1.line }
        }

        /// Refuses an output that is the input file (by another name, a link, or the same name): appending
        /// results to the requests would make every request look done.
        static func checkDistinct(input: String, output: String) throws {
            if let identity = FileIdentity(path: input), identity == FileIdentity(path: output) {
                throw BatchInputError(
                    description: "--output \(output) is the input file \(input); results go to a file of their own")
            }
        }

        /// The request's prompt, the settings it runs with (or why it cannot run) and the model that answers it
        /// (`ClusterSession.modelIdentity`), hashed.
        static func fingerprint(
            _ request: BatchRequest, _ options: Result<GenerationOptions, GenerationSettingsError>, model: String
        ) -> String {
            var bytes = Array(model.utf8) + [0] + Array(request.prompt.utf8) + [0]
            // A conversation counts by its messages (requests without them keep their fingerprints).
            for message in request.messages ?? [] {
                bytes += Array(message.role.utf8) + [0] + Array(message.content.utf8) + [0]
            }
            switch options {
            case .success(let options): bytes += options.wireBytes()
            case .failure(let error): bytes += Array(error.description.utf8)
            }
            return Distributed.fingerprint(bytes)
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

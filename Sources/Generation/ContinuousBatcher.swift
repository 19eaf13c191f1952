import Basics
import GLM

/// One request waiting for a place in the batch: what it will occupy, and how to start it.
public struct BatchEntry {
    /// The scheduler step from which it may join (0: at once). Steps, not wall time, so that every
    /// tensor-parallel rank makes the same decisions.
    public var arrivalStep: Int
    /// Sequences it forwards per step (1, or the number of beams).
    public var batchSlots: Int
    /// KV-cache bytes it may hold at once.
    public var reservedCacheBytes: Int
    /// Builds the task when it is admitted (its caches are allocated then, not while it waits).
    public var makeTask: () throws -> GenerationTask

    public init(
        arrivalStep: Int = 0, batchSlots: Int, reservedCacheBytes: Int,
        makeTask: @escaping () throws -> GenerationTask
    ) {
        self.arrivalStep = arrivalStep
        self.batchSlots = batchSlots
        self.reservedCacheBytes = reservedCacheBytes
        self.makeTask = makeTask
    }
}

/// How one entry ended.
public enum BatchOutcome {
    case finished(GenerationTask)
    /// Starting or advancing it failed (the error says why); the others went on.
    case failed(Error)
    /// It can never fit the limits (more sequences than `--max-batch`, or a larger cache than `--kv-memory`).
    case rejected(String)
}

/// When an entry reached each stage (wall clock of this rank).
public struct BatchTiming: Sendable {
    public var queued: ContinuousClock.Instant
    public var admitted: ContinuousClock.Instant?
    public var finished: ContinuousClock.Instant
    /// When each generated token was drawn.
    public var tokenTimes: [ContinuousClock.Instant]
}

/// Continuous batching: every step advances all admitted requests with one `GLMModel.forward(batch:)` (new
/// requests' prompts are prefilled in the same pass as the others' decoded tokens), and requests join as soon as
/// others finish, in arrival order, while the batch has room: at most `maxBatch` sequences and `kvMemoryBytes` of
/// reserved KV cache per rank. A request that could never fit is rejected at once rather than waiting forever
/// or running out of memory.
///
/// Every decision depends only on the entries and the tasks' states, which are the same on every
/// tensor-parallel rank (the samplers draw identical tokens everywhere), so all ranks run this loop in lockstep
/// without exchanging scheduling messages.
public final class ContinuousBatcher {
    public let model: GLMModel
    public let maxBatch: Int
    public let kvMemoryBytes: Int?
    /// Scheduler steps run so far (forward passes).
    public private(set) var steps = 0
    /// Called before each forward pass with what it computes, so that a rank which stops responding is reported
    /// with what it was doing (`ClusterRuntime.setPhase`).
    public var onPass: ((BatchPass) -> Void)?

    public init(model: GLMModel, maxBatch: Int, kvMemoryBytes: Int? = nil) {
        precondition(maxBatch >= 1, "maxBatch must be at least 1")
        self.model = model
        self.maxBatch = maxBatch
        self.kvMemoryBytes = kvMemoryBytes
    }

    /// Why `entry` can never run under these limits, or nil.
    public func rejection(of entry: BatchEntry) -> String? {
        if entry.batchSlots > maxBatch {
            return "needs \(entry.batchSlots) sequences in the batch, but --max-batch is \(maxBatch)"
        }
        if let kvMemoryBytes, entry.reservedCacheBytes > kvMemoryBytes {
            return "needs \(Self.mebibytes(entry.reservedCacheBytes)) of KV cache on each rank, but --kv-memory is "
                + "\(Self.mebibytes(kvMemoryBytes))"
        }
        return nil
    }

    /// Runs every entry to its end; `onOutcome(index, outcome, timing)` is called as each one ends (in the
    /// order they end), and may throw to stop the whole run.
    public func run(
        _ entries: [BatchEntry], onOutcome: (Int, BatchOutcome, BatchTiming) throws -> Void
    ) throws {
        let start = ContinuousClock.now
        var waiting = entries.indices.sorted { (entries[$0].arrivalStep, $0) < (entries[$1].arrivalStep, $1) }[...]
        struct Active {
            var index: Int
            var task: GenerationTask
            var admitted: ContinuousClock.Instant
        }
        var active: [Active] = []
        var usedSlots = 0
        var reservedBytes = 0
        var step = 0

        // When each entry arrived (its arrival step was reached), for queueing time.
        var arrived = [ContinuousClock.Instant?](repeating: nil, count: entries.count)
        var unarrived = waiting
        func queued(_ index: Int) -> ContinuousClock.Instant { arrived[index] ?? start }
        func end(
            _ index: Int, _ outcome: BatchOutcome, admitted: ContinuousClock.Instant?,
            tokens: [ContinuousClock.Instant]
        ) throws {
            let timing = BatchTiming(queued: queued(index), admitted: admitted, finished: .now, tokenTimes: tokens)
            try onOutcome(index, outcome, timing)
        }

        while !waiting.isEmpty || !active.isEmpty {
            let now = ContinuousClock.now
            while let next = unarrived.first, entries[next].arrivalStep <= step {
                arrived[next] = now
                unarrived.removeFirst()
            }
            // Admit in arrival order while there is room (no overtaking: a large request is not starved).
            while let next = waiting.first, entries[next].arrivalStep <= step {
                let entry = entries[next]
                if let reason = rejection(of: entry) {
                    waiting.removeFirst()
                    try end(next, .rejected(reason), admitted: nil, tokens: [])
                    continue
                }
                if usedSlots + entry.batchSlots > maxBatch { break }
                if let kvMemoryBytes, reservedBytes + entry.reservedCacheBytes > kvMemoryBytes { break }
                waiting.removeFirst()
                let admitted = ContinuousClock.now
                let task: GenerationTask
                do {
                    task = try entry.makeTask()
                } catch {
                    try end(next, .failed(error), admitted: admitted, tokens: [])
                    continue
                }
                if task.isFinished {
                    try end(next, .finished(task), admitted: admitted, tokens: task.tokenTimes)
                    continue
                }
                active.append(Active(index: next, task: task, admitted: admitted))
                usedSlots += entry.batchSlots
                reservedBytes += entry.reservedCacheBytes
            }
            if active.isEmpty {
                guard let next = waiting.first else { break }
                step = max(step + 1, entries[next].arrivalStep)  // idle until the next arrival
                continue
            }

            var segments: [ForwardSegment] = []
            var counts: [Int] = []
            var pass = BatchPass(step: step)
            for a in active {
                let mine = a.task.nextSegments()
                counts.append(mine.count)
                segments += mine
                pass.add(entry: a.index, mine, generated: a.task.tokenTimes.count)
            }
            onPass?(pass)
            let logits = model.forward(batch: segments)
            steps += 1
            var offset = 0
            var still: [Active] = []
            for (a, count) in zip(active, counts) {
                let mine = Array(logits[offset..<(offset + count)])
                offset += count
                do {
                    try a.task.consume(mine)
                } catch {
                    usedSlots -= entries[a.index].batchSlots
                    reservedBytes -= entries[a.index].reservedCacheBytes
                    try end(a.index, .failed(error), admitted: a.admitted, tokens: a.task.tokenTimes)
                    continue
                }
                if a.task.isFinished {
                    usedSlots -= entries[a.index].batchSlots
                    reservedBytes -= entries[a.index].reservedCacheBytes
                    try end(a.index, .finished(a.task), admitted: a.admitted, tokens: a.task.tokenTimes)
                } else {
                    still.append(a)
                }
            }
            active = still
            step += 1
        }
    }

    /// Runs one task alone to its end (`generate` for a single prompt).
    public static func runAlone(
        _ task: GenerationTask, model: GLMModel, onPass: ((BatchPass) -> Void)? = nil
    ) throws {
        var step = 0
        while !task.isFinished {
            let segments = task.nextSegments()
            if let onPass {
                var pass = BatchPass(step: step)
                pass.add(entry: 0, segments, generated: task.tokenTimes.count)
                onPass(pass)
            }
            try task.consume(model.forward(batch: segments))
            step += 1
        }
    }

    /// A byte count for messages: KiB below a mebibyte, so that small limits never read "0.0 MiB".
    static func mebibytes(_ bytes: Int) -> String {
        bytes < 1_048_576
            ? String(printf: "%.1f KiB", Double(bytes) / 1024) : String(printf: "%.1f MiB", Double(bytes) / 1_048_576)
    }
}

/// What one forward pass of the batcher computes: which entries prefill their prompts and which decode their next
/// token (with how many each has generated).
public struct BatchPass: Sendable, CustomStringConvertible {
    public var step: Int
    /// Entries prefilling, with their prompt tokens.
    public var prefills: [(entry: Int, tokens: Int)] = []
    /// Entries decoding, with the tokens each has generated so far (the prefill draws the first, so decode step N
    /// draws token N + 1).
    public var decodes: [(entry: Int, generated: Int)] = []

    public init(step: Int) { self.step = step }

    mutating func add(entry: Int, _ segments: [ForwardSegment], generated: Int) {
        let tokens = segments.reduce(0) { $0 + $1.tokens.count }
        if tokens > segments.count {
            prefills.append((entry, tokens))
        } else {
            decodes.append((entry, generated))
        }
    }

    /// What each entry does, naming entries with `name`: "prefill of request 7 (23 tokens), decode step 6 of
    /// request 3"; past `limit` entries, how many more.
    public func describe(limit: Int = 4, naming name: (Int) -> String) -> String {
        var parts = prefills.prefix(limit).map { "prefill of \(name($0.entry)) (\($0.tokens) tokens)" }
        parts += decodes.prefix(limit - parts.count).map { "decode step \($0.generated) of \(name($0.entry))" }
        let more = prefills.count + decodes.count - parts.count
        return parts.joined(separator: ", ") + (more > 0 ? " and \(more) more" : "")
    }

    public var description: String {
        if prefills.count + decodes.count == 1 {
            if let prefill = prefills.first { return "prefill of \(prefill.tokens) tokens" }
            return "decode step \(decodes[0].generated)"
        }
        return describe { "entry \($0)" }
    }
}

import GLM
import Generation
import Tokenization

/// A request of exactly `generated` tokens after a random `[gMASK]` prompt, for throughput measurements: end
/// tokens do not stop it, so every point of a sweep decodes the same amount of work.
final class FixedLengthTask: GenerationTask {
    private let model: GLMModel
    private let prompt: [Int]
    private let layout: SequenceLayout
    private let cache: KVCache
    private let generated: Int
    private var sampler: DistributedSampler
    private var pending: Int?
    private(set) var tokenTimes: [ContinuousClock.Instant] = []
    let reservedCacheBytes: Int
    var batchSlots: Int { 1 }
    var isFinished: Bool { tokenTimes.count >= generated }
    var result: GenerationResult? { nil }

    init(
        model: GLMModel, prompt: [Int], generated: Int, seed: UInt64, greedy: Bool, collectives: SamplingCollectives
    ) {
        self.model = model
        self.prompt = prompt
        self.generated = generated
        layout = SequenceLayout(contextLength: prompt.count, maskPosition: prompt.count - 2, useGMask: true)
        cache = model.makeCache(capacity: prompt.count + generated)
        reservedCacheBytes = cache.byteCount
        let parameters = greedy ? SamplingParameters.greedy : SamplingParameters(seed: seed)
        sampler = DistributedSampler(parameters: parameters, collectives: collectives)
    }

    func nextSegments() -> [ForwardSegment] {
        isFinished ? [] : [ForwardSegment(tokens: pending.map { [$0] } ?? prompt, layout: layout, cache: cache)]
    }

    func consume(_ logits: [[Float]]) throws {
        pending = sampler.next(localLogits: logits[0], vocabularyOffset: model.vocabRange.lowerBound)
        tokenTimes.append(.now)
    }
}

/// Throughput and latency of continuous batching at one (max batch, concurrent requests) point: `requests`
/// requests arrive together, at most `maxBatch` run at once.
struct ThroughputPoint: Codable, Sendable {
    struct Percentiles: Codable, Sendable {
        var p50: Double
        var p90: Double
        var p99: Double

        init(_ values: [Double]) {
            let sorted = values.sorted()
            func at(_ q: Double) -> Double {
                guard !sorted.isEmpty else { return 0 }
                // Nearest rank.
                let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
                return sorted[min(max(rank, 0), sorted.count - 1)]
            }
            p50 = at(0.5)
            p90 = at(0.9)
            p99 = at(0.99)
        }
    }

    /// Where a forward pass's time went, averaged over the point's passes (ms): `outside` is the time between
    /// passes (sampling, scheduling).
    struct Split: Codable, Sendable {
        var matmul: Double
        var attention: Double
        var allreduce: Double
        var other_forward: Double
        var outside: Double
    }

    var max_batch: Int
    var requests: Int
    var prompt_tokens: Int
    var gen_tokens: Int
    var seconds: Double
    var forward_passes: Int
    /// Generated tokens of all requests / wall time.
    var output_tokens_per_second: Double
    var time_to_first_token_ms: Percentiles
    /// Per request: (last token - first token) / (tokens - 1).
    var time_per_output_token_ms: Percentiles
    /// Every gap between consecutive tokens of a request.
    var inter_token_latency_ms: Percentiles
    var end_to_end_latency_ms: Percentiles
    /// Output tokens/s if every multiply-add ran at the sgemm rate measured in the same run (job-wide).
    var sgemm_bound_tokens_per_second: Double
    var sgemm_bound_fraction: Double
    /// The roofline of a decode step of `max_batch` sequences: the slower of reading every weight once at the
    /// triad bandwidth and running the batch's multiply-adds at the sgemm rate (see `ThroughputLimits`).
    var roofline_tokens_per_second: Double
    var roofline_fraction: Double
    var split_ms_per_pass: Split
}

/// The job's limits, measured after the sweep on the same ranks, and the decode rates they allow.
struct ThroughputLimits: Sendable {
    /// Multiply-adds per generated token over the whole job (layer matrices and logits projection).
    var multiplyAddsPerToken: Double
    /// Weight bytes one decode step reads over the whole job (every rank's layers and logits slice).
    var weightBytesPerStep: Double
    /// Summed over ranks: sgemm GFLOP/s, and triad GB/s over a pass all ranks ran at once.
    var sgemmGFLOPS: Double
    var triadGBPerSecond: Double

    /// Output tokens/s with every multiply-add at the sgemm rate, whatever the batch.
    var sgemmBound: Double { multiplyAddsPerToken > 0 ? sgemmGFLOPS * 1e9 / (2 * multiplyAddsPerToken) : 0 }

    /// Output tokens/s of steps of `batch` sequences when a step takes the longer of streaming the weights once
    /// (memory-bound, batch 1) and the batch's multiply-adds at the sgemm rate (compute-bound, large batches).
    /// Its ratio between two batch sizes is the most batching can gain on this machine: with fp32 FMA as the
    /// compute unit, `batch * (bytes / triad)` against `batch * flops / sgemm`. Attention, prefill and sampling are
    /// left out, so real runs stay below it.
    func roofline(batch: Int) -> Double {
        guard triadGBPerSecond > 0, sgemmGFLOPS > 0 else { return 0 }
        let memory = weightBytesPerStep / (triadGBPerSecond * 1e9)
        let compute = Double(batch) * 2 * multiplyAddsPerToken / (sgemmGFLOPS * 1e9)
        return Double(batch) / max(memory, compute)
    }
}

enum ThroughputBenchmark {
    /// Runs one point on every rank in lockstep; timings are rank 0's (every rank steps together).
    static func run(
        model: GLMModel, collectives: SamplingCollectives, maxBatch: Int, requests: Int, promptTokens: Int,
        generatedTokens: Int, seed: UInt64, greedy: Bool, synchronise: () -> Void
    ) throws -> (seconds: Double, steps: Int, timings: [BatchTiming], profile: ForwardProfile) {
        let c = model.configuration
        let gMask = SpecialTokenIds(configuration: c.tokenizer).id(of: .gMask)
        let sop = SpecialTokenIds(configuration: c.tokenizer).id(of: .sop)
        let entries = (0..<requests).map { index in
            // Random prompt ids, then [gMASK] <sop>; the same on every rank for a seed.
            let body = PartitionedRandomWeights.tokens(
                count: max(1, promptTokens - 2), vocabularySize: c.vocabSize,
                seed: seed &+ UInt64(index))
            let prompt = body + [gMask, sop]
            let bytes = KVCache.byteCount(
                layers: c.numLayers, localHeads: model.localKeyValueHeads, headDimension: c.headDimension,
                capacity: prompt.count + generatedTokens, format: model.cacheFormat)
            return BatchEntry(batchSlots: 1, reservedCacheBytes: bytes) {
                FixedLengthTask(
                    model: model, prompt: prompt, generated: generatedTokens, seed: seed &+ UInt64(index),
                    greedy: greedy, collectives: collectives)
            }
        }
        let batcher = ContinuousBatcher(model: model, maxBatch: maxBatch)
        let profile = ForwardProfile()
        let previous = model.profile
        model.profile = profile
        defer { model.profile = previous }
        var timings = [BatchTiming?](repeating: nil, count: requests)
        synchronise()
        let start = ContinuousClock.now
        try batcher.run(entries) { index, outcome, timing in
            if case .finished = outcome { timings[index] = timing }
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return (seconds, batcher.steps, timings.compactMap { $0 }, profile)
    }

    static func point(
        maxBatch: Int, requests: Int, promptTokens: Int, generatedTokens: Int, seconds: Double, steps: Int,
        timings: [BatchTiming], profile: ForwardProfile, limits: ThroughputLimits
    ) -> ThroughputPoint {
        let sgemmBound = limits.sgemmBound
        let roofline = limits.roofline(batch: maxBatch)
        let passes = Double(max(steps, 1))
        let split = ThroughputPoint.Split(
            matmul: profile.seconds(.matmul) * 1e3 / passes, attention: profile.seconds(.attention) * 1e3 / passes,
            allreduce: profile.seconds(.allreduce) * 1e3 / passes, other_forward: profile.otherSeconds * 1e3 / passes,
            outside: max(0, seconds - profile.forwardSeconds) * 1e3 / passes)
        func ms(_ a: ContinuousClock.Instant, _ b: ContinuousClock.Instant) -> Double {
            let d = (b - a).components
            return (Double(d.seconds) + Double(d.attoseconds) * 1e-18) * 1e3
        }
        var ttft: [Double] = []
        var tpot: [Double] = []
        var itl: [Double] = []
        var e2e: [Double] = []
        for t in timings {
            guard let first = t.tokenTimes.first, let last = t.tokenTimes.last else { continue }
            ttft.append(ms(t.queued, first))
            e2e.append(ms(t.queued, last))
            if t.tokenTimes.count > 1 { tpot.append(ms(first, last) / Double(t.tokenTimes.count - 1)) }
            for (a, b) in zip(t.tokenTimes, t.tokenTimes.dropFirst()) { itl.append(ms(a, b)) }
        }
        let tokens = Double(timings.reduce(0) { $0 + $1.tokenTimes.count })
        let rate = seconds > 0 ? tokens / seconds : 0
        return ThroughputPoint(
            max_batch: maxBatch, requests: requests, prompt_tokens: promptTokens, gen_tokens: generatedTokens,
            seconds: seconds, forward_passes: steps, output_tokens_per_second: rate,
            time_to_first_token_ms: .init(ttft), time_per_output_token_ms: .init(tpot),
            inter_token_latency_ms: .init(itl), end_to_end_latency_ms: .init(e2e),
            sgemm_bound_tokens_per_second: sgemmBound, sgemm_bound_fraction: sgemmBound > 0 ? rate / sgemmBound : 0,
            roofline_tokens_per_second: roofline, roofline_fraction: roofline > 0 ? rate / roofline : 0,
            split_ms_per_pass: split)
    }
}

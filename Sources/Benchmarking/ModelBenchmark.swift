import GLM
import Generation

/// Prefill and decode timings of one rank's model, over repeats. Every rank runs it in lockstep (the forward pass
/// and the sampler are collective).
struct ModelBenchmark {
    let model: GLMModel
    let collectives: any SamplingCollectives
    let promptTokens: Int
    let generatedTokens: Int
    let repeats: Int
    let seed: UInt64
    /// Argmax decoding instead of the official top-p 0.7 sampling.
    let greedy: Bool
    /// A barrier across the ranks, so every repeat starts together.
    let synchronise: () -> Void

    /// One rank's raw timings; seconds throughout.
    struct Timings: Codable, Sendable {
        /// Wall time of the prefill forward pass, per repeat.
        var prefillSeconds: [Double]
        /// Decode wall time divided by the generated tokens (forward and sampling), per repeat.
        var decodeSecondsPerToken: [Double]
        /// Decode time per token by part, averaged over repeats; `other` is the rest of the wall time.
        var decodeSplit: Split
        /// Prefill time by part, averaged over repeats (whole passes, not per token).
        var prefillSplit: Split
        /// The forward pass's tensor-parallel sums in decode (per token) and prefill (per pass), every call timed.
        var decodeAllreduce = AllreduceRecord()
        var prefillAllreduce = AllreduceRecord()
    }

    struct Split: Codable, Sendable {
        var matmul = 0.0
        var attention = 0.0
        var allreduce = 0.0
        var sampling = 0.0
        var other = 0.0

        mutating func add(_ profile: ForwardProfile, sampling: Double, wall: Double, scale: Double) {
            let timed = profile.seconds(.matmul) + profile.seconds(.attention) + profile.seconds(.allreduce) + sampling
            matmul += profile.seconds(.matmul) * scale
            attention += profile.seconds(.attention) * scale
            allreduce += profile.seconds(.allreduce) * scale
            self.sampling += sampling * scale
            other += max(0, wall - timed) * scale
        }
    }

    /// Runs warm-up and the repeats; `beforeDecode(i)` runs between repeat i's prefill and its decode, untimed,
    /// and `afterRepeat(i)` after repeat i, on every rank (the bench samples the machine's limits there, between
    /// the timed parts, under the same conditions as the model).
    func run(beforeDecode: (Int) -> Void = { _ in }, afterRepeat: (Int) -> Void = { _ in }) -> Timings {
        let prompt = PartitionedRandomWeights.tokens(
            count: promptTokens, vocabularySize: model.configuration.vocabSize, seed: seed)
        // [gMASK]-style layout: plain positions; the prompt is bidirectional, generated tokens causal.
        let layout = SequenceLayout(contextLength: promptTokens, maskPosition: 0, useGMask: true)
        let cache = model.makeCache(capacity: promptTokens + generatedTokens)
        let profile = ForwardProfile()
        profile.recordsAllreduceCalls = true
        let previous = model.profile
        model.profile = profile
        defer { model.profile = previous }

        // Warm-up: thread pools, first-touch of the cache and scratch, a short prefill and one decode step.
        _ = model.forward(tokens: Array(prompt.prefix(min(promptTokens, 8))), layout: layout, cache: cache)
        _ = model.forward(tokens: [prompt[0]], layout: layout, cache: cache)
        cache.truncate(to: 0)

        var timings = Timings(
            prefillSeconds: [], decodeSecondsPerToken: [], decodeSplit: Split(), prefillSplit: Split())
        let perRepeat = 1 / Double(repeats)
        for repeatIndex in 0..<repeats {
            cache.truncate(to: 0)
            let parameters = greedy ? SamplingParameters.greedy : SamplingParameters(seed: seed)
            var sampler = DistributedSampler(parameters: parameters, collectives: collectives)
            synchronise()

            profile.reset()
            var start = ForwardProfile.now()
            var logits = model.forward(tokens: prompt, layout: layout, cache: cache)
            let prefill = seconds(since: start)
            timings.prefillSeconds.append(prefill)
            timings.prefillSplit.add(profile, sampling: 0, wall: prefill, scale: perRepeat)
            timings.prefillAllreduce.add(profile, units: 1)
            var token = sampler.next(localLogits: logits, vocabularyOffset: model.vocabRange.lowerBound)
            beforeDecode(repeatIndex)
            synchronise()

            profile.reset()
            var sampling = 0.0
            start = ForwardProfile.now()
            for _ in 0..<generatedTokens {
                logits = model.forward(tokens: [token], layout: layout, cache: cache)
                let sampleStart = ForwardProfile.now()
                token = sampler.next(localLogits: logits, vocabularyOffset: model.vocabRange.lowerBound)
                sampling += seconds(since: sampleStart)
            }
            let decode = seconds(since: start)
            timings.decodeSecondsPerToken.append(decode / Double(generatedTokens))
            timings.decodeSplit.add(
                profile, sampling: sampling, wall: decode, scale: perRepeat / Double(generatedTokens))
            timings.decodeAllreduce.add(profile, units: generatedTokens)
            afterRepeat(repeatIndex)
        }
        return timings
    }

    private func seconds(since start: UInt64) -> Double { Double(ForwardProfile.now() &- start) * 1e-9 }

    /// FLOPs of one prefill pass on this rank: 2 per weight multiply-add of the layer matrices for every prompt
    /// token, the logits projection for the last token, and attention's two `[P, P] x d` products per local head
    /// and layer (the whole square: the prompt is bidirectional).
    static func prefillFLOPs(model: GLMModel, promptTokens p: Int) -> Double {
        let c = model.configuration
        let weights = 2 * Double(p) * Double(model.weights.layerWeightParameters)
        let logits = 2 * Double(model.weights.logitsMatrix.rows) * Double(model.weights.logitsMatrix.columns)
        let attention = 4 * Double(p) * Double(p) * Double(c.headDimension * model.localHeads * c.numLayers)
        return weights + logits + attention
    }
}

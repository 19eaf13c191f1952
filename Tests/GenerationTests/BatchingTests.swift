import Foundation
import GLM
import Generation
import TestSupport
import Testing
import Tokenization

/// Batched and continuous decoding against each sequence decoded alone: `GLMModel.forward(batch:)` with mixed
/// [gMASK]/[MASK]/[sMASK] prompts of different lengths (prefills of 9 to 459 rows mixed with one-row decode
/// steps), and `ContinuousBatcher` with staggered arrivals against `BlankFiller` one prompt at a time.
@Suite(.serialized) struct BatchingTests {
    static let names = ["en_gmask", "en_mask", "en_smask", "mask_first", "mask_last", "long_gmask", "zh_mask"]

    /// Each case's logits alone: the prefill's, then after feeding each expected token.
    static func alone(_ model: GLMModel, _ c: Fixture.Case, steps: Int) -> [[Float]] {
        let layout = SequenceLayout(
            contextLength: c.inputIds.count, maskPosition: c.maskPosition, useGMask: c.useGMask)
        let cache = model.makeCache(capacity: c.inputIds.count + steps)
        var logits = [model.forward(tokens: c.inputIds, layout: layout, cache: cache)]
        for token in c.expectedGeneratedIds.prefix(steps - 1) {
            logits.append(model.forward(tokens: [token], layout: layout, cache: cache))
        }
        return logits
    }

    @Test func batchedForwardEqualsEachSequenceAlone() throws {
        let (model, _) = try Fixture.load("mp1")
        let cases = Self.names.map { name in Fixture.cases.first { $0.name == name }! }
        let steps = 6
        let expected = cases.map { Self.alone(model, $0, steps: steps) }
        // Case i joins at step i (its prefill shares a pass with the others' decode steps), then decodes.
        let caches = cases.map { model.makeCache(capacity: $0.inputIds.count + steps) }
        var fed = [Int](repeating: 0, count: cases.count)  // forward passes done per case
        var got = [[[Float]]](repeating: [], count: cases.count)
        var step = 0
        while fed.contains(where: { $0 < steps }) {
            var members: [Int] = []
            var segments: [ForwardSegment] = []
            for (i, c) in cases.enumerated() where i <= step && fed[i] < steps {
                let layout = SequenceLayout(
                    contextLength: c.inputIds.count, maskPosition: c.maskPosition, useGMask: c.useGMask)
                let tokens = fed[i] == 0 ? c.inputIds : [c.expectedGeneratedIds[fed[i] - 1]]
                segments.append(ForwardSegment(tokens: tokens, layout: layout, cache: caches[i]))
                members.append(i)
            }
            let logits = model.forward(batch: segments)
            #expect(logits.count == segments.count)
            for (i, l) in zip(members, logits) {
                got[i].append(l)
                fed[i] += 1
            }
            step += 1
        }
        for (i, c) in cases.enumerated() {
            for s in 0..<steps {
                let difference = maxAbsDifference(got[i][s], expected[i][s])
                #expect(difference < 1e-3, "\(c.name) step \(s): max |Δlogit| \(difference)")
                #expect(
                    got[i][s].indices.max { got[i][s][$0] < got[i][s][$1] }
                        == expected[i][s].indices.max { expected[i][s][$0] < expected[i][s][$1] })
            }
        }
    }

    /// Requests arriving at different steps through `ContinuousBatcher` (at most 3 at once, greedy and seeded
    /// sampling mixed) end exactly as each does alone through `BlankFiller`.
    @Test func continuousBatchingWithStaggeredArrivalsEqualsSequentialRuns() throws {
        let (model, tokenizer) = try Fixture.load("mp1")
        let filler = BlankFiller(model: model, tokenizer: tokenizer)
        let texts = [
            "The capital of France is", "Tsinghua University is located in [MASK], China.",
            "[MASK] is the capital of France.", "The quick brown fox [MASK]", "A [MASK] and a [MASK] walk.",
            "今天天气很好，[MASK]，我们一起去公园散步。",
        ]
        let builder = PromptBuilder(tokenizer: tokenizer)
        let options = texts.indices.map { i in
            GenerationOptions(
                sampling: i % 2 == 0
                    ? .greedy : SamplingParameters(temperature: 0.9, topK: 20, topP: 0.8, seed: UInt64(i)),
                maxNewTokens: 5 + i)
        }
        let sequential = try texts.indices.map {
            try filler.generate(prompt: builder.build(texts[$0]), options: options[$0])
        }

        let batcher = ContinuousBatcher(model: model, maxBatch: 3)
        let entries = texts.indices.map { i in
            let prompt = builder.build(texts[i])
            let footprint = filler.footprint(prompt: prompt, options: options[i])
            return BatchEntry(
                arrivalStep: [0, 0, 2, 3, 3, 9][i], batchSlots: footprint.slots,
                reservedCacheBytes: footprint.cacheBytes
            ) {
                try filler.makeTask(prompt: prompt, options: options[i])
            }
        }
        var results = [GenerationResult?](repeating: nil, count: texts.count)
        var order: [Int] = []
        var passes: [BatchPass] = []
        batcher.onPass = { passes.append($0) }
        try batcher.run(entries) { index, outcome, timing in
            guard case .finished(let task) = outcome else {
                Issue.record("request \(index) did not finish: \(outcome)")
                return
            }
            results[index] = task.result
            order.append(index)
            #expect(
                timing.tokenTimes.count
                    == task.result!.blanks.reduce(0) {
                        $0 + $1.generatedIds.count + ($1.finishReason == .endToken ? 1 : 0)
                    })
        }
        for i in texts.indices {
            #expect(results[i]?.outputIds == sequential[i].outputIds, "request \(i): \(texts[i])")
            #expect(results[i]?.answer == sequential[i].answer)
        }
        #expect(order.count == texts.count)
        // Fewer forward passes than running them one after another.
        let alone = sequential.reduce(0) { $0 + $1.blanks.reduce(0) { $0 + $1.generatedIds.count + 1 } }
        #expect(batcher.steps < alone)
        // Each pass was announced before it ran (what the watchdog reports), prompts first, arrivals in their step.
        #expect(passes.count == batcher.steps)
        #expect(passes.first?.prefills.map(\.entry) == [0, 1] && passes.first?.decodes.isEmpty == true)
        #expect(passes.first?.prefills.first?.tokens == builder.build(texts[0]).ids.count + 1)
        #expect(passes.first(where: { $0.prefills.contains { $0.entry == 5 } }).map { $0.step >= 9 } == true)
        let next = try #require(passes.dropFirst().first)
        #expect(next.describe { "request \($0)" } == "decode step 1 of request 0, decode step 1 of request 1")
    }

    @Test func requestsThatCanNeverFitAreRejectedAndTheOthersRun() throws {
        let (model, tokenizer) = try Fixture.load("mp1")
        let filler = BlankFiller(model: model, tokenizer: tokenizer)
        let prompt = PromptBuilder(tokenizer: tokenizer).build("The capital of France is")
        let small = GenerationOptions(sampling: .greedy, maxNewTokens: 3)
        let large = GenerationOptions(sampling: .greedy, maxNewTokens: 200)
        let beams = GenerationOptions(sampling: .greedy, maxNewTokens: 3, beamSearch: BeamSearchParameters(beams: 3))
        let budget = filler.footprint(prompt: prompt, options: small).cacheBytes * 2
        let batcher = ContinuousBatcher(model: model, maxBatch: 2, kvMemoryBytes: budget)
        let entries = [small, large, beams, small].map { options in
            let footprint = filler.footprint(prompt: prompt, options: options)
            return BatchEntry(batchSlots: footprint.slots, reservedCacheBytes: footprint.cacheBytes) {
                try filler.makeTask(prompt: prompt, options: options)
            }
        }
        var outcomes: [Int: String] = [:]
        try batcher.run(entries) { index, outcome, _ in
            switch outcome {
            case .finished: outcomes[index] = "finished"
            case .failed(let error): outcomes[index] = "failed: \(error)"
            case .rejected(let reason): outcomes[index] = "rejected: \(reason)"
            }
        }
        #expect(outcomes[0] == "finished" && outcomes[3] == "finished")
        #expect(outcomes[1]?.contains("rejected: needs") == true && outcomes[1]?.contains("--kv-memory") == true)
        #expect(outcomes[2]?.contains("--max-batch is 2") == true)
    }
}

import Foundation
import GLM
import Generation
import TestSupport
import Testing
import Tokenization

/// The engine against the outputs of the official GLM-130B code (THUDM/GLM-130B + SwissArmyTransformer 0.2.12),
/// from both the MP=1 and the MP=2 official checkpoints.
@Suite struct OfficialVectorsTests {
    static let variants = ["mp1", "mp2"]

    @Test(arguments: variants, Fixture.cases)
    func lastPositionLogitsMatchOfficialCode(variant: String, testCase: Fixture.Case) throws {
        let (model, tokenizer) = try Fixture.load(variant)
        let prompt = try PromptBuilder(tokenizer: tokenizer).prompt(fromIds: testCase.inputIds)
        let position = try #require(prompt.maskPosition(tokenizer: tokenizer))
        #expect(position == testCase.maskPosition)
        #expect(prompt.useGMask == testCase.useGMask)
        let layout = SequenceLayout(
            contextLength: testCase.inputIds.count, maskPosition: position, useGMask: prompt.useGMask)
        let logits = model.forward(
            tokens: testCase.inputIds, layout: layout, cache: model.makeCache(capacity: testCase.inputIds.count))
        let error = maxAbsDifference(logits, Fixture.referenceLogits(testCase))
        #expect(error < 4e-3, "\(variant) \(testCase.name): max |logit - official| = \(error)")
    }

    /// The same with every QKV and MLP product split into chunks of 3-5 rows (`prefillChunkRows`), so rows of one
    /// prompt are projected in many passes while attention still sees them all (the default 256 splits only the
    /// two long cases).
    @Test(arguments: Fixture.cases)
    func lastPositionLogitsMatchOfficialCodeInSmallRowChunks(testCase: Fixture.Case) throws {
        let (model, _) = try Fixture.load("mp1")
        model.prefillChunkRows = 5
        let layout = SequenceLayout(
            contextLength: testCase.inputIds.count, maskPosition: testCase.maskPosition,
            useGMask: testCase.useGMask)
        let logits = model.forward(
            tokens: testCase.inputIds, layout: layout, cache: model.makeCache(capacity: testCase.inputIds.count))
        let error = maxAbsDifference(logits, Fixture.referenceLogits(testCase))
        #expect(error < 4e-3, "\(testCase.name) in 5-row chunks: max |logit - official| = \(error)")
    }

    /// With the fp16 KV cache (`--kv-cache fp16`): the whole prompt in one pass (its attention reads the widened
    /// fp16 cache through sgemm), and the prompt's last token decoded alone after the rest (the direct fp16
    /// kernel). Keys and values rounded to fp16 (relative 2^-11) move the logits by 0.5-1e-3 of their largest
    /// magnitude here (measured 0.0055-0.024 against 15-26), so the bound is 2e-3 of it, not the fp32 4e-3.
    @Test(arguments: Fixture.cases)
    func lastPositionLogitsMatchOfficialCodeWithHalfCache(testCase: Fixture.Case) throws {
        let (model, _) = try Fixture.load("mp1")
        model.cacheFormat = .fp16
        let ids = testCase.inputIds
        let layout = SequenceLayout(
            contextLength: ids.count, maskPosition: testCase.maskPosition, useGMask: testCase.useGMask)
        let whole = model.forward(tokens: ids, layout: layout, cache: model.makeCache(capacity: ids.count))
        let cache = model.makeCache(capacity: ids.count)
        let fp32 = KVCache(
            layers: model.configuration.numLayers, localHeads: model.localHeads,
            headDimension: model.configuration.headDimension, capacity: ids.count, format: .fp32)
        #expect(cache.format == .fp16 && cache.byteCount * 2 == fp32.byteCount)
        _ = model.forward(tokens: Array(ids.dropLast()), layout: layout, cache: cache)
        let stepped = model.forward(tokens: [ids.last!], layout: layout, cache: cache)
        let reference = Fixture.referenceLogits(testCase)
        let bound = 2e-3 * reference.map(abs).max()!
        for (name, logits) in [("one pass", whole), ("last token decoded", stepped)] {
            let error = maxAbsDifference(logits, reference)
            #expect(error < bound, "\(testCase.name) \(name), fp16 cache: max |logit - official| = \(error)")
        }
    }

    @Test(arguments: variants, Fixture.cases)
    func greedyGenerationMatchesOfficialCode(variant: String, testCase: Fixture.Case) throws {
        let (model, tokenizer) = try Fixture.load(variant)
        let prompt = PromptBuilder(tokenizer: tokenizer).build(testCase.rawText)
        #expect(prompt.ids + [tokenizer.id(of: .sop)] == testCase.inputIds)
        let result = try BlankFiller(model: model, tokenizer: tokenizer).generate(
            prompt: prompt, options: GenerationOptions(sampling: .greedy, maxNewTokens: 16))
        let first = try #require(result.blanks.first)
        #expect(first.contextIds == testCase.inputIds)
        #expect(first.generatedIds == testCase.expectedGeneratedIds)
        #expect(first.text == testCase.expectedBlankText)
        #expect(result.answer.answer == testCase.expectedAnswerText)
    }
}

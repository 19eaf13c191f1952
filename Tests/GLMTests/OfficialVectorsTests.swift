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
        let prompt = try PromptBuilder(tokenizer: tokenizer).prompt(fromIds: testCase.input_ids)
        let position = try #require(prompt.maskPosition(tokenizer: tokenizer))
        #expect(position == testCase.mask_position)
        #expect(prompt.useGMask == testCase.use_gmask)
        let layout = SequenceLayout(
            contextLength: testCase.input_ids.count, maskPosition: position, useGMask: prompt.useGMask)
        let logits = model.forward(
            tokens: testCase.input_ids, layout: layout, cache: model.makeCache(capacity: testCase.input_ids.count))
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
            contextLength: testCase.input_ids.count, maskPosition: testCase.mask_position,
            useGMask: testCase.use_gmask)
        let logits = model.forward(
            tokens: testCase.input_ids, layout: layout, cache: model.makeCache(capacity: testCase.input_ids.count))
        let error = maxAbsDifference(logits, Fixture.referenceLogits(testCase))
        #expect(error < 4e-3, "\(testCase.name) in 5-row chunks: max |logit - official| = \(error)")
    }

    @Test(arguments: variants, Fixture.cases)
    func greedyGenerationMatchesOfficialCode(variant: String, testCase: Fixture.Case) throws {
        let (model, tokenizer) = try Fixture.load(variant)
        let prompt = PromptBuilder(tokenizer: tokenizer).build(testCase.raw_text)
        #expect(prompt.ids + [tokenizer.id(of: .sop)] == testCase.input_ids)
        let result = try BlankFiller(model: model, tokenizer: tokenizer).generate(
            prompt: prompt, options: GenerationOptions(sampling: .greedy, maxNewTokens: 16))
        let first = try #require(result.blanks.first)
        #expect(first.contextIds == testCase.input_ids)
        #expect(first.generatedIds == testCase.expected_generated_ids)
        #expect(first.text == testCase.expected_blank_text)
        #expect(result.answer.answer == testCase.expected_answer_text)
    }
}

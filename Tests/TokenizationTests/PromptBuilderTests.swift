import Testing
import TestSupport

@testable import Tokenization

@Suite struct PromptBuilderTests {
    let tokenizer = Fixture.tokenizer
    var builder: PromptBuilder { PromptBuilder(tokenizer: tokenizer) }

    @Test(arguments: Fixture.expected.cases)
    func officialPrompt(_ fixture: Fixture.Case) throws {
        let prompt = builder.build(fixture.rawText)
        #expect(prompt.ids + [tokenizer.id(of: .sop)] == fixture.inputIds)
        #expect(prompt.generationMask.officialName == fixture.generationMask)
        #expect(prompt.useGMask == fixture.useGMask)
        #expect(prompt.maskPosition(tokenizer: tokenizer) == fixture.maskPosition)
        try prompt.checkLength(maxSequenceLength: Fixture.configuration.maxSequenceLength)
    }

    @Test(arguments: Fixture.expected.cases)
    func promptFromIds(_ fixture: Fixture.Case) throws {
        let prompt = try builder.prompt(fromIds: fixture.inputIds)
        #expect(prompt.ids + [150004] == fixture.inputIds)
        #expect(prompt.generationMask.officialName == fixture.generationMask)
        #expect(prompt.useGMask == fixture.useGMask)
        #expect(prompt.maskPosition(tokenizer: tokenizer) == fixture.maskPosition)
    }

    @Test func maskPrecedenceAndKeptMasks() {
        let t = tokenizer
        // [MASK] beats [sMASK] beats [gMASK]; other masks stay in the context; the text ends with a mask: no eos.
        let prompt = builder.build("A [gMASK] B [sMASK] C [MASK]")
        #expect(prompt.generationMask == .mask)
        #expect(!prompt.useGMask)
        #expect(prompt.ids == t.tokenize("A ") + [150001] + t.tokenize(" B ") + [150002] + t.tokenize(" C ") + [150000])
        #expect(prompt.maskPosition(tokenizer: t) == prompt.ids.count - 1)

        let sMask = builder.build("[gMASK] then [sMASK].")
        #expect(sMask.generationMask == .sMask)
        #expect(!sMask.useGMask)
        #expect(sMask.ids == [150001] + t.tokenize(" then ") + [150002] + t.tokenize(".") + [t.eosId])

        let gMask = builder.build("Continue [gMASK] here")
        #expect(gMask.generationMask == .gMask)
        #expect(gMask.useGMask)
        #expect(gMask.ids == t.tokenize("Continue ") + [150001] + t.tokenize(" here") + [t.eosId])
    }

    @Test func autoAppendedGMaskGetsNoEos() {
        let prompt = builder.build("No mask here.")
        #expect(prompt.ids == tokenizer.tokenize("No mask here.") + [150001])
        #expect(prompt.displayText == "No mask here. [gMASK]")
        #expect(prompt.isEnglish)
        #expect(prompt.useGMask)
        let chinese = builder.build("没有掩码")
        #expect(!chinese.isEnglish)
        #expect(chinese.ids.last == 150001)
    }

    @Test func officialStringChecksAreTakenLiterally() {
        // Only "MASK]" (no bracket) suppresses the automatic [gMASK]; the text then has no blank at all.
        let bare = builder.build("a MASK] b")
        #expect(bare.ids == tokenizer.tokenize("a MASK] b") + [tokenizer.eosId])
        #expect(bare.maskPosition(tokenizer: tokenizer) == nil)
        // A text ending with "MASK]" but no mask token gets neither [gMASK] nor eos.
        let ending = builder.build("ends with MASK]")
        #expect(ending.ids == tokenizer.tokenize("ends with MASK]"))
        // Trailing whitespace after the final mask means eos is appended.
        let trailing = builder.build("fill [MASK] ")
        #expect(trailing.ids == tokenizer.tokenize("fill ") + [150000] + tokenizer.tokenize(" ") + [tokenizer.eosId])
        // Empty text: nothing but the automatic [gMASK].
        #expect(builder.build("").ids == [150001])
        // Adjacent and bracket-nested masks follow the regex \[[sg]?MASK\].
        #expect(builder.build("[[MASK]][xMASK]").ids.filter { $0 >= 150000 } == [150000])
        #expect(builder.build("[MASK][MASK]").ids == [150000, 150000])
    }

    @Test func tooLongPrompt() {
        let prompt = builder.build(String(repeating: "word ", count: 100))
        #expect(throws: TokenizationError.promptTooLong(length: prompt.ids.count, maxSequenceLength: 50)) {
            try prompt.checkLength(maxSequenceLength: 50)
        }
        #expect(throws: Never.self) { try prompt.checkLength(maxSequenceLength: prompt.ids.count) }
    }

    @Test func idsInputErrors() {
        #expect(throws: TokenizationError.missingStartOfPiece(lastId: 20022)) {
            try builder.prompt(fromIds: [150001, 20022])
        }
        #expect(throws: TokenizationError.missingStartOfPiece(lastId: nil)) { try builder.prompt(fromIds: []) }
        #expect(throws: TokenizationError.noBlankToFill(mask: .gMask)) {
            try builder.prompt(fromIds: [20022, 20002, 150004])
        }
    }
}

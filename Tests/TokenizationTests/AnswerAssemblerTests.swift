import Testing
import TestSupport

@testable import Tokenization

@Suite struct AnswerAssemblerTests {
    let tokenizer = Fixture.tokenizer

    @Test(arguments: Fixture.expected.cases)
    func officialAnswer(_ fixture: Fixture.Case) throws {
        let prompt = PromptBuilder(tokenizer: tokenizer).build(fixture.rawText)
        var assembler = AnswerAssembler(prompt: prompt, tokenizer: tokenizer)
        #expect(assembler.nextMaskPosition == fixture.maskPosition)
        #expect(assembler.nextContext == fixture.inputIds)
        let blank = try assembler.fill(generated: fixture.expectedGeneratedIds)
        #expect(blank == fixture.expectedBlankText)
        #expect(assembler.nextMaskPosition == nil)
        let answer = assembler.finish()
        #expect(answer.answer == fixture.expectedAnswerText)
        #expect(answer.blanks == [fixture.expectedBlankText])
    }

    @Test func endTokenIsDroppedAndBlanksFillLeftToRight() throws {
        let t = tokenizer
        let prompt = PromptBuilder(tokenizer: t).build("One [MASK] two [MASK] three")
        var assembler = AnswerAssembler(prompt: prompt, tokenizer: t)
        let first = assembler.nextMaskPosition
        #expect(first == t.tokenize("One ").count)
        let span1 = t.tokenize("red")
        #expect(try assembler.fill(generated: span1 + [t.id(of: .eop)]) == "red")
        let second = try #require(assembler.nextMaskPosition)
        #expect(second == t.tokenize("One ").count + span1.count + t.tokenize(" two ").count)
        let span2 = t.tokenize("blue")
        #expect(try assembler.fill(generated: span2 + [t.eosId]) == "blue")
        #expect(assembler.nextMaskPosition == nil)
        #expect(throws: TokenizationError.noBlankToFill(mask: .mask)) { try assembler.fill(generated: []) }
        let answer = assembler.finish()
        #expect(
            assembler.sequence == t.tokenize("One ") + span1 + t.tokenize(" two ") + span2 + t.tokenize(" three") + [
                t.eosId
            ])
        #expect(
            answer.answer
                == t.detokenize(t.tokenize("One ") + span1 + t.tokenize(" two ") + span2 + t.tokenize(" three")))
        #expect(answer.blanks == ["red", "blue"])
        let on = "\u{1B}[0;32m\u{1B}[4m"
        let off = "\u{1B}[0m\u{1B}[0m"
        #expect(answer.styledAnswer == "One \(on)red\(off) two \(on)blue\(off) three")
    }

    @Test func onlyTheLastEndTokenIsDroppedAndOtherMasksStay() throws {
        let t = tokenizer
        let prompt = PromptBuilder(tokenizer: t).build("Keep [sMASK] and fill")
        #expect(prompt.generationMask == .sMask)
        var assembler = AnswerAssembler(prompt: prompt, tokenizer: t)
        // An eop in the middle of the span is kept; the mask of another kind ([gMASK]) is not a blank here.
        let generated = t.tokenize("x") + [t.id(of: .eop)] + t.tokenize("y") + [t.id(of: .eop)]
        #expect(try assembler.fill(generated: generated) == "x[eop]y")
        let spliced = t.tokenize("Keep ") + generated.dropLast() + t.tokenize(" and fill")
        #expect(assembler.sequence == spliced + [t.eosId])
        #expect(assembler.finish().answer == t.detokenize(spliced))
        // gMASK: plain styling and no spaces around the blank for non-ASCII prompts.
        var chinese = AnswerAssembler(prompt: PromptBuilder(tokenizer: t).build("北京"), tokenizer: t)
        try chinese.fill(generated: t.tokenize("大学"))
        #expect(chinese.finish().styledAnswer == "北京\u{1B}[4m大学\u{1B}[0m")
        // Each prompt piece is tokenized alone, so the span keeps its own leading "▁" inside the final text.
        #expect(chinese.finish().answer == "北京 大学")
    }
}

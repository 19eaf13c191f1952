import Foundation
import Testing

@testable import BytePairEncoding

/// GLM-4's vocabulary read from transformers' `tokenizer.json` (Tests/Fixtures/glm-4-9b-chat-hf-tiny, written by
/// Tests/Reference/make_tokenizer_json.py from the tiny release's files): the same tokens and ranks as the
/// tiktoken file, and files that are not GLM-4's byte-level BPE refused by name.
@Suite struct TokenizerJSONTests {
    static let json = Fixtures.directory.appendingPathComponent("glm-4-9b-chat-hf-tiny/tokenizer.json")

    @Test func theVocabularyEqualsTheTiktokenFile() throws {
        let fromJSON = try TiktokenVocabulary(tokenizerJSON: Self.json)
        let fromModel = try TiktokenVocabulary(contentsOf: Fixtures.vocabularyURL)
        #expect(fromJSON.count == fromModel.count)
        for id in 0..<fromModel.count { #expect(fromJSON.bytes(of: id) == fromModel.bytes(of: id), "id \(id)") }
    }

    @Test func otherTokenizersAreRefusedByName() throws {
        let text = try String(contentsOf: Self.json, encoding: .utf8)
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("tj-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: scratch) }
        for (edit, fragment) in [
            (
                { (t: String) in t.replacingOccurrences(of: #""type": "BPE""#, with: #""type": "Unigram""#) },
                "BPE model"
            ),
            (
                { (t: String) in t.replacingOccurrences(of: #"\\p{N}{1,3}"#, with: #"\\p{N}+"#) },
                "pre-tokenizer pattern"
            ),
            (
                { (t: String) in t.replacingOccurrences(of: #""vocab": {"#, with: #""vocab": {"\u4e2d": 5000, "#) },
                "alphabet"
            ),
            ({ (_: String) in "[]" }, "model.vocab"),
        ] {
            try Data(edit(text).utf8).write(to: scratch)
            let error = #expect(throws: TiktokenError.self) { try TiktokenVocabulary(tokenizerJSON: scratch) }
            #expect(error?.description.contains(fragment) == true, "\(String(describing: error))")
            #expect(error?.description.contains(scratch.path) == true)
        }
    }
}

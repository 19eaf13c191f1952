import Basics
import Testing
import Tokenization

@Suite struct TokenIdListTests {
    @Test func commasAndSpacesSeparateIds() throws {
        #expect(try TokenIdList.parse("1,2,3", vocabularySize: 10) == [1, 2, 3])
        #expect(try TokenIdList.parse("1, 2 3", vocabularySize: 10) == [1, 2, 3])
        #expect(try TokenIdList.parse(" 4 ", vocabularySize: 10) == [4])
    }

    /// A doubled or trailing comma is a typo that used to pass as a shorter list.
    @Test(arguments: ["1,,2", "1,2,", ",1", "1, ,2", ""])
    func emptyIdsAreRefused(text: String) {
        #expect(throws: InputError.self) { try TokenIdList.parse(text, vocabularySize: 10) }
    }
}

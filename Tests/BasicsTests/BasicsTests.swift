import Foundation
import Testing

@testable import Basics

/// The Foundation-free helpers give what the Foundation calls they replace gave (this test target may link
/// Foundation; the executable does not).
@Suite struct BasicsTests {
    static let numbers: [Double] = [
        0, -0.0, 0.05, 0.15, 0.25, 0.35, 1.45, 2.5, 3.5, 9.95, 99.95, 100, 123.456, 1_048_576 / 3, 1e-7, 12345.678,
        1e21, -42.5, .infinity, -.infinity, .nan,
    ]

    @Test(arguments: ["%.0f", "%.1f", "%.2f", "%.3f", "%6.1f", "%.3g", "%.1f MiB", "%.1f s\n"])
    func printfMatchesFoundationForDoubles(format: String) {
        for value in Self.numbers {
            #expect(String(printf: format, value) == String(format: format, value), "\(format) \(value)")
        }
    }

    @Test func printfMatchesFoundationForIntegers() {
        for value in [0, 5, 59, 60, 61, 3599, 3600, 7325, 86_400 * 3 + 61] {
            #expect(
                String(printf: "%dm%02ds", value / 60, value % 60) == String(format: "%dm%02ds", value / 60, value % 60)
            )
            #expect(
                String(printf: "%dh%02dm", value / 3600, value % 3600 / 60)
                    == String(format: "%dh%02dm", value / 3600, value % 3600 / 60))
        }
        let mixed = "[bench] batch %d, %d requests: %.1f s"
        #expect(String(printf: mixed, 8, 64, 12.34) == String(format: mixed, 8, 64, 12.34))
        #expect(String(printf: "") == "")
        #expect(String(printf: "%300.1f", 1.5) == String(repeating: " ", count: 297) + "1.5")
    }

    /// Every scalar of the Basic Multilingual Plane alone and around text, and a few longer texts.
    @Test func trimmingMatchesFoundation() {
        var texts = ["", "abc", " 512 MiB ", "49300\n", "\r\n 7 \t", "a b", " \u{0301}x", "\u{200B}\u{200C}"]
        for scalar in (0...0xFFFF).compactMap(Unicode.Scalar.init) {
            let s = String(scalar)
            texts += [s, s + "x" + s, s + s + "y z" + s]
        }
        for text in texts {
            let scalars = Array(text.unicodeScalars)
            #expect(text.trimmingWhitespace() == text.trimmingCharacters(in: .whitespaces), "\(scalars)")
            #expect(
                text.trimmingWhitespace(newlines: true) == text.trimmingCharacters(in: .whitespacesAndNewlines),
                "\(scalars)")
        }
        #expect("  ab ".dropFirst().trimmingWhitespace() == "ab")
    }

    @Test func explanationNamesTheErrno() throws {
        let missing = URL(fileURLWithPath: "/nonexistent-\(getpid())/file")
        let error = #expect(throws: (any Error).self) { try Data(contentsOf: missing) }
        #expect(error?.explanation == "No such file or directory")
        #expect(POSIXError(.EACCES).explanation == "Permission denied")
        struct Custom: Error, CustomStringConvertible { var description: String { "custom text" } }
        #expect(Custom().explanation == "custom text")
    }

    @Test func writeFullyDeliversEveryByteOrTheErrno() {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        let bytes = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        #expect(bytes.withUnsafeBytes { writeFully(ends[1], $0) } == 0)
        close(ends[1])
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(ends[0], $0.baseAddress!, $0.count) }
            if count <= 0 { break }
            received += chunk.prefix(count)
        }
        close(ends[0])
        #expect(received == bytes)
        #expect(bytes.withUnsafeBytes { writeFully(ends[1], $0) } == EBADF)
    }

    @Test func jsonValue() {
        #expect(
            JSONValue.parse(Data(#"{"a": [1, 2.5, true, null, "s"]}"#.utf8))
                == .object(["a": .array([.integer(1), .number(2.5), .bool(true), .null, .string("s")])]))
        #expect(JSONValue.parse(Data("num_layers = 2 # not JSON {".utf8)) == nil)
        #expect(JSONValue.parse(Data("1e400".utf8)) == nil)
    }
}

/// Keys that appear twice in one JSON object, which JSONDecoder would resolve silently.
@Suite struct DuplicateKeyTests {
    static func duplicate(_ text: String) -> String? {
        JSONValue.firstDuplicateKey(in: Data(text.utf8)).map { $0.object.isEmpty ? $0.key : $0.object + "." + $0.key }
    }

    @Test func duplicatesAreFoundWhereverTheyAre() {
        #expect(Self.duplicate(#"{"a": 1, "b": 2, "a": 3}"#) == "a")
        #expect(Self.duplicate(#"{"a": 1, "tokenizer": {"eos": 1, "model": "x", "eos": 2}}"#) == "tokenizer.eos")
        #expect(Self.duplicate(#"{"list": [{"k": 1, "k": 2}]}"#) == "[].k")
        // Escapes name the same key.
        #expect(Self.duplicate(#"{"a": 1, "\u0061": 2}"#) == "a")
    }

    @Test func distinctKeysAndKeyLikeStringsPass() {
        #expect(Self.duplicate(#"{"a": 1, "b": {"a": 2}, "c": [{"a": 3}, {"a": 4}]}"#) == nil)
        #expect(Self.duplicate(#"{"prompt": "{\"a\": 1, \"a\": 2}", "id": "a"}"#) == nil)
        #expect(Self.duplicate(#"{"x": "a\\", "a": 1}"#) == nil)
        #expect(Self.duplicate("[1, 2, 3]") == nil)
    }
}

import BytePairEncoding
import Foundation
import Testing

/// Encoding throughput, printed rather than asserted (timings vary by machine): runs only with
/// `GLMCLUSTER_TOKENIZER_BENCH=1`, in a release build (`Benchmarks/tokenizer-throughput.sh`).
@Suite struct ThroughputBenchmark {
    static let enabled = ProcessInfo.processInfo.environment["GLMCLUSTER_TOKENIZER_BENCH"] == "1"

    /// About 100 KB of mixed English prose, Chinese, and code with indentation, varied by a seeded generator so
    /// that no two paragraphs are the same.
    static func mixedText(bytes: Int) -> String {
        let english = "The morning train leaves the station at seven, and most passengers read the news while it"
            .split(separator: " ")
        let chinese = ["清华大学", "位于", "中国", "北京", "，", "是一所", "著名的", "大学", "。", "语言模型", "预测", "下一个"]
        let code = [
            "def", "main", "(", "):", "\n    ", "print", "('hello", "world')", "\t#", "x", "=", "42", ";", "{", "}",
        ]
        var generator = SplitMix64(state: 0x1234_5678)
        var text = ""
        while text.utf8.count < bytes {
            let pool = [english.map(String.init), chinese, code][Int(generator.next() % 3)]
            for _ in 0..<(8 + Int(generator.next() % 24)) {
                text += pool[Int(generator.next() % UInt64(pool.count))]
                if pool.count != chinese.count { text += generator.next() % 5 == 0 ? "  " : " " }
            }
            text += generator.next() % 3 == 0 ? "\n\n" : "\n"
        }
        return text
    }

    @Test(.enabled(if: enabled)) func encodeOneHundredKilobytes() throws {
        let tokenizer = try Fixtures.tokenizer()
        let text = Self.mixedText(bytes: 100_000)
        let clock = ContinuousClock()
        var best = Duration.seconds(1000)
        var count = 0
        for _ in 0..<10 {
            let elapsed = clock.measure { count = tokenizer.encode(text, allowingSpecialTokens: true).count }
            best = min(best, elapsed)
        }
        let milliseconds = Double(best.components.attoseconds) / 1e15 + Double(best.components.seconds) * 1e3
        let perHundredKB = milliseconds * 100_000 / Double(text.utf8.count)
        print(
            "tokenizer throughput: \(text.utf8.count) bytes -> \(count) ids in \(milliseconds) ms (best of 10); "
                + "\(perHundredKB) ms per 100 KB")
        #expect(tokenizer.decode(tokenizer.encode(text, allowingSpecialTokens: true)) == text)
    }
}

/// SplitMix64: a fixed sequence, so every run measures the same text.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

import Basics

/// Progress of a batch job for stderr: done/total, output tokens per second and the time left.
public struct BatchProgress: Sendable {
    public let total: Int
    public private(set) var done = 0
    public private(set) var generatedTokens = 0
    private let start: ContinuousClock.Instant

    public init(total: Int, start: ContinuousClock.Instant = .now) {
        self.total = total
        self.start = start
    }

    public mutating func record(generatedTokens tokens: Int) {
        done += 1
        generatedTokens += tokens
    }

    /// e.g. `[batch] 12/40 done, 35.2 tok/s, elapsed 1m05s, ETA 2m32s`.
    public func line(now: ContinuousClock.Instant = .now) -> String {
        let elapsed = Self.seconds(now - start)
        let rate = elapsed > 0 ? Double(generatedTokens) / elapsed : 0
        var text =
            "[batch] \(done)/\(total) done, " + String(printf: "%.1f", rate) + " tok/s, elapsed "
            + Self.clock(elapsed)
        if done > 0 && done < total {
            text += ", ETA " + Self.clock(elapsed / Double(done) * Double(total - done))
        }
        return text
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    /// `45s`, `3m07s`, `2h05m`.
    public static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return String(printf: "%dm%02ds", s / 60, s % 60) }
        return String(printf: "%dh%02dm", s / 3600, (s % 3600) / 60)
    }
}

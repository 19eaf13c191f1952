import Basics

/// Parses memory sizes such as `512MiB`, `2GiB`, `1.5GB`, `64M` or plain bytes (binary units for K/M/G/T with or
/// without `iB`; `KB`/`MB`/`GB`/`TB` are decimal).
public enum ByteSize {
    public static func parse(_ text: String) -> Int? {
        let trimmed = text.trimmingWhitespace()
        // The number, exponent included ("1e9"), then the unit.
        var digits = trimmed.prefix { $0.isNumber || $0 == "." || $0 == "e" || $0 == "E" || $0 == "+" || $0 == "-" }
        while !digits.isEmpty, Double(digits) == nil { digits = digits.dropLast() }
        guard !digits.isEmpty, let value = Double(digits), value >= 0, value.isFinite else { return nil }
        let unit = trimmed.dropFirst(digits.count).trimmingWhitespace().lowercased()
        let scale: Double
        switch unit {
        case "", "b": scale = 1
        case "k", "kib": scale = 1024
        case "m", "mib": scale = 1_048_576
        case "g", "gib": scale = 1_073_741_824
        case "t", "tib": scale = 1_099_511_627_776
        case "kb": scale = 1e3
        case "mb": scale = 1e6
        case "gb": scale = 1e9
        case "tb": scale = 1e12
        default: return nil
        }
        let bytes = value * scale
        guard bytes < 9e18 else { return nil }
        return Int(bytes)
    }
}

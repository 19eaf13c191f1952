extension StringProtocol {
    /// The text without leading and trailing whitespace, newlines included only when `newlines` is true: exactly
    /// Foundation's `trimmingCharacters(in: .whitespaces)` or `(in: .whitespacesAndNewlines)`, scalar by scalar,
    /// without full Foundation (not linked: about 6 MiB resident per rank).
    public func trimmingWhitespace(newlines: Bool = false) -> String {
        func trimmed(_ scalar: Unicode.Scalar) -> Bool {
            switch scalar.value {
            // Foundation's `.whitespaces`: tab and Unicode Zs, with U+200B ZERO WIDTH SPACE (Zs until Unicode 4.0.1).
            case 0x09, 0x20, 0xA0, 0x1680, 0x2000...0x200B, 0x202F, 0x205F, 0x3000: true
            // What `.whitespacesAndNewlines` adds.
            case 0x0A...0x0D, 0x85, 0x2028, 0x2029: newlines
            default: false
            }
        }
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !trimmed($0) }),
            let last = scalars.lastIndex(where: { !trimmed($0) })
        else { return "" }
        return String(String.UnicodeScalarView(scalars[first...last]))
    }
}

/// GLM-4's split of text into pieces before byte-pair encoding: the pattern of the official
/// `tokenization_chatglm.py`,
///
///     (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+
///     |\s+(?!\S)|\s+
///
/// as a hand-written scanner over Unicode scalars with the semantics of Python's `regex` module (and of tiktoken's
/// Rust engine, which agrees on it): at each position the first alternative that matches wins, each greedy with
/// the engine's backtracking, and the matches cover the text. Its classes:
/// - `\p{L}`, `\p{N}`: the general categories L* and N* (Nd, Nl, No: so '½', '²', 'Ⅻ' are numbers).
/// - `\s`: the Unicode White_Space scalars, which is what `regex` matches (unlike `re` and `str.isspace`, it does
///   not count U+001C...U+001F; U+200B and U+FEFF are not spaces either).
/// - `(?i:'s...)`: simple case folding, so `'S` and `'ſ` (U+017F, long s, folds to s) are contractions; no other
///   scalar folds to t, r, e, v, m, l or d, and the apostrophe is ASCII only.
public struct GLM4PreTokenizer: Sendable {
    public init() {}

    /// The pieces of `text`, in order; joined they are `text`.
    public func split(_ text: String) -> [String] {
        let utf8 = Array(text.utf8)
        return pieces(utf8.span).map { String(decoding: utf8[$0], as: UTF8.self) }
    }

    /// The pieces of the well-formed UTF-8 `utf8` as byte ranges, in order, covering it.
    func pieces(_ utf8: Span<UInt8>) -> [Range<Int>] {
        var classes: [ScalarClass] = []
        var offsets: [Int] = []  // where each scalar starts, then the end
        classes.reserveCapacity(utf8.count)
        offsets.reserveCapacity(utf8.count + 1)
        var offset = 0
        while offset < utf8.count {
            let lead = UInt32(utf8[offset])
            offsets.append(offset)
            if lead < 0x80 {
                classes.append(ScalarClass.ascii[Int(lead)])
                offset += 1
                continue
            }
            var value: UInt32
            var width: Int
            if lead < 0xE0 {
                (value, width) = (lead & 0x1F, 2)
            } else if lead < 0xF0 {
                (value, width) = (lead & 0x0F, 3)
            } else {
                (value, width) = (lead & 0x07, 4)
            }
            for index in 1..<width { value = value << 6 | UInt32(utf8[offset + index] & 0x3F) }
            classes.append(ScalarClass(nonASCII: value))
            offset += width
        }
        offsets.append(utf8.count)

        var ranges: [Range<Int>] = []
        var start = 0
        while start < classes.count {
            let end = matchEnd(at: start, classes, offsets, utf8)
            ranges.append(offsets[start]..<offsets[end])
            start = end
        }
        return ranges
    }

    /// Where the pattern's match at scalar `start` ends (a scalar index past `start`).
    private func matchEnd(at start: Int, _ classes: [ScalarClass], _ offsets: [Int], _ utf8: Span<UInt8>) -> Int {
        let count = classes.count
        func run(from index: Int, while accepts: (ScalarClass) -> Bool) -> Int {
            var end = index
            while end < count && accepts(classes[end]) { end += 1 }
            return end
        }
        let here = classes[start]

        // (?i:'s|'t|'re|'ve|'m|'ll|'d)
        if utf8[offsets[start]] == UInt8(ascii: "'"), let length = contractionLength(at: start, offsets, utf8) {
            return start + length
        }
        // [^\r\n\p{L}\p{N}]?\p{L}+: the optional scalar can only be taken when a letter follows it, and a letter
        // at `start` never is the optional one (it is excluded from it).
        if here == .letter { return run(from: start + 1) { $0 == .letter } }
        if here != .number && here != .lineBreak && start + 1 < count && classes[start + 1] == .letter {
            return run(from: start + 2) { $0 == .letter }
        }
        // \p{N}{1,3}
        if here == .number {
            var end = start + 1
            while end < min(count, start + 3) && classes[end] == .number { end += 1 }
            return end
        }
        // ' ?[^\s\p{L}\p{N}]+[\r\n]*': only U+0020 is the optional space, and only before such a scalar.
        let symbols = here == .space && start + 1 < count && classes[start + 1] == .other ? start + 1 : start
        if classes[symbols] == .other {
            let end = run(from: symbols + 1) { $0 == .other }
            return run(from: end) { $0 == .lineBreak }
        }
        // What is left starts with whitespace. \s*[\r\n]+: the whitespace run gives back scalars until its last
        // line break, which ends the match.
        let spacesEnd = run(from: start + 1) { $0.isWhitespace }
        if let lastBreak = (start..<spacesEnd).last(where: { classes[$0] == .lineBreak }) { return lastBreak + 1 }
        // \s+(?!\S): the whole run at the end of the text; before a non-space, the run less its last scalar, which
        // the next match takes (so " word" stays together). A single space before a non-space falls to \s+.
        if spacesEnd == count { return count }
        return max(spacesEnd - 1, start + 1)
    }

    /// The contraction's length in scalars (apostrophe included) at an apostrophe, or nil.
    private func contractionLength(at start: Int, _ offsets: [Int], _ utf8: Span<UInt8>) -> Int? {
        let scalarCount = offsets.count - 1
        guard start + 1 < scalarCount else { return nil }
        let next = utf8[offsets[start + 1]]
        if next == 0xC5 && utf8[offsets[start + 1] + 1] == 0xBF { return 2 }  // U+017F ſ
        guard next < 0x80 else { return nil }
        switch next | 0x20 {  // ASCII letters to lowercase
        case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"): return 2
        case let first where first == UInt8(ascii: "r") || first == UInt8(ascii: "v") || first == UInt8(ascii: "l"):
            guard start + 2 < scalarCount, utf8[offsets[start + 2]] < 0x80 else { return nil }
            let wanted = first == UInt8(ascii: "l") ? UInt8(ascii: "l") : UInt8(ascii: "e")
            return utf8[offsets[start + 2]] | 0x20 == wanted ? 3 : nil
        default: return nil
        }
    }
}

/// The classes of scalars the pattern distinguishes.
enum ScalarClass: UInt8 {
    /// \p{L}
    case letter
    /// \p{N}
    case number
    /// \r or \n (also \s)
    case lineBreak
    /// U+0020, the pattern's literal space (also \s)
    case space
    /// The other \s scalars
    case otherWhitespace
    /// [^\s\p{L}\p{N}]
    case other

    var isWhitespace: Bool { self == .lineBreak || self == .space || self == .otherWhitespace }

    static let ascii: [ScalarClass] = (0..<128).map { value in
        switch value {
        case 0x41...0x5A, 0x61...0x7A: .letter
        case 0x30...0x39: .number
        case 0x0A, 0x0D: .lineBreak
        case 0x20: .space
        case 0x09, 0x0B, 0x0C: .otherWhitespace
        default: .other
        }
    }

    init(nonASCII value: UInt32) {
        switch value {
        // White_Space beyond ASCII: NEL, NBSP, Ogham space, the U+2000 spaces, line and paragraph separators,
        // narrow NBSP, medium mathematical space, ideographic space.
        case 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            self = .otherWhitespace
        // CJK Unified Ideographs: all assigned, all Lo; skips the property lookup for most of Chinese text.
        case 0x4E00...0x9FFF: self = .letter
        default:
            switch Unicode.Scalar(value)?.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: self = .letter
            case .decimalNumber, .letterNumber, .otherNumber: self = .number
            default: self = .other
            }
        }
    }
}

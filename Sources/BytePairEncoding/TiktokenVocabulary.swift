import FoundationEssentials
import Glibc

/// A byte-level BPE vocabulary in tiktoken's file format: one line per token, `<base64 of the token's bytes>
/// <rank>`. The rank is the token's id and its merge priority (lower merges first).
///
/// Loading validates what the official loader (`tokenization_chatglm.py`) takes on trust: padded standard base64,
/// one integer rank per line, no token or rank twice, ranks `0..<count` without gaps, and a token for every single
/// byte (without one, some texts cannot be encoded). Lookups by bytes go through an open-addressing hash table
/// over one shared byte buffer, so a lookup allocates nothing.
public struct TiktokenVocabulary: Sendable {
    /// Every token's bytes in rank order: token `r` is `tokenBytes[starts[r]..<starts[r + 1]]`.
    let tokenBytes: [UInt8]
    let starts: [Int32]
    /// Linear-probing hash table from token bytes to rank: `-1` marks an empty slot; the slot count is a power of
    /// two at least twice the token count, so probe runs stay short.
    let slots: [Int32]
    /// `64 - log2(slots.count)`: Fibonacci hashing keeps the top bits of the multiplied hash.
    let slotShift: UInt64

    /// The number of tokens (ranks `0..<count`).
    public var count: Int { starts.count - 1 }

    /// Loads and validates the file at `url`.
    public init(contentsOf url: URL) throws(TiktokenError) {
        let contents: [UInt8]
        do {
            contents = try [UInt8](Data(contentsOf: url))
        } catch {
            throw TiktokenError(file: url.path, problem: .unreadable(Self.reason(error)))
        }
        try self.init(parsing: contents, file: url.path)
    }

    /// Parses and validates vocabulary file contents; `file` names them in errors.
    public init(parsing contents: [UInt8], file: String) throws(TiktokenError) {
        var tokenBytes: [UInt8] = []
        // Per line in file order: where its bytes start in `tokenBytes`, its rank, its line number.
        var entries: [(start: Int, rank: Int, line: Int)] = []
        var lineNumber = 0
        var lineStart = 0
        while lineStart < contents.count {
            lineNumber += 1
            var lineEnd = lineStart
            while lineEnd < contents.count && contents[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
            let fields = Self.fields(contents[lineStart..<lineEnd])
            lineStart = lineEnd + 1
            func fail(_ problem: TiktokenError.Problem) -> TiktokenError {
                TiktokenError(file: file, line: lineNumber, problem: problem)
            }
            guard let tokenField = fields.first else { throw fail(.emptyLine) }
            guard fields.count >= 2 else { throw fail(.missingRank) }
            guard fields.count == 2 else { throw fail(.extraField(Self.text(fields[2]))) }
            let start = tokenBytes.count
            guard Self.appendBase64Decoded(tokenField, to: &tokenBytes) else {
                throw fail(.notBase64(Self.text(tokenField)))
            }
            guard tokenBytes.count > start else { throw fail(.emptyToken) }
            guard let rank = Self.decimal(fields[1]) else { throw fail(.rankNotInteger(Self.text(fields[1]))) }
            entries.append((start, rank, lineNumber))
        }
        let count = entries.count

        // Ranks: each once, all below `count`, hence exactly 0..<count.
        var lineOfRank = [Int](repeating: 0, count: count)
        for entry in entries where entry.rank < count {
            guard lineOfRank[entry.rank] == 0 else {
                throw TiktokenError(
                    file: file, line: entry.line,
                    problem: .duplicateRank(entry.rank, firstLine: lineOfRank[entry.rank]))
            }
            lineOfRank[entry.rank] = entry.line
        }
        if let outside = entries.first(where: { $0.rank >= count }) {
            let missing = lineOfRank.firstIndex(of: 0) ?? 0
            throw TiktokenError(
                file: file, line: outside.line,
                problem: .rankOutOfRange(outside.rank, count: count, missing: missing))
        }

        // Bytes in rank order.
        var ends = [Int](repeating: tokenBytes.count, count: count)
        for index in entries.indices.dropLast() { ends[index] = entries[index + 1].start }
        var ordered: [UInt8] = []
        ordered.reserveCapacity(tokenBytes.count)
        var starts: [Int32] = [0]
        starts.reserveCapacity(count + 1)
        var entryOfRank = [Int](repeating: 0, count: count)
        for (index, entry) in entries.enumerated() { entryOfRank[entry.rank] = index }
        for rank in 0..<count {
            let index = entryOfRank[rank]
            ordered.append(contentsOf: tokenBytes[entries[index].start..<ends[index]])
            starts.append(Int32(ordered.count))
        }

        self.tokenBytes = ordered
        self.starts = starts
        var slotCount = 16
        while slotCount < 2 * count { slotCount *= 2 }
        let shift = UInt64(64 - slotCount.trailingZeroBitCount)
        self.slotShift = shift
        var slots = [Int32](repeating: -1, count: slotCount)
        for rank in 0..<count {
            let bytes = ordered.span.extracting(Int(starts[rank])..<Int(starts[rank + 1]))
            var slot = Self.slotIndex(Self.hash(bytes), shift: shift)
            while slots[slot] >= 0 {
                let other = Int(slots[slot])
                if Self.equals(bytes, ordered.span.extracting(Int(starts[other])..<Int(starts[other + 1]))) {
                    let lines = (lineOfRank[other], lineOfRank[rank])
                    throw TiktokenError(
                        file: file, line: max(lines.0, lines.1),
                        problem: .duplicateToken(firstLine: min(lines.0, lines.1)))
                }
                slot = (slot + 1) & (slotCount - 1)
            }
            slots[slot] = Int32(rank)
        }
        self.slots = slots
        for byte in 0...UInt8.max where id(of: CollectionOfOne(byte)) == nil {
            throw TiktokenError(file: file, problem: .missingByte(byte))
        }
    }

    /// The bytes of token `id`; nil when `id` is not a rank.
    public func bytes(of id: Int) -> [UInt8]? {
        guard id >= 0 && id < count else { return nil }
        return Array(tokenBytes[Int(starts[id])..<Int(starts[id + 1])])
    }

    /// The rank of the token that is exactly `bytes`; nil when no token is.
    public func id(of bytes: some Collection<UInt8>) -> Int? {
        let array = Array(bytes)
        let rank = rank(of: array.span)
        return rank < 0 ? nil : Int(rank)
    }

    /// The rank of the token that is exactly `bytes`, or -1: the encoder's allocation-free lookup.
    func rank(of bytes: Span<UInt8>) -> Int32 {
        var slot = Self.slotIndex(Self.hash(bytes), shift: slotShift)
        let mask = slots.count - 1
        while true {
            let rank = slots[slot]
            if rank < 0 { return -1 }
            let start = Int(starts[Int(rank)])
            if Int(starts[Int(rank) + 1]) - start == bytes.count
                && Self.equals(bytes, tokenBytes.span.extracting(start..<start + bytes.count))
            {
                return rank
            }
            slot = (slot + 1) & mask
        }
    }

    /// Appends token `rank`'s bytes to `output`.
    func appendBytes(ofRank rank: Int, to output: inout [UInt8]) {
        output.append(contentsOf: tokenBytes[Int(starts[rank])..<Int(starts[rank + 1])])
    }

    private static func equals(_ left: Span<UInt8>, _ right: Span<UInt8>) -> Bool {
        guard left.count == right.count else { return false }
        for index in 0..<left.count where left[index] != right[index] { return false }
        return true
    }

    private static func slotIndex(_ hash: UInt64, shift: UInt64) -> Int {
        Int(truncatingIfNeeded: (hash &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// FNV-1a: tokens are short, and a byte loop needs no unaligned loads.
    private static func hash(_ bytes: Span<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for index in 0..<bytes.count { hash = (hash ^ UInt64(bytes[index])) &* 0x100_0000_01B3 }
        return hash
    }

    // MARK: Parsing

    /// The fields of one line split at spaces and tabs, as Python's `line.strip().split()` does for this format; a
    /// trailing carriage return counts as space.
    private static func fields(_ line: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        var fields: [ArraySlice<UInt8>] = []
        var index = line.startIndex
        while index < line.endIndex {
            while index < line.endIndex && isSpace(line[index]) { index += 1 }
            let start = index
            while index < line.endIndex && !isSpace(line[index]) { index += 1 }
            if index > start { fields.append(line[start..<index]) }
        }
        return fields
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") || byte == 0x0B
            || byte == 0x0C
    }

    /// Decodes padded standard base64 (RFC 4648 section 4) and appends the bytes; false when `field` is not that.
    /// A field of padding only decodes to nothing, as Python's `base64.b64decode` decodes it, and the caller
    /// reports the empty token.
    private static func appendBase64Decoded(_ field: ArraySlice<UInt8>, to output: inout [UInt8]) -> Bool {
        if field.allSatisfy({ $0 == UInt8(ascii: "=") }) { return true }
        guard field.count % 4 == 0 else { return false }
        let padding = field.reversed().prefix(while: { $0 == UInt8(ascii: "=") }).count
        guard padding <= 2 else { return false }
        var group: UInt32 = 0
        var digits = 0
        for byte in field.dropLast(padding) {
            guard let value = sextet(byte) else { return false }
            group = group << 6 | UInt32(value)
            digits += 1
            if digits == 4 {
                output.append(UInt8(truncatingIfNeeded: group >> 16))
                output.append(UInt8(truncatingIfNeeded: group >> 8))
                output.append(UInt8(truncatingIfNeeded: group))
                group = 0
                digits = 0
            }
        }
        // Trailing bits beyond the last whole byte are ignored, as Python ignores them.
        if digits == 2 {
            output.append(UInt8(truncatingIfNeeded: group >> 4))
        } else if digits == 3 {
            output.append(UInt8(truncatingIfNeeded: group >> 10))
            output.append(UInt8(truncatingIfNeeded: group >> 2))
        }
        return true
    }

    private static func sextet(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): byte - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): byte - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): 62
        case UInt8(ascii: "/"): 63
        default: nil
        }
    }

    /// A non-negative decimal integer of ASCII digits; a value past `Int.max` saturates, so it is reported as out of
    /// range rather than as not an integer.
    private static func decimal(_ field: ArraySlice<UInt8>) -> Int? {
        var value = 0
        for byte in field {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            value = overflow1 || overflow2 ? Int.max : sum
        }
        return value
    }

    private static func text(_ field: ArraySlice<UInt8>) -> String { String(decoding: field, as: UTF8.self) }

    /// The system's reason a read failed ("No such file or directory"), else the error's own description.
    private static func reason(_ error: any Error) -> String {
        if let error = error as? POSIXError { return String(cString: strerror(error.code.rawValue)) }
        if let error = error as? CocoaError, let cause = error.underlying as? POSIXError {
            return String(cString: strerror(cause.code.rawValue))
        }
        return String(describing: error)
    }
}

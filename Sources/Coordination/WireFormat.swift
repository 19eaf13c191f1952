/// The one binary encoding of every message the coordinator (rank 0) and the other ranks exchange: fixed-width
/// integers little-endian, floating-point values as their IEEE bit patterns, a `UInt64` count before every array and
/// string, a `UInt8` flag before every optional. Both sides know the message type, so nothing else is written.
public struct WireWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    public mutating func write<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func write(_ value: Int) { write(Int64(value)) }
    public mutating func write(_ value: Bool) { write(UInt8(value ? 1 : 0)) }
    public mutating func write(_ value: Float) { write(value.bitPattern) }
    public mutating func write(_ value: Double) { write(value.bitPattern) }

    public mutating func write(_ value: String) {
        let utf8 = Array(value.utf8)
        write(count: utf8.count)
        bytes.append(contentsOf: utf8)
    }

    /// The element count that precedes an array or a string.
    public mutating func write(count: Int) { write(UInt64(count)) }

    /// fp32 values as raw little-endian bits, after their count (one copy on little-endian hosts).
    public mutating func write(floats values: [Float]) {
        write(count: values.count)
        #if _endian(little)
            values.withUnsafeBytes { bytes.append(contentsOf: $0) }
        #else
            for value in values { write(value) }
        #endif
    }

    /// Where the next byte goes.
    var position: Int { bytes.count }

    /// Replaces the count written at `position` (an unkeyed container learns its count only at its end).
    mutating func overwriteCount(at position: Int, with count: Int) {
        withUnsafeBytes(of: UInt64(count).littleEndian) { value in
            for i in 0..<8 { bytes[position + i] = value[i] }
        }
    }
}

/// Reads what `WireWriter` wrote; every read checks the remaining length, so a short or corrupt message is an error,
/// never a crash.
public struct WireReader: Sendable {
    public let bytes: [UInt8]
    public private(set) var offset = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var isAtEnd: Bool { offset == bytes.count }

    public mutating func read<T: FixedWidthInteger>(_: T.Type = T.self) throws(WireError) -> T {
        let size = MemoryLayout<T>.size
        guard bytes.count - offset >= size else { throw .truncated(needed: size, left: bytes.count - offset) }
        var value = T.zero
        for i in 0..<size { value |= T(truncatingIfNeeded: bytes[offset + i]) << (8 * i) }
        offset += size
        return value
    }

    public mutating func read(_: Int.Type = Int.self) throws(WireError) -> Int {
        let value = try read(Int64.self)
        guard let fitting = Int(exactly: value) else { throw .invalid("integer \(value) does not fit an Int") }
        return fitting
    }

    public mutating func read(_: Bool.Type = Bool.self) throws(WireError) -> Bool {
        switch try read(UInt8.self) {
        case 0: return false
        case 1: return true
        case let other: throw .invalid("\(other) is not a Bool (0 or 1)")
        }
    }

    public mutating func read(_: Float.Type = Float.self) throws(WireError) -> Float {
        Float(bitPattern: try read(UInt32.self))
    }

    public mutating func read(_: Double.Type = Double.self) throws(WireError) -> Double {
        Double(bitPattern: try read(UInt64.self))
    }

    public mutating func read(_: String.Type = String.self) throws(WireError) -> String {
        let count = try readCount(elementSize: 1)
        defer { offset += count }
        return String(decoding: bytes[offset..<offset + count], as: UTF8.self)
    }

    /// An element count, checked against the bytes left (each element takes at least `elementSize` bytes), so a
    /// corrupt count never makes the reader reserve memory for elements that are not there.
    public mutating func readCount(elementSize: Int = 1) throws(WireError) -> Int {
        let count = try read(UInt64.self)
        let left = UInt64(bytes.count - offset)
        guard count <= left / UInt64(max(1, elementSize)) else {
            throw .truncated(needed: Int(clamping: count), left: Int(left))
        }
        return Int(count)
    }

    public mutating func read(floats _: [Float].Type) throws(WireError) -> [Float] {
        let count = try readCount(elementSize: 4)
        defer { offset += 4 * count }
        #if _endian(little)
            let start = offset
            return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                bytes.withUnsafeBytes {
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(
                        from: UnsafeRawBufferPointer(rebasing: $0[start..<start + 4 * count]))
                }
                initialized = count
            }
        #else
            var reader = WireReader(Array(bytes[offset..<offset + 4 * count]))
            return try (0..<count).map { _ throws(WireError) in try reader.read(Float.self) }
        #endif
    }
}

/// A message that does not decode as the type both sides agreed on.
public enum WireError: Error, CustomStringConvertible, Equatable, Sendable {
    case truncated(needed: Int, left: Int)
    case invalid(String)
    case trailingBytes(Int)

    public var description: String {
        switch self {
        case .truncated(let needed, let left): "message truncated: \(needed) bytes needed, \(left) left"
        case .invalid(let reason): "malformed message: \(reason)"
        case .trailingBytes(let count): "malformed message: \(count) bytes after its end"
        }
    }
}

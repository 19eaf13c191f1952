/// A value that travels between ranks in the wire encoding (`WireWriter`). Messages on hot paths (the sampler's
/// candidates, beam search's reports) write their fields by hand; any `Codable` type conforms with an empty
/// extension and is written field by field in declaration order (`WireEncoder`).
public protocol WireMessage: Sendable {
    func write(to writer: inout WireWriter)
    init(reading reader: inout WireReader) throws(WireError)
}

extension WireMessage {
    /// This value as one message.
    public func wireBytes() -> [UInt8] {
        var writer = WireWriter()
        write(to: &writer)
        return writer.bytes
    }

    /// A whole message; bytes left after the value are an error.
    public init(wireBytes bytes: [UInt8]) throws(WireError) {
        var reader = WireReader(bytes)
        self = try Self(reading: &reader)
        guard reader.isAtEnd else { throw .trailingBytes(bytes.count - reader.offset) }
    }
}

extension WireMessage where Self: Codable {
    public func write(to writer: inout WireWriter) { WireEncoder.encode(self, into: &writer) }

    public init(reading reader: inout WireReader) throws(WireError) {
        self = try WireDecoder.decode(Self.self, from: &reader)
    }
}

/// Fixed-width integers write their little-endian bytes (`Int` as 64 bits, `WireReader.read(Int.self)` checks the
/// value fits on the reading side).
extension WireMessage where Self: FixedWidthInteger & Codable {
    public func write(to writer: inout WireWriter) { writer.write(self) }
    public init(reading reader: inout WireReader) throws(WireError) { self = try reader.read(Self.self) }
}

extension Int: WireMessage {
    public func write(to writer: inout WireWriter) { writer.write(Int64(self)) }
    public init(reading reader: inout WireReader) throws(WireError) { self = try reader.read(Int.self) }
}

extension Int64: WireMessage {}
extension UInt64: WireMessage {}
extension UInt32: WireMessage {}
extension UInt8: WireMessage {}

extension Bool: WireMessage {
    public func write(to writer: inout WireWriter) { writer.write(self) }
    public init(reading reader: inout WireReader) throws(WireError) { self = try reader.read(Bool.self) }
}

extension Float: WireMessage {
    public func write(to writer: inout WireWriter) { writer.write(self) }
    public init(reading reader: inout WireReader) throws(WireError) { self = try reader.read(Float.self) }
}

extension Double: WireMessage {
    public func write(to writer: inout WireWriter) { writer.write(self) }
    public init(reading reader: inout WireReader) throws(WireError) { self = try reader.read(Double.self) }
}

extension String: WireMessage {
    public func write(to writer: inout WireWriter) { writer.write(self) }
    public init(reading reader: inout WireReader) throws(WireError) { self = try reader.read(String.self) }
}

extension Array: WireMessage where Element: WireMessage {
    public func write(to writer: inout WireWriter) {
        writer.write(count: count)
        for element in self { element.write(to: &writer) }
    }

    public init(reading reader: inout WireReader) throws(WireError) {
        let count = try reader.readCount()
        self = []
        reserveCapacity(count)
        for _ in 0..<count { append(try Element(reading: &reader)) }
    }
}

extension Optional: WireMessage where Wrapped: WireMessage {
    public func write(to writer: inout WireWriter) {
        writer.write(self != nil)
        if let self { self.write(to: &writer) }
    }

    public init(reading reader: inout WireReader) throws(WireError) {
        self = try reader.read(Bool.self) ? try Wrapped(reading: &reader) : nil
    }
}

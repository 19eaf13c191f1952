import Testing

@testable import Coordination

/// The wire encoding against hand-computed bytes, round trips of every conforming type, and messages that must not
/// decode (short, long, corrupt counts).
@Suite struct WireFormatTests {
    @Test func integersAreLittleEndianAndFloatsTheirBits() {
        var writer = WireWriter()
        writer.write(UInt32(0x0102_0304))
        writer.write(-2)
        writer.write(Float(1))
        writer.write(true)
        #expect(
            writer.bytes == [4, 3, 2, 1] + [0xFE] + [UInt8](repeating: 0xFF, count: 7) + [0, 0, 0x80, 0x3F] + [1])
    }

    @Test func stringsAndArraysCarryTheirCount() {
        #expect("hé".wireBytes() == [3, 0, 0, 0, 0, 0, 0, 0, 0x68, 0xC3, 0xA9])
        #expect([UInt8(7), 9].wireBytes() == [2, 0, 0, 0, 0, 0, 0, 0, 7, 9])
        #expect(Int?.none.wireBytes() == [0])
        #expect(Int?.some(1).wireBytes() == [1, 1, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test func primitivesRoundTrip() throws {
        #expect(try Int(wireBytes: Int.min.wireBytes()) == Int.min)
        #expect(try UInt64(wireBytes: UInt64.max.wireBytes()) == UInt64.max)
        #expect(try Double(wireBytes: Double.infinity.wireBytes()) == .infinity)
        #expect(try Float(wireBytes: Float(1e39).wireBytes()) == .infinity)
        #expect(try Float(wireBytes: Float.nan.wireBytes()).isNaN)
        #expect(try String(wireBytes: "[gMASK] 清华".wireBytes()) == "[gMASK] 清华")
        #expect(try [[Int]](wireBytes: [[1, 2], [], [3]].wireBytes()) == [[1, 2], [], [3]])
        #expect(try [Double?](wireBytes: [1.5, nil].wireBytes()) == [1.5, nil])
    }

    @Test func floatArraysRoundTripAsRawBits() throws {
        var writer = WireWriter()
        writer.write(floats: [1, -0.5, .greatestFiniteMagnitude])
        var reader = WireReader(writer.bytes)
        #expect(try reader.read(floats: [Float].self) == [1, -0.5, .greatestFiniteMagnitude])
        #expect(reader.isAtEnd)
    }

    @Test func shortAndLongMessagesAreErrors() {
        #expect(throws: WireError.truncated(needed: 8, left: 3)) { try Int(wireBytes: [1, 2, 3]) }
        #expect(throws: WireError.trailingBytes(1)) { try Bool(wireBytes: [1, 0]) }
        #expect(throws: WireError.self) { try Bool(wireBytes: [2]) }
    }

    @Test func aCorruptCountReservesNothing() {
        // A count of 2^62 elements with 3 bytes behind it: an error before any allocation.
        let bytes = [UInt8](repeating: 0, count: 7) + [0x40] + [1, 2, 3]
        #expect(throws: WireError.truncated(needed: 1 << 62, left: 3)) { try [Int](wireBytes: bytes) }
        #expect(throws: WireError.self) { try String(wireBytes: bytes) }
    }
}

/// Codable types through `WireEncoder`: fields in order, optionals as flags, nested structs and arrays.
@Suite struct WireCodableTests {
    struct Inner: Codable, Equatable {
        var name: String
        var weights: [Float]
        var note: String?
    }

    enum Mode: String, Codable {
        case fast, exact
    }

    struct Outer: Codable, Equatable, WireMessage {
        var id: Int
        var ratio: Double?
        var inner: Inner
        var inners: [Inner]
        var optionalInner: Inner?
        var mode: Mode
        var flags: [Bool]
        var nested: [[Inner]]
    }

    static let sample = Outer(
        id: -7, ratio: nil, inner: Inner(name: "a", weights: [1, 2], note: nil),
        inners: [Inner(name: "b", weights: [], note: "x"), Inner(name: "", weights: [.infinity], note: nil)],
        optionalInner: Inner(name: "c", weights: [3], note: "y"), mode: .exact, flags: [true, false],
        nested: [[], [Inner(name: "d", weights: [4], note: nil)]])

    @Test func nestedValuesRoundTrip() throws {
        #expect(try Outer(wireBytes: Self.sample.wireBytes()) == Self.sample)
        var other = Self.sample
        other.ratio = 0.25
        other.optionalInner = nil
        other.inners = []
        #expect(try Outer(wireBytes: other.wireBytes()) == other)
    }

    @Test func fieldsAreWrittenInOrderWithoutKeys() {
        struct Pair: Codable, WireMessage {
            var a: UInt8
            var b: Int?
        }
        #expect(Pair(a: 5, b: nil).wireBytes() == [5, 0])
        #expect(Pair(a: 5, b: 2).wireBytes() == [5, 1, 2, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test func aTruncatedCodableMessageIsAnError() {
        let bytes = Self.sample.wireBytes()
        for cut in [1, bytes.count / 2, bytes.count - 1] {
            #expect(throws: WireError.self) { try Outer(wireBytes: Array(bytes.prefix(cut))) }
        }
    }

    @Test func enumsWithPayloadsDoNotDecodeSilently() {
        // Synthesized Codable for enums with associated values finds the case by key; this encoding writes no
        // keys, so decoding fails instead of guessing.
        enum Choice: Codable, Equatable {
            case one(Int)
            case two(String)
        }
        struct Holder: Codable, Equatable, WireMessage { var choice: Choice }
        #expect(throws: WireError.self) { try Holder(wireBytes: Holder(choice: .two("x")).wireBytes()) }
    }
}

/// `Codable` values in the wire encoding: fields in the order the type encodes them, without keys (both sides
/// know the type), an optional as a flag and its value, a sequence as its count and its elements. Values that are
/// `WireMessage`s themselves (numbers, strings, arrays of them) are written by their own `write(to:)`.
///
/// Dictionaries are not supported: their keys are data, and this encoding writes no keys.
enum WireEncoder {
    static func encode<T: Encodable>(_ value: T, into writer: inout WireWriter) {
        let state = EncodingState(writer: writer)
        writer = WireWriter()
        // The value's own fields: `state.encode` would hand a `WireMessage` back to its `write(to:)`, which is here.
        do { try value.encode(to: state) } catch {
            preconditionFailure("\(T.self) cannot be wire-encoded: \(error)")
        }
        writer = state.writer
    }
}

enum WireDecoder {
    static func decode<T: Decodable>(_: T.Type, from reader: inout WireReader) throws(WireError) -> T {
        let state = DecodingState(reader: reader)
        defer { reader = state.reader }
        do { return try T(from: state) } catch let error as WireError { throw error } catch {
            throw .invalid("\(T.self): \(error)")
        }
    }
}

// MARK: - Optionals and dictionaries seen through the generic paths

private protocol WireOptionalEncodable {
    var wrappedEncodable: (any Encodable)? { get }
}

extension Optional: WireOptionalEncodable where Wrapped: Encodable {
    fileprivate var wrappedEncodable: (any Encodable)? { self.map { $0 } }
}

private protocol WireOptionalDecodable {
    static func decodeWire(_ state: DecodingState) throws -> Self
}

extension Optional: WireOptionalDecodable where Wrapped: Decodable {
    fileprivate static func decodeWire(_ state: DecodingState) throws -> Self {
        try state.reader.read(Bool.self) ? try state.decode(Wrapped.self) : nil
    }
}

private protocol WireUnsupportedDictionary {}
extension Dictionary: WireUnsupportedDictionary {}

// MARK: - Encoding

private final class EncodingState: Encoder {
    var writer: WireWriter
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] = [:]

    init(writer: WireWriter) { self.writer = writer }

    func encode<T: Encodable>(_ value: T) throws {
        if let message = value as? any WireMessage {
            message.write(to: &writer)
        } else if let optional = value as? any WireOptionalEncodable {
            writer.write(optional.wrappedEncodable != nil)
            if let wrapped = optional.wrappedEncodable { try encode(wrapped) }
        } else if value is any WireUnsupportedDictionary {
            throw EncodingError.invalidValue(
                value, .init(codingPath: codingPath, debugDescription: "dictionaries have no wire encoding"))
        } else {
            try value.encode(to: self)
        }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(KeyedContainer<Key>(state: self))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer { UnkeyedContainer(state: self) }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleValueContainer(state: self) }

    struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let state: EncodingState
        var codingPath: [any CodingKey] { state.codingPath }

        mutating func encodeNil(forKey key: Key) throws { state.writer.write(false) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try state.encode(value) }

        // An absent optional is a flag, so that the decoder reads every field at the same place.
        mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { try state.encode(value) }
        mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { try state.encode(value) }
        mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { try state.encode(value) }
        mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws { try state.encode(value) }
        mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { try state.encode(value) }
        mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws { try state.encode(value) }
        mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws { try state.encode(value) }
        mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws { try state.encode(value) }
        mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { try state.encode(value) }
        mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws { try state.encode(value) }
        mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws { try state.encode(value) }
        mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws { try state.encode(value) }
        mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws { try state.encode(value) }
        mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws { try state.encode(value) }
        mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws { try state.encode(value) }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
            -> KeyedEncodingContainer<NestedKey>
        { state.container(keyedBy: keyType) }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            state.unkeyedContainer()
        }
        mutating func superEncoder() -> any Encoder { state }
        mutating func superEncoder(forKey key: Key) -> any Encoder { state }
    }

    /// Writes a count slot first and fills it in as elements arrive.
    final class UnkeyedContainer: UnkeyedEncodingContainer {
        let state: EncodingState
        let countPosition: Int
        private(set) var count = 0
        var codingPath: [any CodingKey] { state.codingPath }

        init(state: EncodingState) {
            self.state = state
            countPosition = state.writer.position
            state.writer.write(count: 0)
        }

        private func added() {
            count += 1
            state.writer.overwriteCount(at: countPosition, with: count)
        }

        func encodeNil() throws {
            state.writer.write(false)
            added()
        }
        func encode<T: Encodable>(_ value: T) throws {
            try state.encode(value)
            added()
        }
        func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
            -> KeyedEncodingContainer<NestedKey>
        {
            added()
            return state.container(keyedBy: keyType)
        }
        func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            added()
            return state.unkeyedContainer()
        }
        func superEncoder() -> any Encoder { state }
    }

    struct SingleValueContainer: SingleValueEncodingContainer {
        let state: EncodingState
        var codingPath: [any CodingKey] { state.codingPath }

        mutating func encodeNil() throws { state.writer.write(false) }
        mutating func encode<T: Encodable>(_ value: T) throws { try state.encode(value) }
    }
}

// MARK: - Decoding

private final class DecodingState: Decoder {
    var reader: WireReader
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] = [:]

    init(reader: WireReader) { self.reader = reader }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if let message = type as? any WireMessage.Type {
            return try message.init(reading: &reader) as! T
        }
        if let optional = type as? any WireOptionalDecodable.Type {
            return try optional.decodeWire(self) as! T
        }
        if type is any WireUnsupportedDictionary.Type {
            throw DecodingError.typeMismatch(
                type, .init(codingPath: codingPath, debugDescription: "dictionaries have no wire encoding"))
        }
        return try T(from: self)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(KeyedContainer<Key>(state: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { try UnkeyedContainer(state: self) }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { SingleValueContainer(state: self) }

    struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let state: DecodingState
        var codingPath: [any CodingKey] { state.codingPath }
        /// Keys are not written: the type's own decoder asks for each field in turn.
        var allKeys: [Key] { [] }

        func contains(_ key: Key) -> Bool { true }
        func decodeNil(forKey key: Key) throws -> Bool { try !state.reader.read(Bool.self) }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try state.decode(type) }

        func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { try state.decode(Bool?.self) }
        func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
            try state.decode(String?.self)
        }
        func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? {
            try state.decode(Double?.self)
        }
        func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? { try state.decode(Float?.self) }
        func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try state.decode(Int?.self) }
        func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { try state.decode(Int8?.self) }
        func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { try state.decode(Int16?.self) }
        func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try state.decode(Int32?.self) }
        func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try state.decode(Int64?.self) }
        func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { try state.decode(UInt?.self) }
        func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { try state.decode(UInt8?.self) }
        func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? {
            try state.decode(UInt16?.self)
        }
        func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? {
            try state.decode(UInt32?.self)
        }
        func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? {
            try state.decode(UInt64?.self)
        }
        func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
            try state.decode(T?.self)
        }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
            -> KeyedDecodingContainer<NestedKey>
        { try state.container(keyedBy: type) }
        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            try state.unkeyedContainer()
        }
        func superDecoder() throws -> any Decoder { state }
        func superDecoder(forKey key: Key) throws -> any Decoder { state }
    }

    final class UnkeyedContainer: UnkeyedDecodingContainer {
        let state: DecodingState
        let total: Int
        private(set) var currentIndex = 0
        var codingPath: [any CodingKey] { state.codingPath }
        var count: Int? { total }
        var isAtEnd: Bool { currentIndex >= total }

        init(state: DecodingState) throws {
            self.state = state
            total = try state.reader.readCount()
        }

        private func next() throws {
            guard currentIndex < total else {
                throw DecodingError.valueNotFound(
                    Any.self, .init(codingPath: codingPath, debugDescription: "read past the sequence's end"))
            }
            currentIndex += 1
        }

        func decodeNil() throws -> Bool {
            // Only an absent element is consumed here: the flag of a present one stays for `decode`.
            guard currentIndex < total, state.reader.offset < state.reader.bytes.count,
                state.reader.bytes[state.reader.offset] == 0
            else { return false }
            _ = try state.reader.read(UInt8.self)
            currentIndex += 1
            return true
        }
        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            try next()
            return try state.decode(type)
        }
        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
            -> KeyedDecodingContainer<NestedKey>
        {
            try next()
            return try state.container(keyedBy: type)
        }
        func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
            try next()
            return try state.unkeyedContainer()
        }
        func superDecoder() throws -> any Decoder { state }
    }

    struct SingleValueContainer: SingleValueDecodingContainer {
        let state: DecodingState
        var codingPath: [any CodingKey] { state.codingPath }

        func decodeNil() -> Bool {
            // Optionals are decoded through `decode`, which reads their flag; a plain value is never nil.
            false
        }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try state.decode(type) }
    }
}

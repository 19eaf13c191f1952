import CDeflate

/// A read-only view of a zip archive held in a `MappedFile`, limited to what torch.save produces: stored
/// (uncompressed) entries, optionally ZIP64. Parsing reads only the end records and the central directory, so
/// opening a 32 GB shard touches a few kilobytes; entry data is handed out as slices of the mapping.
public struct ZipArchive: Sendable {
    /// One member of the archive, with its data location already resolved and bounds-checked.
    public struct Entry: Sendable, Equatable {
        public var name: String
        /// 0 = stored. Anything else cannot be read (torch never compresses).
        public var method: UInt16
        public var crc32: UInt32
        public var compressedSize: Int
        public var uncompressedSize: Int
        public var localHeaderOffset: Int
        /// Offset of the first data byte in the file (after the local header, its name and extra field).
        public var dataOffset: Int
    }

    public let file: MappedFile
    /// Entries in central-directory order.
    public let entries: [Entry]
    private let index: [String: Int]

    public var path: String { file.path }

    /// Parses the central directory of `file` and checks that every entry's data lies inside the file.
    public init(file: MappedFile) throws(CheckpointError) {
        self.file = file
        let reader = ByteReader(bytes: file.bytes, path: file.path)
        let directory = try Self.locateCentralDirectory(reader)
        var entries: [Entry] = []
        entries.reserveCapacity(directory.count)
        var index: [String: Int] = [:]
        var position = directory.offset
        for ordinal in 0..<directory.count {
            let entry = try Self.readCentralEntry(reader, at: &position, ordinal: ordinal)
            guard index[entry.name] == nil else {
                throw .malformedZip(path: file.path, detail: "duplicate entry '\(entry.name)'")
            }
            index[entry.name] = entries.count
            entries.append(entry)
        }
        self.entries = entries
        self.index = index
    }

    /// Convenience: maps `path` and parses it.
    public init(path: String) throws(CheckpointError) {
        try self.init(file: MappedFile(path: path))
    }

    /// A CRC-32 over every entry's name, size and recorded CRC-32: archives with other contents differ in it
    /// (short of a collision), and computing it reads only the central directory.
    public var contentsDigest: UInt32 {
        var bytes: [UInt8] = []
        for entry in entries {
            bytes += Array(entry.name.utf8) + [0]
            withUnsafeBytes(of: entry.crc32.littleEndian) { bytes += $0 }
            withUnsafeBytes(of: UInt64(entry.uncompressedSize).littleEndian) { bytes += $0 }
        }
        return bytes.withUnsafeBytes { CRC32.checksum($0) }
    }

    public func entry(named name: String) -> Entry? {
        index[name].map { entries[$0] }
    }

    /// Calls `body` with the bytes of a stored entry, straight from the mapping (no copy). Do not let the
    /// pointer escape `body`.
    public func withContents<R>(
        of name: String, _ body: (UnsafeRawBufferPointer) throws(CheckpointError) -> R
    ) throws(CheckpointError) -> R {
        guard let entry = entry(named: name) else { throw .missingEntry(path: path, entry: name) }
        return try withContents(of: entry, body)
    }

    /// Calls `body` with the bytes of `entry`. Do not let the pointer escape `body`.
    public func withContents<R>(
        of entry: Entry, _ body: (UnsafeRawBufferPointer) throws(CheckpointError) -> R
    ) throws(CheckpointError) -> R {
        guard entry.method == 0 else {
            throw .compressedEntry(path: path, entry: entry.name, method: entry.method)
        }
        let slice = UnsafeRawBufferPointer(
            rebasing: file.bytes[entry.dataOffset..<entry.dataOffset + entry.compressedSize])
        return try body(slice)
    }

    /// Recomputes an entry's CRC-32 and compares it with the one the central directory records.
    public func verifyChecksum(of name: String) throws(CheckpointError) {
        guard let entry = entry(named: name) else { throw .missingEntry(path: path, entry: name) }
        try verifyChecksum(of: entry)
    }

    /// Recomputes `entry`'s CRC-32 and compares it with the recorded one, a chunk at a time; with
    /// `releasingPages`, each chunk's pages leave the resident set once summed, so checking a 32 GB shard never
    /// holds it in memory.
    public func verifyChecksum(
        of entry: Entry, holding tensor: String? = nil, releasingPages: Bool = false
    ) throws(CheckpointError) {
        let found = try withContents(of: entry) { bytes in
            var crc: UInt32 = 0
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + Self.checksumChunk)
                crc = CRC32.update(crc, UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
                if releasingPages { file.releasePages(entry.dataOffset + start..<entry.dataOffset + end) }
                start = end
            }
            return crc
        }
        #if FUZZING
            // libFuzzer's mutations almost never keep a checksum right; the fuzz build reads on, so that mutated
            // pickles and tensor views are explored behind it (scripts/fuzz.sh).
            _ = found
        #else
            guard found == entry.crc32 else {
                throw .checksumMismatch(
                    path: path, entry: entry.name, tensor: tensor, expected: entry.crc32, found: found)
            }
        #endif
    }

    private static let checksumChunk = 16 << 20

    // MARK: - Parsing

    private struct CentralDirectory {
        var offset: Int
        var size: Int
        var count: Int
    }

    private static let endOfCentralDirectorySignature: UInt32 = 0x0605_4b50
    private static let zip64EndSignature: UInt32 = 0x0606_4b50
    private static let zip64LocatorSignature: UInt32 = 0x0706_4b50
    private static let centralEntrySignature: UInt32 = 0x0201_4b50
    private static let localHeaderSignature: UInt32 = 0x0403_4b50

    private static func locateCentralDirectory(_ reader: ByteReader) throws(CheckpointError) -> CentralDirectory {
        let size = reader.count
        // The end record is 22 bytes plus a comment of at most 65535 bytes; scan backwards for its signature.
        var found: Int? = nil
        if size >= 22 {
            let lowest = max(0, size - 22 - 65535)
            var candidate = size - 22
            while candidate >= lowest {
                if reader.uint32(candidate) == endOfCentralDirectorySignature,
                    candidate + 22 + Int(reader.uint16(candidate + 20)) <= size
                {
                    found = candidate
                    break
                }
                candidate -= 1
            }
        }
        guard let end = found else {
            // A file that does not even start like a zip (`PK\u{3}\u{4}`) is some other file, not a damaged one.
            if size >= 4 && reader.uint32(0) != Self.localHeaderSignature {
                throw .malformedZip(
                    path: reader.path,
                    detail: "not a zip archive (a PyTorch checkpoint file is one); is this the right file?")
            }
            throw .truncatedZip(
                path: reader.path,
                detail: "no end-of-central-directory record in the last \(min(size, 65557)) of \(size) bytes")
        }
        var directory = CentralDirectory(
            offset: Int(reader.uint32(end + 16)), size: Int(reader.uint32(end + 12)),
            count: Int(reader.uint16(end + 10)))

        // ZIP64: a locator sits just before the classic end record and points at the ZIP64 end record.
        if end >= 20, reader.uint32(end - 20) == zip64LocatorSignature {
            let zip64End = try reader.checkedInt64(end - 20 + 8, what: "ZIP64 end-of-central-directory offset")
            guard zip64End <= end - 20 - 56,
                reader.uint32(zip64End) == zip64EndSignature
            else {
                throw .malformedZip(
                    path: reader.path,
                    detail: "ZIP64 locator points at byte \(zip64End), which holds no ZIP64 end record")
            }
            directory.count = try reader.checkedInt64(zip64End + 32, what: "ZIP64 entry count")
            directory.size = try reader.checkedInt64(zip64End + 40, what: "ZIP64 central directory size")
            directory.offset = try reader.checkedInt64(zip64End + 48, what: "ZIP64 central directory offset")
        }
        guard directory.offset >= 0, directory.size >= 0, directory.offset + directory.size <= size else {
            // (Each of the two is at most the file size here, so the sum cannot overflow.)
            throw .truncatedZip(
                path: reader.path,
                detail: "central directory ends at byte \(directory.offset + directory.size) but the file has "
                    + "\(size) bytes")
        }
        // Every central entry takes at least 46 bytes: a larger count is corrupt, and is refused before any
        // memory is reserved for it.
        guard directory.count <= directory.size / 46 else {
            throw .malformedZip(
                path: reader.path,
                detail: "the central directory claims \(directory.count) entries but its \(directory.size) bytes hold "
                    + "at most \(directory.size / 46)")
        }
        return directory
    }

    private static func readCentralEntry(
        _ reader: ByteReader, at position: inout Int, ordinal: Int
    ) throws(CheckpointError) -> Entry {
        let path = reader.path
        guard position + 46 <= reader.count, reader.uint32(position) == centralEntrySignature else {
            throw .malformedZip(path: path, detail: "central directory entry \(ordinal) at byte \(position) is invalid")
        }
        let method = reader.uint16(position + 10)
        let crc = reader.uint32(position + 16)
        var compressedSize = Int(reader.uint32(position + 20))
        var uncompressedSize = Int(reader.uint32(position + 24))
        let nameLength = Int(reader.uint16(position + 28))
        let extraLength = Int(reader.uint16(position + 30))
        let commentLength = Int(reader.uint16(position + 32))
        var localOffset = Int(reader.uint32(position + 42))
        let nameStart = position + 46
        let extraStart = nameStart + nameLength
        let next = extraStart + extraLength + commentLength
        guard next <= reader.count else {
            throw .truncatedZip(
                path: path,
                detail: "central directory entry \(ordinal) ends at byte \(next) but the file has "
                    + "\(reader.count) bytes")
        }
        let name = reader.string(nameStart, count: nameLength)

        // ZIP64 extended information (tag 0x0001): only the fields that are 0xFFFFFFFF above, in this order.
        var extra = extraStart
        while extra + 4 <= extraStart + extraLength {
            let tag = reader.uint16(extra)
            let length = Int(reader.uint16(extra + 2))
            if tag == 0x0001 {
                var field = extra + 4
                let fieldEnd = field + length
                func take(_ value: inout Int) throws(CheckpointError) {
                    guard value == 0xFFFF_FFFF else { return }
                    guard field + 8 <= fieldEnd else {
                        throw .malformedZip(path: path, detail: "entry '\(name)' has a short ZIP64 extra field")
                    }
                    value = try reader.checkedInt64(field, what: "ZIP64 field of entry '\(name)'")
                    field += 8
                }
                try take(&uncompressedSize)
                try take(&compressedSize)
                try take(&localOffset)
            }
            extra += 4 + length
        }
        position = next

        guard localOffset + 30 <= reader.count else {
            throw .truncatedZip(
                path: path,
                detail: "entry '\(name)' has its local header at byte \(localOffset) but the file has "
                    + "\(reader.count) bytes")
        }
        guard reader.uint32(localOffset) == localHeaderSignature else {
            throw .malformedZip(path: path, detail: "entry '\(name)' has no local header at byte \(localOffset)")
        }
        // The local header's own extra length may differ from the central copy (torch pads the local extra field
        // so data starts on a 64-byte boundary); its name must not.
        let localNameLength = Int(reader.uint16(localOffset + 26))
        let dataOffset = localOffset + 30 + localNameLength + Int(reader.uint16(localOffset + 28))
        guard localNameLength == nameLength, localOffset + 30 + nameLength <= reader.count,
            reader.string(localOffset + 30, count: nameLength) == name
        else {
            throw .malformedZip(
                path: path, detail: "entry '\(name)' has a local header at byte \(localOffset) for another name")
        }
        // Without a data descriptor (flag bit 3) the local header repeats the checksum and sizes; torch writes
        // descriptors, so its local copies are zero and only the central ones count.
        if reader.uint16(localOffset + 6) & 0x8 == 0 {
            let localCRC = reader.uint32(localOffset + 14)
            let localSizes = [reader.uint32(localOffset + 18), reader.uint32(localOffset + 22)]
            let sizesAgree =
                localSizes.allSatisfy { $0 == 0xFFFF_FFFF }
                || (Int(localSizes[0]) == compressedSize && Int(localSizes[1]) == uncompressedSize)
            guard localCRC == crc, sizesAgree else {
                throw .malformedZip(
                    path: path,
                    detail: "entry '\(name)': the local header's checksum or sizes differ from the central directory's")
            }
        }
        let dataEnd = dataOffset + compressedSize
        guard dataEnd <= reader.count else {
            throw .truncatedZip(
                path: path, detail: "entry '\(name)' ends at byte \(dataEnd) but the file has \(reader.count) bytes")
        }
        if method == 0, compressedSize != uncompressedSize {
            throw .malformedZip(
                path: path,
                detail: "stored entry '\(name)' has compressed size \(compressedSize) but uncompressed size "
                    + "\(uncompressedSize)")
        }
        return Entry(
            name: name, method: method, crc32: crc, compressedSize: compressedSize,
            uncompressedSize: uncompressedSize, localHeaderOffset: localOffset, dataOffset: dataOffset)
    }
}

/// Little-endian reads from a mapped buffer. Callers check bounds before reading fixed-size records.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let path: String

    var count: Int { bytes.count }

    func uint16(_ offset: Int) -> UInt16 {
        UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    func uint32(_ offset: Int) -> UInt32 {
        UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    func uint64(_ offset: Int) -> UInt64 {
        UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// A 64-bit size, offset or count field, which must be readable and cannot exceed the file's size (nothing in
    /// the archive is larger than the archive): sums of two such values then never overflow, and no count can ask
    /// for more memory than the file could describe.
    func checkedInt64(_ offset: Int, what: String) throws(CheckpointError) -> Int {
        guard offset >= 0, offset <= count - 8 else {
            throw .truncatedZip(path: path, detail: "\(what) at byte \(offset) lies past the end (\(count) bytes)")
        }
        let value = uint64(offset)
        guard value <= UInt64(count) else {
            throw .malformedZip(path: path, detail: "\(what) is \(value), larger than the file (\(count) bytes)")
        }
        return Int(value)
    }

    func string(_ offset: Int, count: Int) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count]), as: UTF8.self)
    }
}

/// CRC-32 (IEEE, reflected, polynomial 0xEDB88320) as zip uses it, from libdeflate, which folds with carry-less
/// multiplication where the CPU has it.
public enum CRC32 {
    public static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return crc }
        return libdeflate_crc32(crc, base, bytes.count)
    }

    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 { update(0, bytes) }
}

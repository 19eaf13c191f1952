import Basics
import Checkpoint
import FoundationEssentials
import Glibc
import Partitioning

/// A rank's weight parts kept in a local directory (`--weight-cache DIR`) after it received them from rank 0, so
/// that the next start of the same job reads them there and receives nothing.
///
/// One file per rank and layout: `glmcluster-weights-<hash of the checkpoint fingerprint>-tp<N>-rank<R>.bin`. It
/// holds a magic line, a JSON header (the checkpoint's whole fingerprint, the partition, the stream format, each
/// tensor's key and shape in stream order, the CRC-32 of the data) and the fp16 values. A file is used only when all
/// of that matches what this start expects and the data's CRC-32 is right; anything else is a miss, said in a
/// warning, and the rank receives its parts again and rewrites the file (through a temporary file and a rename, so a
/// start that dies midway never leaves a file that looks complete).
struct WeightCache {
    let directory: String

    private static let magic = Array("GLMCLUSTER-WEIGHT-CACHE 1\n".utf8)
    /// The stream's element type: what the file holds.
    private static let format = "fp16"

    private struct Header: Codable {
        var fingerprint: String
        var index: Int
        var count: Int
        var format: String
        var keys: [String]
        var shapes: [[Int]]
        var crc32: UInt32
    }

    func url(fingerprint: String, partition: Partition) -> URL {
        let name =
            "glmcluster-weights-\(Distributed.fingerprint(Array(fingerprint.utf8)))-tp\(partition.count)"
            + "-rank\(partition.index).bin"
        return URL(fileURLWithPath: directory).appendingPathComponent(name)
    }

    /// The cached parts, in `specs` order; nil when there is no usable file (`problem` says why, unless there is no
    /// file at all).
    func load(
        fingerprint: String, partition: Partition, specs: [WeightSpec]
    ) -> (parts: [String: HalfTensor]?, problem: String?) {
        let file = url(fingerprint: fingerprint, partition: partition)
        guard FileManager.default.fileExists(atPath: file.path) else { return (nil, nil) }
        func miss(_ reason: String) -> (parts: [String: HalfTensor]?, problem: String?) {
            (nil, "weight cache \(file.path): \(reason)")
        }
        guard let data = try? Data(contentsOf: file) else { return miss("cannot be read") }
        let bytes = [UInt8](data)
        guard bytes.count >= Self.magic.count + 8, Array(bytes.prefix(Self.magic.count)) == Self.magic else {
            return miss("not a GLMCluster weight cache file")
        }
        var length: UInt64 = 0
        withUnsafeMutableBytes(of: &length) {
            $0.copyBytes(from: bytes[Self.magic.count..<Self.magic.count + 8])
        }
        let headerStart = Self.magic.count + 8
        let dataStart = headerStart + Int(clamping: UInt64(littleEndian: length))
        guard dataStart <= bytes.count,
            let header = try? JSONDecoder().decode(Header.self, from: Data(bytes[headerStart..<dataStart]))
        else { return miss("unreadable header") }
        let expectedShapes = specs.map { $0.shape(of: partition) }
        guard header.fingerprint == fingerprint, header.index == partition.index, header.count == partition.count,
            header.format == Self.format, header.keys == specs.map(\.key), header.shapes == expectedShapes
        else { return miss("written for another checkpoint, layout or format") }
        let valueCount = expectedShapes.reduce(0) { $0 + $1.reduce(1, *) }
        guard bytes.count - dataStart == valueCount * 2 else {
            return miss("holds \(bytes.count - dataStart) bytes of weights, expected \(valueCount * 2)")
        }
        let crc = bytes.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[dataStart...])) }
        guard crc == header.crc32 else { return miss("checksum mismatch (the file is damaged)") }
        var parts: [String: HalfTensor] = [:]
        var offset = dataStart
        for (key, shape) in zip(header.keys, expectedShapes) {
            let count = shape.reduce(1, *)
            let values = [Float16](unsafeUninitializedCapacity: count) { buffer, initialized in
                bytes.withUnsafeBytes {
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(
                        from: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + count * 2]))
                }
                initialized = count
            }
            parts[key] = HalfTensor(shape: shape, values: values)
            offset += count * 2
        }
        return (parts, nil)
    }

    /// Writes `parts` (every spec's part of `partition`) for the next start; returns a problem instead of
    /// throwing: the job has its weights either way.
    func store(_ parts: [String: HalfTensor], fingerprint: String, partition: Partition, specs: [WeightSpec]) -> String?
    {
        let file = url(fingerprint: fingerprint, partition: partition)
        var payload: [UInt8] = []
        for spec in specs {
            guard let part = parts[spec.key] else { return "weight cache: no part of '\(spec.key)' to keep" }
            part.values.withUnsafeBytes { payload += $0 }
        }
        let crc = payload.withUnsafeBytes { CRC32.checksum($0) }
        let header = Header(
            fingerprint: fingerprint, index: partition.index, count: partition.count, format: Self.format,
            keys: specs.map(\.key), shapes: specs.map { $0.shape(of: partition) }, crc32: crc)
        guard let json = try? JSONEncoder().encode(header) else { return "weight cache: cannot encode its header" }
        var bytes = Self.magic
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { bytes += $0 }
        bytes += json
        bytes += payload
        let temporary = file.path + ".partial-\(getpid())"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: temporary))
        } catch {
            unlink(temporary)
            return "cannot write weight cache \(file.path): \(error.explanation)"
        }
        guard rename(temporary, file.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            return "cannot write weight cache \(file.path): \(reason)"
        }
        return nil
    }
}

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
    /// file at all). Each tensor is read straight into its array.
    func load(
        fingerprint: String, partition: Partition, specs: [WeightSpec]
    ) -> (parts: [String: HalfTensor]?, problem: String?) {
        let file = url(fingerprint: fingerprint, partition: partition)
        let descriptor = open(file.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            return errno == ENOENT
                ? (nil, nil) : (nil, "weight cache \(file.path): \(String(cString: strerror(errno)).lowercased())")
        }
        defer { close(descriptor) }
        func miss(_ reason: String) -> (parts: [String: HalfTensor]?, problem: String?) {
            (nil, "weight cache \(file.path): \(reason)")
        }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return miss("cannot be read") }
        let size = Int(info.st_size)
        var lead = [UInt8](repeating: 0, count: Self.magic.count + 8)
        guard readFully(descriptor, &lead, at: 0), Array(lead.prefix(Self.magic.count)) == Self.magic else {
            return miss("not a GLMCluster weight cache file")
        }
        let length = lead.suffix(8).reversed().reduce(0) { $0 << 8 | Int($1) }
        let dataStart = lead.count + length
        guard length > 0, dataStart <= size else { return miss("unreadable header") }
        var json = [UInt8](repeating: 0, count: length)
        guard readFully(descriptor, &json, at: lead.count),
            let header = try? JSONDecoder().decode(Header.self, from: Data(json))
        else { return miss("unreadable header") }
        let expectedShapes = specs.map { $0.shape(of: partition) }
        guard header.fingerprint == fingerprint, header.index == partition.index, header.count == partition.count,
            header.format == Self.format, header.keys == specs.map(\.key), header.shapes == expectedShapes
        else { return miss("written for another checkpoint, layout or format") }
        let valueCount = expectedShapes.reduce(0) { $0 + $1.reduce(1, *) }
        guard size - dataStart == valueCount * 2 else {
            return miss("holds \(size - dataStart) bytes of weights, expected \(valueCount * 2)")
        }
        var parts: [String: HalfTensor] = [:]
        var offset = dataStart
        var crc: UInt32 = 0
        for (key, shape) in zip(header.keys, expectedShapes) {
            let count = shape.reduce(1, *)
            var complete = true
            let values = [Float16](unsafeUninitializedCapacity: count) { buffer, initialized in
                let raw = UnsafeMutableRawBufferPointer(buffer)
                complete = readFully(descriptor, raw, at: offset)
                crc = CRC32.update(crc, UnsafeRawBufferPointer(raw))
                initialized = count
            }
            guard complete else { return miss("cannot be read") }
            parts[key] = HalfTensor(shape: shape, values: values)
            offset += count * 2
        }
        guard crc == header.crc32 else { return miss("checksum mismatch (the file is damaged)") }
        return (parts, nil)
    }

    /// Writes `parts` (every spec's part of `partition`) for the next start, tensor by tensor into a temporary file
    /// then renamed; returns a problem instead of throwing: the job has its weights either way.
    func store(_ parts: [String: HalfTensor], fingerprint: String, partition: Partition, specs: [WeightSpec]) -> String?
    {
        let file = url(fingerprint: fingerprint, partition: partition)
        var tensors: [HalfTensor] = []
        for spec in specs {
            guard let part = parts[spec.key] else { return "weight cache: no part of '\(spec.key)' to keep" }
            tensors.append(part)
        }
        let crc = tensors.reduce(UInt32(0)) { crc, tensor in
            tensor.values.withUnsafeBytes { CRC32.update(crc, $0) }
        }
        let header = Header(
            fingerprint: fingerprint, index: partition.index, count: partition.count, format: Self.format,
            keys: specs.map(\.key), shapes: specs.map { $0.shape(of: partition) }, crc32: crc)
        guard let json = try? JSONEncoder().encode(header) else { return "weight cache: cannot encode its header" }
        var lead = Self.magic
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { lead += $0 }
        lead += json
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let temporary = file.path + ".partial-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            return "cannot write weight cache \(file.path): \(String(cString: strerror(errno)).lowercased())"
        }
        var failure = lead.withUnsafeBytes { writeFully(descriptor, $0) }
        for tensor in tensors where failure == 0 {
            failure = tensor.values.withUnsafeBytes { writeFully(descriptor, $0) }
        }
        if close(descriptor) != 0 && failure == 0 { failure = errno }
        if failure == 0 && rename(temporary, file.path) != 0 { failure = errno }
        guard failure == 0 else {
            unlink(temporary)
            return "cannot write weight cache \(file.path): \(String(cString: strerror(failure)).lowercased())"
        }
        return nil
    }
}

/// Reads `buffer.count` bytes at `offset` (pread may return fewer at a time); false at end of file or on error.
private func readFully(_ descriptor: Int32, _ buffer: UnsafeMutableRawBufferPointer, at offset: Int) -> Bool {
    var done = 0
    while done < buffer.count {
        let got = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
        if got > 0 {
            done += got
        } else if got < 0 && errno == EINTR {
            continue
        } else {
            return false
        }
    }
    return true
}

private func readFully(_ descriptor: Int32, _ bytes: inout [UInt8], at offset: Int) -> Bool {
    bytes.withUnsafeMutableBytes { readFully(descriptor, $0, at: offset) }
}

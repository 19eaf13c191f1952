import Basics
import FoundationEssentials

/// Writes `.safetensors` files as Hugging Face's reference implementation lays them out: the 8-byte little-endian
/// header length, the JSON header (each tensor's dtype code, shape and byte range; `__metadata__` with `format`
/// "pt"), padded with spaces to a multiple of 8 bytes, then every tensor's bytes in order.
public enum SafetensorsWriter {
    public static func write(_ tensors: [(String, CheckpointTensor)], to url: URL) throws(CheckpointError) {
        var entries = ["\"__metadata__\":{\"format\":\"pt\"}"]
        var offset = 0
        for (name, tensor) in tensors {
            guard let code = SafetensorsFile.dtypes.first(where: { $0.value == tensor.dtype })?.key else {
                throw .writeFailed(path: url.path, reason: "'\(name)': safetensors has no \(tensor.dtype.rawValue)")
            }
            let size = tensor.elementCount * tensor.dtype.byteCount
            entries.append(
                ReleaseWriter.quoted(name) + ":{\"dtype\":\"\(code)\",\"shape\":\(tensor.shape),"
                    + "\"data_offsets\":[\(offset),\(offset + size)]}")
            offset += size
        }
        var header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
        header += [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { bytes += $0 }
        bytes += header
        for (_, tensor) in tensors { tensor.withUnsafeBytes { bytes += $0 } }
        do { try Data(bytes).write(to: url) } catch { throw .writeFailed(path: url.path, reason: error.explanation) }
    }
}

import FoundationEssentials

/// Raw little-endian float32 files (the `logits` output).
public enum LittleEndianFloats {
    public static func encode(_ values: [Float]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count * 4)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        return bytes
    }

    public static func write(_ values: [Float], to url: URL) throws {
        do { try Data(encode(values)).write(to: url) } catch {
            throw InputError(description: "cannot write \(url.path): \(error.explanation)")
        }
    }
}

import Glibc

/// Standard error (file descriptor 2) without `FileHandle`, which needs full Foundation (not linked: about 6 MiB
/// resident per rank).
public enum StandardError {
    /// Writes `line` and a newline in one `write(2)` call (repeated only if the kernel takes part of it), as
    /// `FileHandle.standardError.write` did, so lines of ranks sharing a terminal do not mix. Errors are ignored:
    /// there is nowhere left to report them.
    public static func writeLine(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        _ = bytes.withUnsafeBytes { writeFully(2, $0) }
    }
}

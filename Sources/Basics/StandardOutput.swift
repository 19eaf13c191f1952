// C's `stdout` is a mutable global to Swift; only the main thread prints, and only it calls `finish`.
@preconcurrency import Glibc

/// Standard output's last word: what a command printed is flushed and checked, so an answer that could not be
/// written (a full disk, a closed pipe, `/dev/full`) is an error with a non-zero exit, never a silent success.
public enum StandardOutput {
    public static func finish() throws(InputError) {
        if fflush(stdout) != 0 || ferror(stdout) != 0 {
            let reason = String(cString: strerror(errno))
            clearerr(stdout)
            throw InputError(description: "cannot write the output to standard output: \(reason)")
        }
    }
}

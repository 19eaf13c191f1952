import Glibc

/// Writes every byte of `bytes` to `descriptor`: `write(2)` may take fewer at a time or be interrupted by a signal.
/// Returns 0, or the errno that stopped it (EIO when the kernel accepts no byte without saying why). Shared by the
/// stderr lines and the checkpoint writer, which write through descriptors instead of `FileHandle` (full
/// Foundation, not linked).
public func writeFully(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32 {
    var offset = 0
    while offset < bytes.count {
        let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
        if written > 0 {
            offset += written
        } else if written < 0 && errno == EINTR {
            continue
        } else {
            return written < 0 ? errno : EIO
        }
    }
    return 0
}

import Glibc

/// A file as the kernel knows it: its device and inode, the same whichever name, symbolic link or hard link
/// reaches it. Comparing identities, not paths, is what tells that an output would overwrite an input.
public struct FileIdentity: Hashable, Sendable {
    public let device: UInt64
    public let inode: UInt64

    /// The identity of what `path` names (following links), or nil when nothing is there.
    public init?(path: String) {
        var info = stat()
        guard !path.isEmpty, stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}

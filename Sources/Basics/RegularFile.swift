import Glibc

/// Input files are read whole, so one that is not a regular file is refused before reading: a pipe would block
/// until a writer comes, a device would never end, and the reader's own error ("Permission denied") would name
/// the wrong cause.
public enum RegularFile {
    /// Why `path` cannot be read as a file (following links), or nil when it is a regular file or does not exist
    /// (the reader then reports it missing).
    public static func problem(at path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return "is a directory, not a file"
        default: return "is not a regular file (a pipe, device or socket)"
        }
    }
}

import Glibc

/// Checks for a file that a command writes once it has finished its work (a chart, a report), so that a path it
/// cannot use fails at once rather than after the work, and a device or a folder is never replaced by a file.
public enum OutputFile {
    /// `path` must be non-empty, its folder must exist, and whatever is there now must be a regular file (or a
    /// link to one); `option` names it in the error. With `allowingDevices`, a character device such as
    /// `/dev/null` is accepted too (a plain write goes through it); a pipe never is: opening it would wait for a
    /// reader.
    public static func check(_ path: String, option: String, allowingDevices: Bool = false) throws(InputError) {
        guard !path.isEmpty else { throw InputError(description: "\(option) must name a file") }
        var info = stat()
        if stat(path, &info) == 0 {
            let kind = info.st_mode & S_IFMT
            guard kind == S_IFREG || (allowingDevices && kind == S_IFCHR) else {
                let kind = (info.st_mode & S_IFMT) == S_IFDIR ? "a directory" : "a device, pipe or socket"
                throw InputError(description: "\(option) \(path) is \(kind), not a file it can write")
            }
            return
        }
        let folder = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        var folderInfo = stat()
        guard stat(folder.isEmpty ? "/" : folder, &folderInfo) == 0, (folderInfo.st_mode & S_IFMT) == S_IFDIR else {
            throw InputError(description: "\(option) \(path): the folder \(folder) does not exist")
        }
    }
}

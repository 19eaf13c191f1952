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
            if kind == S_IFREG {
                let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
                if fd >= 0 {
                    defer { close(fd) }
                    if flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK { throw inUse(path, option: option) }
                }
            }
            return
        }
        let folder = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        var folderInfo = stat()
        guard stat(folder.isEmpty ? "/" : folder, &folderInfo) == 0, (folderInfo.st_mode & S_IFMT) == S_IFDIR else {
            throw InputError(description: "\(option) \(path): the folder \(folder) does not exist")
        }
    }

    /// Writes `bytes` to `path` once the work is done: a regular file is locked first and replaced only if no other
    /// job holds its lock (a running batch job holds its output's), so a result file in use is never overwritten.
    public static func write(_ bytes: [UInt8], to path: String, option: String) throws(InputError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw InputError(description: "cannot write \(option) \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG {
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { throw inUse(path, option: option) }
            _ = ftruncate(fd, 0)
        }
        let error = bytes.withUnsafeBytes { writeFully(fd, $0) }
        if error != 0 {
            throw InputError(description: "cannot write \(option) \(path): \(String(cString: strerror(error)))")
        }
    }

    private static func inUse(_ path: String, option: String) -> InputError {
        InputError(
            description: "\(option) \(path) is in use by another job (it holds the file's lock, as a running batch job "
                + "holds its output); name another file")
    }

    /// Refuses `path` when it is one of `inputs` by any name or link: the command would overwrite a file it reads
    /// (a model's shard or configuration) and the loss would show only in the next run. `inputsName` says what
    /// they are ("a file of the model in --model ckpt").
    public static func checkNotAmong(
        _ inputs: [String], _ path: String, option: String, inputsName: String
    ) throws(InputError) {
        guard let output = FileIdentity(path: path) else { return }
        if let input = inputs.first(where: { FileIdentity(path: $0) == output }) {
            let alias = input == path ? "" : " (\(input))"
            throw InputError(
                description: "\(option) \(path) is \(inputsName)\(alias); writing it would destroy it. "
                    + "Name another file.")
        }
    }
}

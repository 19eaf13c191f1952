import Basics
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The output JSONL of a batch job, safe to interrupt at any moment and to reopen.
///
/// Opening reads the lines already there and collects their ids, so a rerun skips those requests. A last line
/// without its newline is the trace of a write cut short (a crash, `kill -9`, a preemption): it is cut off, so the
/// file again ends at a whole line and that request runs again; nothing before it is touched. Each `append` then
/// writes one whole line with a single `write` on an `O_APPEND` descriptor and `fsync`s it, so a finished request
/// is on disk before the next one is reported, and no line is ever written twice.
///
/// One job at a time: opening takes an exclusive lock on the file (`flock`, which Linux also maps onto NFS byte-range
/// locks) and a second job on the same file fails at once, before it could cut a line the first is writing.
public final class ResultStore {
    public let url: URL
    /// Ids of the complete lines in the file.
    public private(set) var completedIds: Set<RequestId> = []
    /// Each line's `request_fingerprint` (the request it answered), where the line has one.
    public private(set) var requestFingerprints: [RequestId: String] = [:]
    /// Complete lines in the file (also those without a usable id — see `open`).
    public private(set) var lineCount = 0
    /// Bytes of a torn last line removed on opening (0 if the file ended cleanly).
    public let repairedBytes: Int
    private let descriptor: Int32

    /// Opens (creating if needed) the output file. A complete line that is not a JSON object with an `id` means
    /// the file is not one of ours or was edited: that is an error naming the line, rather than a guess.
    public init(url: URL) throws {
        self.url = url
        let path = url.path
        let fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw BatchInputError(
                description: "cannot open the output file \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let busy = errno == EWOULDBLOCK
            let reason = String(cString: strerror(errno))
            close(fd)
            throw BatchInputError(
                description: busy
                    ? "another batch job is writing \(path) (it holds the file's lock); wait for it to end or choose "
                        + "another --output"
                    : "cannot lock the output file \(path): \(reason)")
        }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw BatchInputError(
                description: "the output \(path) is not a regular file; results must be kept in a file they can be "
                    + "resumed from")
        }
        descriptor = fd
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            close(fd)
            throw BatchInputError(description: "cannot read the output file \(path): \(error.explanation)")
        }
        // Everything up to the last newline must be result lines (checked below, before anything is changed); a
        // tail after it is a torn line, cut only once the rest has shown the file is ours.
        var keep = data.count
        while keep > 0 && data[data.startIndex + keep - 1] != UInt8(ascii: "\n") { keep -= 1 }
        var number = 0
        for line in data.prefix(keep).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast()
        {
            number += 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            guard case .object(let fields)? = JSONValue.parse(Data(line)) else {
                close(fd)
                throw BatchInputError(
                    description: "\(path):\(number) is not a JSON object; this does not look like an output of "
                        + "`glmcluster batch` (fix or remove that line, or choose another --output)")
            }
            let id: RequestId
            switch fields["id"] {
            case .string(let text)?: id = .string(text)
            case .integer(let value)?: id = .integer(value)
            default:
                close(fd)
                throw BatchInputError(description: "\(path):\(number) has no \"id\" string or integer")
            }
            // Every line the job writes is a result ("answer") or a request that cannot run ("error").
            guard fields["answer"] != nil || fields["error"] != nil else {
                close(fd)
                throw BatchInputError(
                    description: "\(path):\(number) is not a result line (it has neither \"answer\" nor \"error\"); "
                        + "this does not look like an output of `glmcluster batch` (fix or remove that line, or "
                        + "choose another --output)")
            }
            completedIds.insert(id)
            if case .string(let fingerprint)? = fields["request_fingerprint"] { requestFingerprints[id] = fingerprint }
            lineCount += 1
        }
        let tail = data.suffix(data.count - keep)
        if let first = tail.first(where: { $0 != 0x20 && $0 != 0x09 }), first != UInt8(ascii: "{") {
            close(fd)
            throw BatchInputError(
                description: "\(path) ends with text that is not a result line; this does not look like an output of "
                    + "`glmcluster batch` (fix or remove that text, or choose another --output)")
        }
        repairedBytes = tail.count
        if repairedBytes > 0 {
            guard ftruncate(fd, off_t(keep)) == 0, fsync(fd) == 0 else {
                let reason = String(cString: strerror(errno))
                close(fd)
                throw BatchInputError(description: "cannot repair the torn last line of \(path): \(reason)")
            }
        }
    }

    deinit { close(descriptor) }

    /// Appends one JSON object as a line and syncs it to disk. `json` must not contain a newline.
    public func append(id: RequestId, json: Data, requestFingerprint: String? = nil) throws {
        precondition(!json.contains(UInt8(ascii: "\n")), "a JSONL line must not contain a newline")
        var line = json
        line.append(UInt8(ascii: "\n"))
        try line.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw BatchInputError(
                        description: "cannot write to \(url.path): \(String(cString: strerror(errno)))")
                }
                offset += written
            }
        }
        guard fsync(descriptor) == 0 else {
            throw BatchInputError(description: "cannot sync \(url.path): \(String(cString: strerror(errno)))")
        }
        completedIds.insert(id)
        if let requestFingerprint { requestFingerprints[id] = requestFingerprint }
        lineCount += 1
    }
}

import CFileGuard

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file mapped read-only into memory. GLM-130B shards are ~32 GB each, so they are never read into `Data`:
/// the kernel pages in only the tensors that are actually copied out.
///
/// `@unchecked Sendable` invariant: the mapping is created in `init`, is read-only (`PROT_READ`), is never
/// remapped or written, and is unmapped only in `deinit`, when no other reference can exist. Concurrent reads of
/// `bytes` are therefore safe from any thread.
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened from; every error about this file names it.
    public let path: String
    /// The whole file. Valid for the lifetime of this object: do not let the pointer escape it.
    public let bytes: UnsafeRawBufferPointer

    /// Maps `path` read-only. An empty file maps to an empty buffer.
    public init(path: String) throws(CheckpointError) {
        self.path = path
        // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer before the check below.
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { throw .cannotOpen(path: path, reason: Self.errnoText()) }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw .cannotOpen(path: path, reason: Self.errnoText()) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw .cannotOpen(path: path, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let address, address != MAP_FAILED else {
            throw .cannotOpen(path: path, reason: "mmap: " + Self.errnoText())
        }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
        // A read past the end of a file that shrinks meanwhile is a SIGBUS: reported as an error naming it.
        file_guard_register(address, size, path)
    }

    /// A private anonymous mapping holding a copy of `bytes`, named `name` in errors: what the fuzz targets and
    /// tests hand the readers instead of a file.
    public init(copying source: UnsafeRawBufferPointer, name: String) {
        path = name
        guard !source.isEmpty,
            let address = mmap(nil, source.count, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            address != MAP_FAILED
        else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        address.copyMemory(from: source.baseAddress!, byteCount: source.count)
        bytes = UnsafeRawBufferPointer(start: address, count: source.count)
    }

    /// The file size in bytes.
    public var count: Int { bytes.count }

    /// Drops the resident pages of `range` (byte offsets) from this process once their data has been copied
    /// out, so loading a shard does not keep a second, file-backed copy of every weight in the resident set.
    /// The mapping stays valid: a later read faults the pages back in from the file.
    public func releasePages(_ range: Range<Int>) {
        guard let base = bytes.baseAddress, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        // Only whole pages inside the range: a neighbour sharing a page keeps it.
        let start = (range.lowerBound + page - 1) / page * page
        let end = min(range.upperBound, bytes.count) / page * page
        guard start < end else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, Int32(MADV_DONTNEED))
    }

    deinit {
        if let base = bytes.baseAddress {
            file_guard_unregister(base)
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        }
    }

    private static func errnoText() -> String {
        String(cString: strerror(errno))
    }
}

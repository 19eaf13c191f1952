import Glibc

/// Per-thread buffers for a kernel call's activation layouts (the int4 GEMV's split, the GEMMs' packed rows), grown on
/// demand and kept for the thread's lifetime, so that no call allocates. Only the calling thread writes them, and only
/// before the kernels (which read them) start; no kernel call re-enters another, so one set per thread suffices.
final class ThreadScratch {
    /// Independent buffers a call may hold at once (the dot-product GEMM's packed rows and their scales).
    enum Slot: Int, CaseIterable {
        case first, second
    }

    private var storage: [UnsafeMutableRawPointer?] = Array(repeating: nil, count: Slot.allCases.count)
    private var capacity: [Int] = Array(repeating: 0, count: Slot.allCases.count)

    /// The calling thread's scratch.
    static var current: ThreadScratch {
        if let stored = pthread_getspecific(key) {
            return Unmanaged<ThreadScratch>.fromOpaque(stored).takeUnretainedValue()
        }
        let scratch = ThreadScratch()
        pthread_setspecific(key, Unmanaged.passRetained(scratch).toOpaque())
        return scratch
    }

    /// Each thread's scratch, retained, and released when the thread exits, as `Thread.current.threadDictionary`
    /// kept it (that needs full Foundation, which is not linked: about 6 MiB resident per rank).
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { stored in Unmanaged<ThreadScratch>.fromOpaque(stored!).release() }
        return key
    }()

    /// A 64-byte-aligned buffer of at least `count` elements of `T` in `slot`, valid until the next call for that
    /// slot on this thread.
    func buffer<T>(of type: T.Type = T.self, capacity count: Int, slot: Slot = .first) -> UnsafeMutablePointer<T> {
        let bytes = max(1, count) * MemoryLayout<T>.stride
        let index = slot.rawValue
        if bytes > capacity[index] {
            storage[index]?.deallocate()
            capacity[index] = max(bytes, 2 * capacity[index])
            storage[index] = UnsafeMutableRawPointer.allocate(byteCount: capacity[index], alignment: 64)
        }
        return storage[index]!.bindMemory(to: T.self, capacity: count)
    }

    deinit {
        for pointer in storage { pointer?.deallocate() }
    }
}

import CKernels
import Dispatch

/// How many threads the kernels of this rank may use. Set once at start-up (from `--threads`), before any
/// kernel runs, and only read afterwards.
public enum ComputeThreads {
    nonisolated(unsafe) public static var count = 1

    /// Runs `body` over `0 ..< total` split into at most `count` contiguous chunks of at least `minimumChunk`,
    /// in parallel; returns when all are done.
    public static func parallelFor(_ total: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        parallelFor(total, threads: count, minimumChunk: minimumChunk, body)
    }

    /// `parallelFor` on at most `threads` chunks (tests and benchmarks force a thread count).
    public static func parallelFor(
        _ total: Int, threads: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void
    ) {
        let chunks = max(1, min(threads, total / max(minimumChunk, 1)))
        if chunks == 1 {
            body(0..<total)
            return
        }
        runChunks(chunks) { chunk in body(total * chunk / chunks..<total * (chunk + 1) / chunks) }
    }

    /// Runs `body(c)` for `c < chunks` concurrently on the persistent worker pool (`ck_pool_run`) plus the calling
    /// thread; returns when all are done. `DispatchQueue.concurrentPerform` was replaced because on the 2-core
    /// machine it often ran both chunks of a GEMV on one thread (2 threads no faster than 1).
    static func runChunks(_ chunks: Int, _ body: (Int) -> Void) {
        // `body` (and the pointers it captures) only runs until ck_pool_run returns, and each chunk is a disjoint
        // piece of work, which makes handing it to the workers safe even though the closure is not Sendable.
        withoutActuallyEscaping(body) { body in
            var work = body
            withUnsafeMutablePointer(to: &work) { context in
                ck_pool_run(
                    chunks,
                    { context, chunk in
                        context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(chunk)
                    }, context)
            }
        }
    }
}

/// Hands a value across threads where the caller guarantees there is no race (see each use).
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// The CPU's vector units, detected once.
public enum CPUFeatures {
    public static let detected = ck_detect_cpu()

    public static var summary: String {
        let f = detected
        var units: [String] = []
        if f.avx2 != 0 { units.append("AVX2") }
        if f.avx512 != 0 { units.append("AVX-512") }
        if f.avx512bf16 != 0 { units.append("AVX512-BF16") }
        if f.avx512vnni != 0 { units.append("AVX512-VNNI") }
        return units.isEmpty ? "portable" : units.joined(separator: ", ")
    }
}

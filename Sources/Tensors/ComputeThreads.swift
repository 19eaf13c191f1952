import CKernels
import Dispatch

/// How many threads the kernels of this rank may use. Set once at start-up (from `--threads`), before any
/// kernel runs, and only read afterwards.
public enum ComputeThreads {
    nonisolated(unsafe) public static var count = 1

    /// Runs `body` over `0 ..< total` split into at most `count` contiguous chunks of at least `minimumChunk`,
    /// in parallel; returns when all are done.
    public static func parallelFor(_ total: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        let chunks = max(1, min(count, total / max(minimumChunk, 1)))
        if chunks == 1 {
            body(0..<total)
            return
        }
        // The chunks are disjoint and `body` only runs until concurrentPerform returns, which makes handing it to
        // the worker threads safe even though the closure (and the pointers it captures) is not Sendable.
        withoutActuallyEscaping(body) { body in
            let work = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                work.value(total * chunk / chunks..<total * (chunk + 1) / chunks)
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

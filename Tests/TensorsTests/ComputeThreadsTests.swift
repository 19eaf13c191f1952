import Foundation
import Testing

@testable import Tensors

/// The persistent worker pool behind `ComputeThreads` (`Sources/CKernels/threadpool.c`): workers spin between jobs
/// and then sleep, so every job must still run each chunk exactly once, whether the workers were spinning or
/// asleep, and with several callers at once (a busy pool makes a caller run its chunks itself). A lost wake-up
/// would hang: the time limit turns that into a failure.
@Suite(.serialized, .timeLimit(.minutes(1))) struct ComputeThreadsTests {
    /// Runs `jobs` jobs of 1...9 chunks; each chunk adds its job's tag to its own slot (disjoint writes), so a
    /// chunk run twice or never shows in the totals.
    static func runJobs(_ jobs: Int, pauseEvery: Int, pause: TimeInterval) -> Bool {
        var ok = true
        for job in 0..<jobs {
            let chunks = 1 + job % 9
            var slots = [Int](repeating: 0, count: chunks)
            slots.withUnsafeMutableBufferPointer { slots in
                let base = slots.baseAddress!
                ComputeThreads.runChunks(chunks) { chunk in base[chunk] += job + 1 }
            }
            ok = ok && slots.allSatisfy { $0 == job + 1 }
            if pauseEvery > 0 && job % pauseEvery == 0 { Thread.sleep(forTimeInterval: pause) }
        }
        return ok
    }

    @Test func everyChunkRunsOnceWhetherWorkersSpinOrSleep() {
        // Back to back (workers spinning), then with 2 ms gaps (workers asleep: past the ~130 µs spin).
        #expect(Self.runJobs(20_000, pauseEvery: 0, pause: 0))
        #expect(Self.runJobs(300, pauseEvery: 1, pause: 0.002))
        #expect(Self.runJobs(2_000, pauseEvery: 7, pause: 0.0002))
    }

    @Test func concurrentCallersEachGetTheirJobsDone() async {
        let results = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<4 { group.addTask { Self.runJobs(3_000, pauseEvery: 50, pause: 0.0005) } }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results == [true, true, true, true])
    }
}

import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A rank that stops responding (SIGSTOP: what a frozen node or a partitioned network looks like) no longer hangs
/// the job: within --peer-timeout every rank ends, non-zero, and one message names the lost rank, its host and what
/// it was doing. Before, the other ranks waited in a collective for ever.
@Suite(.serialized, .timeLimit(.minutes(3))) struct HungRankTests {
    static let peerTimeout = 3.0

    /// Starts a long 2- or 4-rank benchmark, stops `victim` once every rank has started, and returns the exit
    /// status, the seconds from the stop to the job's end, and stderr.
    static func stopOneRank(ranks: Int, victim: Int) throws -> (status: Int32, seconds: Double, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", "\(ranks)",
            CommandRunner.glmcluster, "bench", "--config",
            CommandRunner.packageRoot.appendingPathComponent("configs/demo.json").path, "--prompt-tokens", "64",
            "--gen-tokens", "1000", "--repeat", "1000", "--threads", "1", "--triad-mib", "1", "--sgemm-size", "16",
            "--peer-timeout", "\(peerTimeout)",
        ]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        // The start-up lines name each rank's pid: "[rank R/N host] pid P, ...".
        var stderr = ""
        var pids: [Int: Int32] = [:]
        let startDeadline = Date().addingTimeInterval(60)
        while pids.count < ranks && Date() < startDeadline {
            let chunk = errors.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            stderr += String(decoding: chunk, as: UTF8.self)
            for match in stderr.matches(of: /\[rank (\d+)\/\d+ [^\]]*\] pid (\d+)/) {
                pids[Int(match.output.1)!] = Int32(match.output.2)!
            }
        }
        let pid = try #require(pids[victim], "no start-up line for rank \(victim): \(stderr)")
        Thread.sleep(forTimeInterval: 2)  // well into the benchmark
        kill(pid, SIGSTOP)
        let stopped = Date()
        while process.isRunning && Date().timeIntervalSince(stopped) < peerTimeout + 30 { usleep(100_000) }
        let seconds = Date().timeIntervalSince(stopped)
        if process.isRunning {
            kill(pid, SIGKILL)
            process.terminate()
        }
        process.waitUntilExit()
        stderr += String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus, seconds, stderr)
    }

    @Test(arguments: [(2, 1), (2, 0), (4, 2)])
    func aStoppedRankEndsTheJobNamed(ranks: Int, victim: Int) throws {
        let (status, seconds, stderr) = try Self.stopOneRank(ranks: ranks, victim: victim)
        #expect(status != 0, "\(stderr)")
        #expect(seconds < Self.peerTimeout + 12, "the job ended \(seconds) s after the stop")
        #expect(
            stderr.contains("rank \(victim) (host ") && stderr.contains("has not responded"),
            "rank \(victim) not named: \(stderr)")
        #expect(stderr.contains("last reported: "), "\(stderr)")
    }
}

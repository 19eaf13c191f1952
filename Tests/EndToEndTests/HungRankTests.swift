import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A rank that stops responding (SIGSTOP: what a frozen node or a partitioned network looks like) no longer hangs
/// the job: within --peer-timeout every rank ends, non-zero, and one message names the lost rank, its host and what
/// it was doing. Before, the other ranks waited in a collective for ever. A rank that dies (SIGKILL) is named by
/// GLMCluster too, within the two seconds mpirun takes to end the others.
@Suite(.serialized, .timeLimit(.minutes(3))) struct HungRankTests {
    static let peerTimeout = 3.0

    /// A long benchmark on the demo configuration: nothing to create first.
    static let longBenchmark = [
        "bench", "--config", CommandRunner.packageRoot.appendingPathComponent("configs/demo.json").path,
        "--prompt-tokens", "64", "--gen-tokens", "1000", "--repeat", "1000", "--threads", "1", "--triad-mib", "1",
        "--sgemm-size", "16",
    ]

    /// Starts `arguments` on `ranks` ranks, sends `signal` to `victim` once every rank has started and `delay` seconds
    /// have passed, and returns the exit status, the seconds from the signal to the job's end, and stderr.
    static func signalOneRank(
        ranks: Int, victim: Int, signal: Int32, arguments: [String] = longBenchmark, delay: Double = 2
    ) throws -> (status: Int32, seconds: Double, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            [
                "mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", "\(ranks)",
                CommandRunner.glmcluster,
            ] + arguments + ["--peer-timeout", "\(peerTimeout)"]
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
            pids = CommandRunner.rankPids(in: stderr)
        }
        let pid = try #require(pids[victim], "no start-up line for rank \(victim): \(stderr)")
        Thread.sleep(forTimeInterval: delay)  // well into the computation
        kill(pid, signal)
        let signalled = Date()
        while process.isRunning && Date().timeIntervalSince(signalled) < peerTimeout + 30 { usleep(100_000) }
        let seconds = Date().timeIntervalSince(signalled)
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
        let (status, seconds, stderr) = try Self.signalOneRank(ranks: ranks, victim: victim, signal: SIGSTOP)
        #expect(status != 0, "\(stderr)")
        #expect(seconds < Self.peerTimeout + 12, "the job ended \(seconds) s after the stop")
        #expect(
            stderr.contains("rank \(victim) (host ") && stderr.contains("has not responded"),
            "rank \(victim) not named: \(stderr)")
        #expect(stderr.contains("last reported: "), "\(stderr)")
    }

    /// mpirun notices the death and sends the others SIGTERM; they name the rank that sent no notice.
    @Test(arguments: [(2, 1), (2, 0), (4, 3)])
    func aKilledRankIsNamed(ranks: Int, victim: Int) throws {
        let (status, seconds, stderr) = try Self.signalOneRank(ranks: ranks, victim: victim, signal: SIGKILL)
        #expect(status != 0, "\(stderr)")
        #expect(seconds < 10, "the job ended \(seconds) s after the kill")
        #expect(
            stderr.contains("Error: rank \(victim) (host ") && stderr.contains("is gone"),
            "rank \(victim) not named: \(stderr)")
        // One report, from the lowest surviving rank.
        #expect(stderr.components(separatedBy: "is gone").count == 2, "\(stderr)")
    }

    /// A batch job reports which request each rank was computing, and keeps every line it finished.
    @Test func aKilledRankInABatchIsNamedWithItsRequest() throws {
        let folder = try CommandRunner.temporaryDirectory("killed-batch")
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = folder.appendingPathComponent("in.jsonl")
        let output = folder.appendingPathComponent("out.jsonl")
        let lines = (1...40).map {
            #"{"id": "q\#($0)", "prompt": "Tsinghua University is [MASK]", "max_new_tokens": \#($0 == 1 ? 4 : 1900)}"#
        }
        try (lines.joined(separator: "\n") + "\n").write(to: input, atomically: true, encoding: .utf8)
        let (status, seconds, stderr) = try Self.signalOneRank(
            ranks: 2, victim: 1, signal: SIGKILL,
            arguments: [
                "batch", "--model", Fixture.checkpointDirectory.path, "--input", input.path, "--output", output.path,
                "--max-batch", "1", "--greedy",
            ], delay: 3)
        #expect(status != 0, "\(stderr)")
        #expect(seconds < 10, "the job ended \(seconds) s after the kill")
        #expect(stderr.contains("Error: rank 1 (host ") && stderr.contains("is gone"), "\(stderr)")
        #expect(stderr.contains("decode step ") && stderr.contains("of request \"q"), "\(stderr)")
        let written = try String(contentsOf: output, encoding: .utf8)
        #expect(written.contains(#""id":"q1""#), "the first request's line is kept: \(written)")
    }

    /// A SIGTERM that reaches one rank only (a person's `kill`, a node agent) names that rank and the signal; it
    /// used to name the other, healthy rank as "stopped answering".
    @Test(arguments: [(2, 1), (2, 0)])
    func aTerminationSignalToOneRankNamesIt(ranks: Int, victim: Int) throws {
        let (status, seconds, stderr) = try Self.signalOneRank(ranks: ranks, victim: victim, signal: SIGTERM)
        #expect(status != 0, "\(stderr)")
        #expect(seconds < 10, "the job ended \(seconds) s after the signal")
        #expect(
            stderr.contains("rank \(victim) (host ") && stderr.contains("termination signal"),
            "rank \(victim) not named: \(stderr)")
        #expect(!stderr.contains("stopped answering") && !stderr.contains("has not responded"), "\(stderr)")
    }

    /// The whole job stopped and continued (Ctrl-Z then `fg`: mpirun passes SIGTSTP and SIGCONT on to each rank in
    /// turn) for longer than --peer-timeout: every rank was paused, so the job goes on instead of ending for a lost
    /// rank. The ranks are stopped a second apart and continued in the other order, so that the rank continued
    /// first has heard nothing from the other for longer than the timeout: it must see its own pause.
    @Test func aJobPausedAsAWholeGoesOn() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            [
                "mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", "2",
                CommandRunner.glmcluster,
            ] + Self.longBenchmark + ["--peer-timeout", "\(Self.peerTimeout)"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        var pids: [Int: Int32] = [:]
        defer {
            // mpirun ends its ranks on SIGTERM; whatever is left after 10 s is killed.
            for pid in pids.values { kill(pid, SIGCONT) }
            if process.isRunning { process.terminate() }
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning && Date() < deadline { usleep(100_000) }
            for pid in pids.values { kill(pid, SIGKILL) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        var stderr = ""
        let startDeadline = Date().addingTimeInterval(60)
        while pids.count < 2 && Date() < startDeadline {
            let chunk = errors.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            stderr += String(decoding: chunk, as: UTF8.self)
            pids = CommandRunner.rankPids(in: stderr)
        }
        let (first, second) = (try #require(pids[0], "\(stderr)"), try #require(pids[1], "\(stderr)"))
        Thread.sleep(forTimeInterval: 2)
        kill(first, SIGSTOP)
        Thread.sleep(forTimeInterval: 1)
        kill(second, SIGSTOP)
        Thread.sleep(forTimeInterval: Self.peerTimeout + 2)
        kill(second, SIGCONT)
        Thread.sleep(forTimeInterval: 0.5)
        kill(first, SIGCONT)
        Thread.sleep(forTimeInterval: Self.peerTimeout + 2)
        #expect(process.isRunning, "the job ended after the pause")
        // Every rank's SIGTERM ends the job at once (mpirun's own SIGTERM handling takes longer after the stops).
        for pid in pids.values { kill(pid, SIGTERM) }
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(100_000) }
        if !process.isRunning {
            stderr += String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        }
        #expect(!stderr.contains("has not responded"), "\(stderr)")
    }
}

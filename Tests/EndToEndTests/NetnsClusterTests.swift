import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// GLMCluster across nodes that reach each other only over TCP: `scripts/netns-cluster.sh` makes each node a
/// network namespace on a bridge, with its own address and host name, and Open MPI launches one rank per node by
/// host name through a launch agent (no shared memory between ranks, `--mca btl tcp,self`). Tensor parallelism
/// across the nodes gives the official code's logits and tokens, as on one host. Needs root (CI runs as root);
/// serialized, since every run creates and removes the same nodes.
@Suite(.serialized) struct NetnsClusterTests {
    /// Whether this process may create network namespaces.
    static let available: Bool = {
        guard getuid() == 0 else { return false }
        let probe = try? CommandRunner.run("/bin/sh", ["-c", "command -v ip && command -v unshare && ip netns list"])
        return probe?.status == 0
    }()

    /// The host names the ranks see are the nodes', and every node was removed afterwards.
    @Test(.enabled(if: available, "needs root and iproute2")) func ranksRunOnNamedNodesAndTheNodesGo() throws {
        let script = CommandRunner.packageRoot.appendingPathComponent("scripts/netns-cluster.sh").path
        let result = try CommandRunner.run(
            "/bin/bash", [script, "run", "3", "--", "/bin/sh", "-c", "hostname; ip -4 -o addr show eth0"], timeout: 120)
        try #require(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(Set(lines.filter { $0.hasPrefix("node") }) == ["node1", "node2", "node3"], "\(result.stdout)")
        #expect(lines.filter { $0.contains("inet 10.77.0.1") }.count == 3, "\(result.stdout)")
        let left = try CommandRunner.run("/bin/sh", ["-c", "ip netns list; grep -c netns-cluster /etc/hosts || true"])
        #expect(!left.stdout.contains("glmc-node"), "namespaces left behind: \(left.stdout)")
        #expect(left.stdout.split(separator: "\n").last == "0", "/etc/hosts entries left behind")
    }

    /// With the model on node1 only (the other nodes see an empty directory there, as without a shared
    /// filesystem), `--weights-from coordinator` gives the official vectors at TP 2 as shared loading does, and
    /// shared loading fails on rank 1, naming the rank and the file.
    @Test(.enabled(if: available, "needs root and iproute2")) func coordinatorLoadingNeedsTheModelOnNode1Only() throws {
        let fixture = try #require(ChatGLM2FamilyTests.fixtures["glm4"])
        let scratch = try CommandRunner.temporaryDirectory("netns-private")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let model = scratch.appendingPathComponent("model")
        try FileManager.default.copyItem(at: fixture.directory, to: model)
        try ChatGLM2FamilyTests.checkEveryCase("glm4", tp: 2, model: model) { ranks, arguments in
            try CommandRunner.netnsCluster(
                ranks, arguments + ["--weights-from", "coordinator"], privateDirectory: model.path)
        }
        let shared = try CommandRunner.netnsCluster(
            2, ["generate", "--model", model.path, "--prompt", "hello", "--max-new-tokens", "2", "--greedy"],
            privateDirectory: model.path)
        #expect(shared.status != 0)
        // node2 sees an empty directory where the model is.
        let named = "rank 1: cannot read configuration \(model.path)/config.json: no such file"
        #expect(shared.stderr.contains(named), "\(shared.stderr)")
    }

    /// GLM-4's official vectors (prefill and 16 decode steps' logits within 1e-4, the official tokens) at TP 2 and
    /// 4 across nodes, the links shaped to 1 Gbit/s.
    @Test(.enabled(if: available, "needs root and iproute2"), arguments: [2, 4])
    func glm4AcrossNodesMatchesTheOfficialCode(nodes: Int) throws {
        try ChatGLM2FamilyTests.checkEveryCase("glm4", tp: nodes) { ranks, arguments in
            try CommandRunner.netnsCluster(ranks, arguments, rate: "1gbit")
        }
    }

    /// `--weight-cache`: with the model on node1 only, the first start sends rank 1 its part and rank 1 keeps it;
    /// the second reads it there and receives nothing, with the same logits bit for bit (and the official ones);
    /// a damaged cache file is named, not used, received again and rewritten.
    @Test(.enabled(if: available, "needs root and iproute2")) func aWeightCacheSparesTheSecondStartTheStream() throws {
        let scratch = try CommandRunner.temporaryDirectory("netns-weight-cache")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let model = scratch.appendingPathComponent("model")
        try FileManager.default.copyItem(at: Fixture.mp2Directory, to: model)
        let cache = scratch.appendingPathComponent("cache")
        let testCase = try #require(Fixture.cases.first { $0.name == "long_gmask" })
        func start(_ name: String) throws -> (stderr: String, logits: [Float]) {
            let out = scratch.appendingPathComponent("\(name).f32").path
            let run = try CommandRunner.netnsCluster(
                2,
                [
                    "logits", "--model", model.path, "--ids", testCase.inputIds.map(String.init).joined(separator: ","),
                    "--out", out, "--threads", "1", "--weights-from", "coordinator", "--weight-cache", cache.path,
                ], privateDirectory: model.path)
            try #require(run.status == 0, "\(name): \(run.stderr)")
            return (run.stderr, try CommandRunner.readFloats(out))
        }
        let first = try start("first")
        #expect(!first.stderr.contains("weight cache"), "\(first.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: cache.path)
        #expect(files.count == 1 && files[0].hasSuffix("-tp2-rank1.bin"), "\(files)")
        #expect(maxAbsDifference(first.logits, Fixture.referenceLogits(testCase)) < 4e-3)

        let second = try start("second")
        #expect(second.stderr.contains("rank 1: weights read from the weight cache \(cache.path)/"), "\(second.stderr)")
        #expect(second.logits == first.logits)

        // One flipped byte in the weights.
        let file = cache.appendingPathComponent(files[0])
        var bytes = [UInt8](try Data(contentsOf: file))
        bytes[bytes.count - 100] ^= 0x40
        try Data(bytes).write(to: file)
        let damaged = try start("damaged")
        #expect(
            damaged.stderr.contains("Warning: rank 1: weight cache \(file.path): checksum mismatch"),
            "\(damaged.stderr)")
        #expect(!damaged.stderr.contains("weights read from the weight cache"))
        #expect(damaged.logits == first.logits)
        let rewritten = try start("rewritten")
        #expect(rewritten.stderr.contains("weights read from the weight cache"), "\(rewritten.stderr)")
        #expect(rewritten.logits == first.logits)
    }

    /// GLM-130B's official vectors across nodes: the last position's logits of every case within the bound
    /// OfficialVectorsTests holds on one rank (4e-3), from the MP=2 checkpoint at TP 2 and 4, and a batch job
    /// over every case's raw text writing the official greedy tokens.
    @Test(.enabled(if: available, "needs root and iproute2"), arguments: [2, 4])
    func glm130BAcrossNodesMatchesTheOfficialCode(nodes: Int) throws {
        let scratch = try CommandRunner.temporaryDirectory("netns-glm130b")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let model = Fixture.mp2Directory.path
        try OfficialCaseRuns.checkLogits(tp: nodes, model: model, bound: 4e-3, in: scratch) {
            try CommandRunner.netnsCluster($0, $1)
        }
        let input = try OfficialCaseRuns.batchInput(in: scratch, padding: [])
        let output = scratch.appendingPathComponent("out.jsonl").path
        let batch = try CommandRunner.netnsCluster(
            nodes, ["batch", "--model", model, "--input", input, "--output", output, "--threads", "1"])
        try #require(batch.status == 0, "\(batch.stderr)")
        try OfficialCaseRuns.expectOfficialTokens(output, lines: Fixture.cases.count)
    }

    /// A batch job across two nodes killed whole (SIGKILL to mpirun, its daemons and every rank, as when an
    /// allocation ends) twice mid-way, then rerun: every line is written once and every case has the official tokens.
    @Test(.enabled(if: available, "needs root and iproute2")) func aBatchAcrossNodesResumesAfterTheJobIsKilled() throws
    {
        let scratch = try CommandRunner.temporaryDirectory("netns-resume")
        defer { try? FileManager.default.removeItem(at: scratch) }
        // Two long requests after the 3rd and the 8th case: the kills land while they run.
        let input = try OfficialCaseRuns.batchInput(in: scratch, padding: [3, 8])
        let output = scratch.appendingPathComponent("out.jsonl").path
        let arguments = [
            "batch", "--model", Fixture.mp2Directory.path, "--input", input, "--output", output, "--threads", "1",
            "--max-batch", "1", "--quiet",
        ]
        for killAfter in [3, 9] {
            let job = try NetnsJob(nodes: 2, arguments: arguments)
            let deadline = Date().addingTimeInterval(120)
            while job.process.isRunning && Date() < deadline {
                let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
                if text.filter({ $0 == "\n" }).count >= killAfter { break }
                usleep(5_000)
            }
            try #require(job.process.isRunning, "the job ended before the kill: \(job.stderr())")
            job.killWhole()
            let written = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").count
            #expect(written >= killAfter && written < Fixture.cases.count + 2, "killed after \(written) lines")
        }
        let finish = try CommandRunner.netnsCluster(2, arguments)
        try #require(finish.status == 0, "\(finish.stderr)")
        try OfficialCaseRuns.expectOfficialTokens(output, lines: Fixture.cases.count + 2)
    }

    /// A node whose link goes down, and a node whose rank freezes (SIGSTOP), are named within --peer-timeout plus
    /// the watchdog's reporting delay; every rank process ends, and the job exits non-zero once mpirun's TCP gives
    /// up on the lost node's daemon (the harness's launch node allows about 12 s).
    @Test(.enabled(if: available, "needs root and iproute2"), arguments: ["link down", "frozen"])
    func aLostNodeIsNamedAndTheJobEnds(failure: String) throws {
        let timeout = 3.0
        let job = try NetnsJob(nodes: 2, arguments: HungRankTests.longBenchmark + ["--peer-timeout", "\(timeout)"])
        defer { job.killWhole() }
        let pids = try job.rankPids(2)
        Thread.sleep(forTimeInterval: 2)  // into the benchmark
        if failure == "link down" {
            let down = try CommandRunner.run("/bin/sh", ["-c", "ip link set glmcveth2 down"])
            try #require(down.status == 0, "\(down.stderr)")
        } else {
            kill(try #require(pids[1]), SIGSTOP)
        }
        let failed = Date()
        let named = "rank 1 (host node2) has not responded"
        while !job.stderr().contains(named) && Date().timeIntervalSince(failed) < timeout + 15 { usleep(100_000) }
        let detection = Date().timeIntervalSince(failed)
        #expect(job.stderr().contains(named), "\(job.stderr())")
        #expect(detection < timeout + 3, "named \(detection) s after the failure")
        // Every rank ends, on the lost node too (its own MPI_Abort cannot reach mpirun: the abort bound ends it).
        while pids.values.contains(where: { kill($0, 0) == 0 }) && Date().timeIntervalSince(failed) < timeout + 20 {
            usleep(100_000)
        }
        let living = pids.filter { kill($0.value, 0) == 0 }.keys.sorted()
        #expect(living.isEmpty, "ranks still running: \(living)")
        while job.process.isRunning && Date().timeIntervalSince(failed) < timeout + 40 { usleep(100_000) }
        #expect(!job.process.isRunning, "mpirun still running \(Date().timeIntervalSince(failed)) s after")
        if !job.process.isRunning { #expect(job.process.terminationStatus != 0) }
    }
}

/// A job on the namespace cluster that runs while the test acts on it. Foundation starts it as a process group of
/// its own (the harness and mpirun); the daemons and ranks, in groups of their own on the nodes, end with the nodes.
final class NetnsJob: @unchecked Sendable {
    let process = Process()
    private let errors = Pipe()
    private let collected = NSLock()
    private var text = ""

    init(nodes: Int, arguments: [String]) throws {
        let script = CommandRunner.packageRoot.appendingPathComponent("scripts/netns-cluster.sh").path
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script, "run", "\(nodes)", "--", CommandRunner.glmcluster] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        errors.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let chunk = handle.availableData
            guard let self, !chunk.isEmpty else { return }
            self.collected.withLock { self.text += String(decoding: chunk, as: UTF8.self) }
        }
        try process.run()
    }

    /// What the job wrote to stderr so far.
    func stderr() -> String { collected.withLock { text } }

    /// Each rank's pid, from the start-up lines ("[rank R/N host] pid P, ..."), once all `ranks` have started.
    func rankPids(_ ranks: Int) throws -> [Int: Int32] {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let pids = CommandRunner.rankPids(in: stderr())
            if pids.count == ranks { return pids }
            usleep(50_000)
        }
        throw CocoaError(.executableLoad, userInfo: [NSDebugDescriptionErrorKey: "ranks did not start: \(stderr())"])
    }

    /// SIGKILL to the harness and mpirun, then the harness's teardown (which the kill skipped) kills what still runs
    /// in the nodes and removes them: the whole job ends at once, as when an allocation is revoked.
    func killWhole() {
        if process.isRunning { kill(-process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        let script = CommandRunner.packageRoot.appendingPathComponent("scripts/netns-cluster.sh").path
        _ = try? CommandRunner.run("/bin/bash", [script, "down"])
    }
}

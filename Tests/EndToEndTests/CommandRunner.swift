import Foundation

/// Runs the built `glmcluster` binary and other programs, capturing exit status and output.
enum CommandRunner {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The `glmcluster` binary beside the test bundle (same build configuration), or `GLMCLUSTER_BINARY`.
    static let glmcluster: String = {
        if let path = ProcessInfo.processInfo.environment["GLMCLUSTER_BINARY"] { return path }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("glmcluster").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        return packageRoot.appendingPathComponent(".build/debug/glmcluster").path
    }()

    /// Runs `executable` with this process's environment, or with `environment` in its place.
    static func run(
        _ executable: String, _ arguments: [String], timeout: TimeInterval = 600, environment: [String: String]? = nil
    ) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Drain both pipes concurrently so a chatty child never blocks on a full pipe.
        nonisolated(unsafe) var outData = Data()
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            outData = out.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        if group.wait(timeout: .now() + timeout) == .timedOut {
            process.terminate()
        }
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }

    static func glm(_ arguments: [String]) throws -> Result { try run(glmcluster, arguments) }

    static func python(_ arguments: [String]) throws -> Result { try run("/usr/bin/env", ["python3"] + arguments) }

    static var referenceScript: String { packageRoot.appendingPathComponent("Tests/Reference/glm_reference.py").path }

    static func temporaryDirectory(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "glmcluster-tests-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A directory for fixtures shared by a suite's tests (a `static let`), removed when the test process exits:
    /// suites have no teardown, and each run otherwise left ~30 MB of models in the temporary directory.
    static func processLifetimeDirectory(_ name: String) throws -> URL {
        let url = try temporaryDirectory(name)
        ProcessExitCleanup.removeAtExit(url.path)
        return url
    }

    /// Each rank's pid from its start-up line on stderr ("[rank R/N host] pid P, ...").
    static func rankPids(in stderr: String) -> [Int: Int32] {
        var pids: [Int: Int32] = [:]
        for match in stderr.matches(of: /\[rank (\d+)\/\d+ [^\]]*\] pid (\d+)/) {
            pids[Int(match.output.1)!] = Int32(match.output.2)!
        }
        return pids
    }

    static func readFloats(_ path: String) throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return data.withUnsafeBytes { raw in
            (0..<(data.count / 4)).map {
                Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))
            }
        }
    }
}

extension CommandRunner {
    /// `glmcluster` on `nodes` nodes of a cluster of network namespaces on this machine
    /// (`scripts/netns-cluster.sh run`: one rank per node, every byte between ranks over TCP, the nodes removed
    /// afterwards), each node's link shaped to `rate` (a tc rate such as "1gbit") when given, and `privateDirectory`
    /// visible on node1 only (`GLM_NETNS_PRIVATE`: an empty tmpfs over it on the other nodes).
    static func netnsCluster(
        _ nodes: Int, _ arguments: [String], rate: String? = nil, privateDirectory: String? = nil,
        timeout: TimeInterval = 300
    ) throws -> Result {
        let script = packageRoot.appendingPathComponent("scripts/netns-cluster.sh").path
        let shaping = rate.map { ["--rate", $0] } ?? []
        var environment = ProcessInfo.processInfo.environment
        environment["GLM_NETNS_PRIVATE"] = privateDirectory
        return try run(
            "/bin/bash", [script, "run", "\(nodes)"] + shaping + ["--", glmcluster] + arguments, timeout: timeout,
            environment: environment)
    }

    /// `glmcluster` under `mpirun -np ranks`, allowed to run as root and oversubscribe (CI has 2 cores);
    /// `mpirunOptions` go before the binary, `environment` replaces the inherited one.
    static func mpirun(
        _ ranks: Int, _ arguments: [String], timeout: TimeInterval = 300, mpirunOptions: [String] = [],
        environment: [String: String]? = nil
    ) throws -> Result {
        try run(
            "/usr/bin/env",
            [
                "mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none",
                "--hostfile", packageRoot.appendingPathComponent("hostfiles/localhost").path, "-np", "\(ranks)",
            ] + mpirunOptions + [glmcluster] + arguments, timeout: timeout, environment: environment)
    }
}

/// Paths to delete at process exit (`atexit`), for fixtures that live as long as the test process.
enum ProcessExitCleanup {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var paths: [String] = []
    private static let registered: Void = { atexit { ProcessExitCleanup.removeAll() } }()

    static func removeAtExit(_ path: String) {
        _ = registered
        lock.withLock { paths.append(path) }
    }

    private static func removeAll() {
        for path in lock.withLock({ paths }) { try? FileManager.default.removeItem(atPath: path) }
    }
}

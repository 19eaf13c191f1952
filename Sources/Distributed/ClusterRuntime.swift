import Basics
import Communication
import Configuration
import Coordination
import FoundationEssentials
import Glibc
import Tensors

/// Why a multi-rank job stops. Only the coordinator's errors carry the whole story; the other ranks stop with
/// `stoppedByCoordinator` and print nothing, so the user reads one clear message.
public enum ClusterError: Error, CustomStringConvertible, Equatable {
    case worldSizeMismatch(requested: Int, worldSize: Int)
    /// Errors raised on some ranks during a phase, by rank.
    case failedOnRanks(phase: String, errors: [Int: String])
    /// Ranks disagree about something that must be identical everywhere (configuration, checkpoint).
    case mismatch(what: String, fingerprints: [Int: String])
    /// Ranks were started with different subcommands or settings (an MPMD launch whose parts differ).
    case differentJobs([Int: String])
    case stoppedByCoordinator

    public var description: String {
        switch self {
        case .worldSizeMismatch(let requested, let worldSize):
            return "--tp \(requested) needs \(requested) MPI ranks but the job has \(worldSize); "
                + "start it with `mpirun -np \(requested)` or pass --tp \(worldSize)"
        case .failedOnRanks(let phase, let errors):
            let lines = errors.keys.sorted().map { "  rank \($0): \(errors[$0]!)" }
            return "\(phase) failed on \(errors.count == 1 ? "rank" : "ranks") "
                + errors.keys.sorted().map(String.init).joined(separator: ", ") + ":\n" + lines.joined(separator: "\n")
        case .mismatch(let what, let fingerprints):
            var groups: [String: [Int]] = [:]
            for (rank, fingerprint) in fingerprints { groups[fingerprint, default: []].append(rank) }
            let described = groups.sorted { $0.value.min()! < $1.value.min()! }.map {
                "ranks \($0.value.sorted().map(String.init).joined(separator: ",")) see \($0.key)"
            }
            return "the ranks do not see the same \(what): " + described.joined(separator: "; ")
                + ". Every rank must read the same files (check the shared filesystem or use --weights-from coordinator)"
        case .differentJobs(let jobs):
            var groups: [String: [Int]] = [:]
            for (rank, job) in jobs { groups[job, default: []].append(rank) }
            let described = groups.sorted { $0.value.min()! < $1.value.min()! }.map {
                "ranks \($0.value.sorted().map(String.init).joined(separator: ",")) run \($0.key)"
            }
            return "the ranks were started with different commands or settings: " + described.joined(separator: "; ")
                + ". Every rank must run the same subcommand with the same settings"
        case .stoppedByCoordinator:
            return "stopped: another rank failed (rank 0 reports the error)"
        }
    }
}

/// An error that only repeats what another rank reported (for example "rank 0 failed: ..."); `agree` reports
/// the original instead.
public protocol EchoedFailure: Error {
    var isEcho: Bool { get }
}

/// One rank's view of the tensor-parallel job: fail-fast agreement between ranks, start-up logs, resources.
///
/// Every fallible phase runs inside `agree`, which every rank reaches whether or not its own part failed; so an
/// error on any rank ends the job on every rank within the time of that phase, never in a hang.
public final class ClusterRuntime: @unchecked Sendable {
    public let group: TensorParallelGroup
    public let threads: Int

    /// Checks the world size against `requestedTP` (nil: use the world size), pins compute threads and, on more than
    /// one rank, starts watching the other ranks (`PeerWatchdog`; a `peerTimeout` of 0 watches nothing).
    public init(
        requestedTP: Int?, threads requestedThreads: Int?, peerTimeout: Double = ClusterSettings.defaultPeerTimeout,
        communicator: Communicator = .world
    ) throws {
        group = TensorParallelGroup(communicator: communicator)
        // Every rank checks its own --tp, and all of them learn the first that does not fit, so that ranks started
        // with different values all stop (a rank that stopped alone would leave the others waiting).
        let size = communicator.size
        let coordinator = Coordinator(channel: group)
        let wrongTP = coordinator.decide(report: requestedTP.map { $0 == size ? 0 : $0 } ?? 0) { $0.first { $0 != 0 } }
        if let wrongTP { throw ClusterError.worldSizeMismatch(requested: wrongTP, worldSize: size) }
        threads = max(1, requestedThreads ?? ProcessResources.allowedCPUCount ?? 1)
        BLAS.threadCount = threads
        ComputeThreads.count = threads
        // Rank 0's --peer-timeout holds for the job: a rank that watched while another did not would take the
        // silent one for lost.
        let timeout = size > 1 ? coordinator.share { peerTimeout } : peerTimeout
        if size > 1 && timeout > 0 {
            let hosts = coordinator.decide(report: communicator.processorName) { $0 }
            let pids = coordinator.decide(report: Int(getpid())) { $0 }
            PeerWatchdog.start(
                world: communicator, hosts: hosts, pids: pids.map { Int32(clamping: $0) }, timeout: timeout)
        }
    }

    /// Records what this rank is doing, for the message that names a rank which stopped responding.
    public func setPhase(_ phase: String) { PeerWatchdog.setPhase(phase) }

    /// Rank 0's decisions for the whole job go through this (`share`, `decide`, `collect`).
    public var coordinator: Coordinator { Coordinator(channel: group) }

    public var rank: Int { group.rank }
    public var size: Int { group.size }
    public var isCoordinator: Bool { group.isCoordinator }
    public var communicator: Communicator { group.communicator }

    /// Writes one line to stderr, prefixed with the rank and host.
    public func log(_ message: String) {
        StandardError.writeLine("[rank \(rank)/\(size) \(communicator.processorName)] \(message)")
    }

    /// The start-up line: host, threads and CPU binding of this rank.
    public func logStartup() {
        log(
            "pid \(getpid()), \(threads) compute threads, CPUs \(ProcessResources.allowedCPUList ?? "unknown"), "
                + "vector units \(CPUFeatures.summary), OpenBLAS kernels \(BLAS.kernelName)")
    }

    /// Runs `body` on every rank, then agrees: if it threw anywhere, rank 0 throws `failedOnRanks` naming every
    /// failing rank and its error, and the other ranks throw `stoppedByCoordinator`.
    /// Errors that merely echo another rank's failure (`EchoedFailure`) are left out of the report unless nothing
    /// else failed.
    public func agree<T>(_ phase: String, _ body: () throws -> T) throws -> T {
        setPhase(phase)
        let outcome = Result { try body() }
        if size == 1, case .failure(let error) = outcome { throw error }  // a single rank reports its own error
        var report = PhaseReport()
        if case .failure(let error) = outcome {
            report.failure = "\(error)"
            report.isEcho = (error as? EchoedFailure)?.isEcho ?? false
        }
        let failures = coordinator.decide(report: report) { reports -> [RankFailure] in
            let failed = reports.enumerated().filter { $1.failure != nil }
            let primary = failed.filter { !$1.isEcho }
            return (primary.isEmpty ? failed : primary).map { RankFailure(rank: $0, message: $1.failure!) }
        }
        guard failures.isEmpty else {
            guard isCoordinator else { throw ClusterError.stoppedByCoordinator }
            throw ClusterError.failedOnRanks(
                phase: phase, errors: Dictionary(uniqueKeysWithValues: failures.map { ($0.rank, $0.message) }))
        }
        return try outcome.get()
    }

    /// The tag of `waitForCoordinator`'s release messages.
    private static let releaseTag = 7132

    /// Lets every other rank wait for rank 0 without spinning, for waits that can last minutes (a person typing):
    /// a collective would hold a core of every rank at 100% while it waits. Rank 0 runs `body` (reading the
    /// terminal), then releases the others, even when `body` throws; the others sleep in 2 ms steps until it does.
    /// Follow it with a collective (`share`) that carries what rank 0 decided.
    public func waitForCoordinator<T>(_ phase: String, _ body: () throws -> T) rethrows -> T? {
        setPhase(phase)
        guard size > 1 else { return try body() }
        if isCoordinator {
            defer {
                let releases = (1..<size).map { communicator.startSend([1], to: $0, tag: Self.releaseTag) }
                for release in releases { while !release.isComplete() { usleep(100) } }
            }
            return try body()
        }
        let release = communicator.startReceive(from: 0, tag: Self.releaseTag, capacity: 1)
        while !release.isComplete() { usleep(2000) }
        return nil
    }

    /// Runs `build` on rank 0 only, agrees on its outcome as `agree` does, and gives every rank rank 0's value.
    public func share<Value: WireMessage>(_ phase: String, _ build: () throws -> Value) throws -> Value {
        let built = try agree(phase) { isCoordinator ? try build() : nil }
        return coordinator.share { built! }
    }

    /// The model configuration on every rank: read by each rank (`load`) and compared by fingerprint, or with
    /// `fromCoordinator` read by rank 0 alone and sent to the others; then checked to split evenly over the ranks.
    /// `source` names where it came from in the divisibility error.
    public func configuration(
        fromCoordinator: Bool, source: String, _ load: () throws -> ModelConfiguration
    ) throws -> ModelConfiguration {
        let configuration: ModelConfiguration
        if fromCoordinator {
            configuration = try share("reading the configuration", load)
        } else {
            configuration = try agree("reading the configuration", load)
            try checkSame("configuration", fingerprint: fingerprint(configuration.wireBytes()))
        }
        try agree("checking the tensor-parallel degree") {
            try configuration.checkDivisible(by: size, degreeName: "tensor-parallel degree", source: source)
        }
        return configuration
    }

    /// Checks that every rank computed the same `fingerprint` of `what` (e.g. the configuration).
    public func checkSame(_ what: String, fingerprint: String) throws {
        if let differing = try differing(fingerprint) {
            throw ClusterError.mismatch(what: what, fingerprints: differing)
        }
    }

    /// Checks that every rank runs the same job: `description` names the subcommand and every setting that changes
    /// what the ranks compute together. Run first, so that ranks started differently stop before they diverge.
    public func checkSameJob(_ description: String) throws {
        if let differing = try differing(description) { throw ClusterError.differentJobs(differing) }
    }

    /// Every rank's value by rank when they differ (on rank 0; other ranks throw `stoppedByCoordinator`), nil when
    /// every rank has the same.
    private func differing(_ value: String) throws -> [Int: String]? {
        guard size > 1 else { return nil }
        let all = coordinator.decide(report: value) { all -> [String] in Set(all).count > 1 ? all : [] }
        guard !all.isEmpty else { return nil }
        guard isCoordinator else { throw ClusterError.stoppedByCoordinator }
        return Dictionary(uniqueKeysWithValues: all.enumerated().map { ($0, $1) })
    }

    /// Every rank's resource report, gathered on the coordinator (empty elsewhere).
    public func gatherReports(weightBytes: Int, cacheBytes: Int) -> [RankResources] {
        let mine = RankResources(
            rank: rank, host: communicator.processorName, threads: threads,
            peakResidentBytes: ProcessResources.peakResidentBytes ?? 0, weightBytes: weightBytes,
            cacheBytes: cacheBytes,
            blasKernels: BLAS.kernelName)
        log(mine.summary)
        return coordinator.collect(report: mine) ?? []
    }
}

/// What one rank reports at the end of an agreed phase: nothing, or its error.
struct PhaseReport: Codable, WireMessage {
    var failure: String?
    var isEcho = false
}

/// A rank's error, in rank 0's decision that a phase failed.
struct RankFailure: Codable, WireMessage {
    var rank: Int
    var message: String
}

/// One rank's memory use after a command: peak RSS against what it must hold.
public struct RankResources: Codable, Sendable, Equatable, WireMessage {
    public var rank: Int
    public var host: String
    public var threads: Int
    public var peakResidentBytes: Int
    public var weightBytes: Int
    public var cacheBytes: Int
    /// OpenBLAS's kernel set on this rank (`BLAS.kernelName`): sgemm speed differs 5x between them.
    public var blasKernels: String

    public init(
        rank: Int, host: String, threads: Int, peakResidentBytes: Int, weightBytes: Int, cacheBytes: Int,
        blasKernels: String
    ) {
        self.rank = rank
        self.host = host
        self.threads = threads
        self.peakResidentBytes = peakResidentBytes
        self.weightBytes = weightBytes
        self.cacheBytes = cacheBytes
        self.blasKernels = blasKernels
    }

    enum CodingKeys: String, CodingKey {
        case rank, host, threads
        case peakResidentBytes = "peak_rss_bytes"
        case weightBytes = "weight_bytes"
        case cacheBytes = "kv_cache_bytes"
        case blasKernels = "blas_kernels"
    }

    public var summary: String {
        func mib(_ bytes: Int) -> String { String(printf: "%.1f MiB", Double(bytes) / 1_048_576) }
        return
            "peak RSS \(mib(peakResidentBytes)) for \(mib(weightBytes)) of weights and \(mib(cacheBytes)) of KV cache"
    }
}

/// A short stable hash (FNV-1a, 64 bits) for comparing what ranks see.
public func fingerprint(_ bytes: some Sequence<UInt8>) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
        hash ^= UInt64(byte)
        hash &*= 0x100_0000_01b3
    }
    return String(hash, radix: 16)
}

import Basics
import Checkpoint
import Communication
import Configuration
import Coordination
import FoundationEssentials
import GLM
import ModelLoading
import Partitioning

/// Loading for clusters whose workers cannot see the checkpoint (`--weights-from coordinator`): rank 0 alone reads
/// it and sends every other rank its tensor-parallel part over MPI.
///
/// Protocol (point to point from rank 0, tag `WeightDistribution.tag`): for each `WeightSpec` in checkpoint order,
/// rank 0 reads partition r of N for each rank r and sends rank r a wire-encoded header (key and shape, or an error
/// message) followed, when the header is not an error, by the fp16 values as raw bytes in the ranks' shared
/// native byte order. Rank 0 reads, sends and drops one partition at a time, so beyond its own weights it holds
/// at most one partition of one tensor (and its byte copy for sending).
///
/// Failures never leave a rank waiting:
/// - Before any tensor, all ranks compare configuration and partition (a collective); any disagreement fails
///   every rank with the same message.
/// - When rank 0 cannot read a tensor, every other rank gets an error header as its next message and throws
///   `WeightDistributionError.coordinatorFailed` with rank 0's message; rank 0 rethrows its own error.
/// - A rank that receives a tensor of the wrong key or shape keeps receiving (so rank 0 never blocks on it) and
///   reports at the end, in a collective that makes every rank throw `.rankFailed` naming it.
/// - Every rank, those that read their parts from a weight cache included, ends in that collective, so a failure
///   anywhere ends loading on every rank.
public enum WeightDistribution {
    /// MPI tag of every message of the weight stream.
    public static let tag = 7130

    /// This rank's part of every weight: read from `checkpoint` on rank 0, received from rank 0 elsewhere.
    ///
    /// Collective over `communicator`: every rank must call it with the same configuration and
    /// `partition == Partition(index: rank, count: size)`; `checkpoint` is used on rank 0 only (nil elsewhere).
    ///
    /// With `cacheDirectory` (`--weight-cache`, the same on every rank), a rank whose cache holds its parts for this
    /// checkpoint and layout reads them there and is sent nothing; the others receive theirs and keep them there.
    public static func receiveWeights(
        configuration: ModelConfiguration, partition: Partition, communicator: Communicator,
        checkpoint: (any WeightStore)?, cacheDirectory: String? = nil
    ) throws -> GLMWeights {
        try checkAgreement(
            configuration: configuration, partition: partition, communicator: communicator,
            hasCheckpoint: checkpoint != nil)
        let specs = WeightSpec.all(for: configuration)
        var parts: [String: HalfTensor] = [:]
        parts.reserveCapacity(specs.count)
        let cache = cacheDirectory.map { WeightCache(directory: $0) }
        // The checkpoint as rank 0 sees it (its files' names, sizes and digests, and the configuration): what a
        // cached part must have come from. nil when rank 0 cannot tell: nothing is cached then.
        let checkpointFingerprint: String? =
            cache == nil
            ? nil
            : coordinator(communicator).share {
                (try? checkpoint?.fingerprint()).flatMap { $0 }.map { $0 + "; " + configuration.identity }
            }
        if communicator.rank != 0, let cache, let checkpointFingerprint {
            let (cached, problem) = cache.load(fingerprint: checkpointFingerprint, partition: partition, specs: specs)
            if let problem {
                StandardError.writeLine("Warning: rank \(communicator.rank): \(problem); receiving from rank 0")
            }
            if let cached {
                parts = cached
                StandardError.writeLine(
                    "rank \(communicator.rank): weights read from the weight cache "
                        + cache.url(fingerprint: checkpointFingerprint, partition: partition).path)
            }
        }
        // Every rank learns which ranks need the stream.
        let receivers = coordinator(communicator).decide(report: parts.isEmpty) { needs in
            needs.indices.filter { $0 > 0 && needs[$0] }
        }
        // Every rank reaches the closing collective, whatever failed where, so that ranks that read their cache
        // leave together with the others.
        var failure: Error?
        if communicator.rank == 0 {
            // checkAgreement guarantees a checkpoint here.
            do {
                try sendAll(specs, from: checkpoint!, to: receivers, communicator: communicator, keeping: &parts)
            } catch {
                failure = error
            }
        } else if receivers.contains(communicator.rank) {
            do {
                if let mismatch = try receiveAll(specs, partition: partition, communicator: communicator, into: &parts)
                {
                    failure = WeightDistributionError.rankFailed(rank: communicator.rank, message: mismatch)
                }
            } catch { failure = error }
        }
        let first = coordinator(communicator).decide(report: failure.map { String(describing: $0) }) { reports in
            reports.enumerated().first { $1 != nil }.map { RankFailure(rank: $0, message: $1!) }
        }
        if let failure { throw failure }
        if let first {
            throw first.rank == 0
                ? WeightDistributionError.coordinatorFailed(key: nil, message: first.message)
                : WeightDistributionError.rankFailed(rank: first.rank, message: first.message)
        }
        if receivers.contains(communicator.rank), let cache, let checkpointFingerprint,
            let problem = cache.store(parts, fingerprint: checkpointFingerprint, partition: partition, specs: specs)
        {
            StandardError.writeLine("Warning: rank \(communicator.rank): \(problem)")
        }
        return try assemble(configuration, &parts)
    }

    // MARK: - Rank 0

    private static func sendAll(
        _ specs: [WeightSpec], from checkpoint: any WeightStore, to receivers: [Int], communicator: Communicator,
        keeping parts: inout [String: HalfTensor]
    ) throws {
        let count = communicator.size
        for spec in specs {
            do {
                parts[spec.key] = try read(spec, checkpoint, Partition(index: 0, count: count))
                for rank in receivers {
                    let part = try read(spec, checkpoint, Partition(index: rank, count: count))
                    communicator.send(Header(key: spec.key, shape: part.shape).wireBytes(), to: rank, tag: tag)
                    communicator.send(part.values.withUnsafeBytes { Array($0) }, to: rank, tag: tag)
                }
            } catch {
                // Each other rank waits for exactly one message, the header of this tensor or of the next: an error
                // header as that message ends the stream everywhere.
                let header = Header(key: spec.key, error: String(describing: error)).wireBytes()
                for rank in receivers { communicator.send(header, to: rank, tag: tag) }
                throw error
            }
        }
    }

    private static func read(
        _ spec: WeightSpec, _ checkpoint: any WeightStore, _ partition: Partition
    ) throws -> HalfTensor {
        try checkpoint.tensor(spec.key, globalShape: spec.shape, layout: spec.layout, partition: partition)
    }

    // MARK: - Other ranks

    /// Receives every tensor of the stream; returns the first local problem (wrong key or shape), after draining
    /// the rest of the stream, or throws at once when rank 0 reports an error (the stream ends there).
    private static func receiveAll(
        _ specs: [WeightSpec], partition: Partition, communicator: Communicator,
        into parts: inout [String: HalfTensor]
    ) throws -> String? {
        var failure: String?
        for spec in specs {
            let header: Header
            do {
                header = try Header(wireBytes: communicator.receive(from: 0, tag: tag))
            } catch {
                // Without a readable header the stream cannot be followed any further.
                throw WeightDistributionError.protocolViolation(
                    rank: communicator.rank, detail: "unreadable header for '\(spec.key)': \(error)")
            }
            if let message = header.error {
                throw WeightDistributionError.coordinatorFailed(key: header.key, message: message)
            }
            let bytes = communicator.receive(from: 0, tag: tag)
            guard failure == nil else { continue }
            let expected = spec.shape(of: partition)
            let shape = header.shape ?? []
            let count = expected.reduce(1, *)
            if header.key != spec.key || shape != expected || bytes.count != count * MemoryLayout<Float16>.size {
                failure =
                    "expected tensor '\(spec.key)' with shape \(expected) (\(spec.layout), \(partition)), received "
                    + "'\(header.key)' with shape \(shape) and \(bytes.count) bytes"
                parts.removeAll()
                continue
            }
            let values = [Float16](unsafeUninitializedCapacity: count) { buffer, initialized in
                bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(buffer).copyMemory(from: $0) }
                initialized = count
            }
            parts[spec.key] = HalfTensor(shape: shape, values: values)
        }
        return failure
    }

    // MARK: - Collective checks

    /// What each rank brings, compared against rank 0's before the stream starts.
    private struct Setup: Codable, WireMessage {
        var configuration: ModelConfiguration
        var index: Int
        var count: Int
        var hasCheckpoint: Bool
    }

    private static func checkAgreement(
        configuration: ModelConfiguration, partition: Partition, communicator: Communicator, hasCheckpoint: Bool
    ) throws {
        let mine = Setup(
            configuration: configuration, index: partition.index, count: partition.count, hasCheckpoint: hasCheckpoint)
        let size = communicator.size
        let problems = coordinator(communicator).decide(report: mine) { all -> [String] in
            var problems: [String] = []
            if !all[0].hasCheckpoint { problems.append("rank 0 has no checkpoint to read") }
            for (rank, setup) in all.enumerated() {
                if setup.index != rank || setup.count != size {
                    problems.append(
                        "rank \(rank) asks for partition \(setup.index) of \(setup.count); it must be partition "
                            + "\(rank) of \(size) (one part per rank)")
                }
                if setup.configuration != all[0].configuration {
                    problems.append("rank \(rank)'s configuration differs from rank 0's")
                }
            }
            return problems
        }
        if !problems.isEmpty { throw WeightDistributionError.setupMismatch(problems) }
    }

    private static func coordinator(_ communicator: Communicator) -> Coordinator {
        Coordinator(channel: TensorParallelGroup(communicator: communicator))
    }

    private static func assemble(
        _ configuration: ModelConfiguration, _ parts: inout [String: HalfTensor]
    ) throws -> GLMWeights {
        try GLMWeights.assemble(configuration: configuration) { spec in
            // Taking the tensor out leaves one reference, so the weights do not copy it.
            guard let part = parts.removeValue(forKey: spec.key) else {
                throw WeightDistributionError.protocolViolation(
                    rank: -1, detail: "no tensor '\(spec.key)' was received")
            }
            return part
        }
    }

    // MARK: - Messages

    private struct Header: Codable, WireMessage {
        var key: String
        var shape: [Int]?
        var error: String?
    }
}

/// Why distributing the weights from rank 0 failed; every rank of the job throws one.
public enum WeightDistributionError: Error, CustomStringConvertible, Equatable {
    /// Rank 0 could not read or load something; `message` is its own error. `key` is the tensor, when there is one.
    case coordinatorFailed(key: String?, message: String)
    /// A rank received something other than what it expected (wrong key, shape or size).
    case rankFailed(rank: Int, message: String)
    /// Ranks disagree on the configuration or the partitioning before any weight is sent.
    case setupMismatch([String])
    /// A message that does not follow the protocol.
    case protocolViolation(rank: Int, detail: String)

    public var description: String {
        switch self {
        case .coordinatorFailed(let key, let message):
            if let key { return "rank 0 could not read tensor '\(key)' to distribute it: \(message)" }
            return "rank 0 failed: \(message)"
        case .rankFailed(let rank, let message):
            return "rank \(rank) could not use the weights rank 0 sent: \(message)"
        case .setupMismatch(let problems):
            return "cannot distribute weights from rank 0: " + problems.joined(separator: "; ")
        case .protocolViolation(let rank, let detail):
            return "weight distribution protocol error\(rank >= 0 ? " on rank \(rank)" : ""): \(detail)"
        }
    }
}

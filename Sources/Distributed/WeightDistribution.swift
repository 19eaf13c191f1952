import Checkpoint
import Communication
import Configuration
import FoundationEssentials
import GLM

/// Loading for clusters whose workers cannot see the checkpoint (`--weights-from coordinator`): rank 0 alone reads
/// it and sends every other rank its tensor-parallel part over MPI.
///
/// Protocol (point to point from rank 0, tag `WeightDistribution.tag`): for each `WeightSpec` in checkpoint order,
/// rank 0 reads partition r of N for each rank r and sends rank r a JSON header (key and shape, or an error
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
public enum WeightDistribution {
    /// MPI tag of every message of the weight stream and the configuration broadcast.
    public static let tag = 7130

    /// This rank's part of every weight: read from `checkpoint` on rank 0, received from rank 0 elsewhere.
    ///
    /// Collective over `communicator`: every rank must call it with the same configuration and
    /// `partition == Partition(index: rank, count: size)`; `checkpoint` is used on rank 0 only (nil elsewhere).
    public static func receiveWeights(
        configuration: ModelConfiguration, partition: Partition, communicator: Communicator,
        checkpoint: ShardedCheckpoint?
    ) throws -> GLMWeights {
        try checkAgreement(
            configuration: configuration, partition: partition, communicator: communicator,
            hasCheckpoint: checkpoint != nil)
        let specs = WeightSpec.all(for: configuration)
        var parts: [String: HalfTensor] = [:]
        parts.reserveCapacity(specs.count)
        if communicator.rank == 0 {
            // checkAgreement guarantees a checkpoint here.
            try sendAll(specs, from: checkpoint!, communicator: communicator, keeping: &parts)
        } else {
            let localFailure = try receiveAll(specs, partition: partition, communicator: communicator, into: &parts)
            if localFailure != nil { parts.removeAll() }
            try agreeOnSuccess(localFailure, communicator: communicator)
            return try assemble(configuration, &parts)
        }
        try agreeOnSuccess(nil, communicator: communicator)
        return try assemble(configuration, &parts)
    }

    /// Rank 0's configuration on every rank, so workers without config.json can build the model.
    ///
    /// Collective. `load` runs on rank 0 only (reading config.json or a preset); its result travels as JSON. When it
    /// throws, rank 0 rethrows and every other rank throws `.coordinatorFailed` with its message.
    public static func broadcastConfiguration(
        communicator: Communicator, load: () throws -> ModelConfiguration
    ) throws -> ModelConfiguration {
        if communicator.rank == 0 {
            let configuration: ModelConfiguration
            do { configuration = try load() } catch {
                _ = communicator.broadcast([1] + Array(String(describing: error).utf8))
                throw error
            }
            _ = communicator.broadcast([0] + Array(try JSONEncoder().encode(configuration)))
            return configuration
        }
        let bytes = communicator.broadcast([UInt8]())
        guard let status = bytes.first else {
            throw WeightDistributionError.protocolViolation(
                rank: communicator.rank, detail: "empty configuration message")
        }
        let body = Data(bytes.dropFirst())
        if status != 0 {
            throw WeightDistributionError.coordinatorFailed(key: nil, message: String(decoding: body, as: UTF8.self))
        }
        do {
            return try JSONDecoder().decode(ModelConfiguration.self, from: body)
        } catch {
            throw WeightDistributionError.protocolViolation(
                rank: communicator.rank, detail: "cannot decode rank 0's configuration: \(error)")
        }
    }

    /// The shape of `partition` of `spec` (the whole shape for replicated tensors), as `ShardedCheckpoint` returns it.
    public static func partitionShape(of spec: WeightSpec, _ partition: Partition) -> [Int] {
        guard spec.layout != .replicated, !spec.shape.isEmpty else { return spec.shape }
        var shape = spec.shape
        let dimension = spec.layout == .columns && shape.count >= 2 ? 1 : 0
        shape[dimension] /= partition.count
        return shape
    }

    // MARK: - Rank 0

    private static func sendAll(
        _ specs: [WeightSpec], from checkpoint: ShardedCheckpoint, communicator: Communicator,
        keeping parts: inout [String: HalfTensor]
    ) throws {
        let count = communicator.size
        for spec in specs {
            do {
                parts[spec.key] = try read(spec, checkpoint, Partition(index: 0, count: count))
                for rank in 1..<max(count, 1) {
                    let part = try read(spec, checkpoint, Partition(index: rank, count: count))
                    communicator.send(try encode(Header(key: spec.key, shape: part.shape)), to: rank, tag: tag)
                    communicator.send(part.values.withUnsafeBytes { Array($0) }, to: rank, tag: tag)
                }
            } catch {
                // Each other rank waits for exactly one message, the header of this tensor or of the next: an error
                // header as that message ends the stream everywhere.
                let header = try encode(Header(key: spec.key, error: String(describing: error)))
                for rank in 1..<max(count, 1) { communicator.send(header, to: rank, tag: tag) }
                throw error
            }
        }
    }

    private static func read(
        _ spec: WeightSpec, _ checkpoint: ShardedCheckpoint, _ partition: Partition
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
                header = try JSONDecoder().decode(Header.self, from: Data(communicator.receive(from: 0, tag: tag)))
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
            let expected = partitionShape(of: spec, partition)
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
    private struct Setup: Codable {
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
        let all = try communicator.allGather(encode(mine)).map { try JSONDecoder().decode(Setup.self, from: Data($0)) }
        var problems: [String] = []
        if !all[0].hasCheckpoint { problems.append("rank 0 has no checkpoint to read") }
        for (rank, setup) in all.enumerated() {
            if setup.index != rank || setup.count != communicator.size {
                problems.append(
                    "rank \(rank) asks for partition \(setup.index) of \(setup.count); it must be partition \(rank) "
                        + "of \(communicator.size) (one part per rank)")
            }
            if setup.configuration != all[0].configuration {
                problems.append("rank \(rank)'s configuration differs from rank 0's")
            }
        }
        if !problems.isEmpty { throw WeightDistributionError.setupMismatch(problems) }
    }

    /// Every rank throws when any rank's `failure` is non-nil, so all leave loading together.
    private static func agreeOnSuccess(_ failure: String?, communicator: Communicator) throws {
        let reports = communicator.allGather(Array((failure ?? "").utf8))
        for (rank, report) in reports.enumerated() where !report.isEmpty {
            throw WeightDistributionError.rankFailed(rank: rank, message: String(decoding: report, as: UTF8.self))
        }
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

    private struct Header: Codable {
        var key: String
        var shape: [Int]?
        var error: String?
    }

    private static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        Array(try JSONEncoder().encode(value))
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

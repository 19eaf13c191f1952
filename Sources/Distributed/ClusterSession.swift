import Checkpoint
import Configuration
import Coordination
import GLM
import ModelLoading
import Partitioning
import Tokenization

/// A model opened on every rank of the job: the one entry point every front-end uses. Opening runs phase by phase
/// with fail-fast agreement between ranks: the configuration (identical everywhere, read by each rank or sent by
/// rank 0), the tensor-parallel check, the tokenizer (coordinator only); `loadModel()` then loads this rank's
/// weight shard.
public final class ClusterSession: Sendable {
    public let runtime: ClusterRuntime
    public let source: ModelSource
    public let settings: ClusterSettings
    public let configuration: ModelConfiguration
    /// Only the coordinator tokenizes, detokenizes and prints.
    public let tokenizer: IcetkTokenizer?
    public let partition: Partition

    /// Checks the world size, opens the configuration and the tokenizer; the weights come with `loadModel()`.
    public init(model source: ModelSource, cluster settings: ClusterSettings) throws {
        let runtime = try ClusterRuntime(
            requestedTP: settings.tensorParallelDegree, threads: settings.threads, peerTimeout: settings.peerTimeout)
        if runtime.size > 1 { runtime.logStartup() }
        let quantization = source.quantization.map { ", --quantize \($0.rawValue)" } ?? ""
        try runtime.checkSameJob(settings.jobDescription.dropLast() + quantization + ")")
        self.runtime = runtime
        self.source = source
        self.settings = settings
        partition = Partition(index: runtime.rank, count: runtime.size)

        // Configuration: read by every rank from the shared filesystem, or by rank 0 and sent to the others.
        let configuration: ModelConfiguration
        if settings.weightSource == .coordinator {
            configuration = try runtime.share("reading the configuration") { try source.configuration() }
        } else {
            configuration = try runtime.agree("reading the configuration") { try source.configuration() }
            try runtime.checkSame("configuration", fingerprint: fingerprint(configuration.wireBytes()))
        }
        try runtime.agree("checking the tensor-parallel degree") {
            try configuration.checkDivisible(
                by: runtime.size, degreeName: "tensor-parallel degree", source: source.configurationSource)
        }
        self.configuration = configuration
        tokenizer = try runtime.agree("loading the tokenizer") {
            runtime.isCoordinator
                ? try IcetkTokenizer(configuration: configuration.tokenizer, directory: source.directory) : nil
        }
    }

    public var coordinator: Coordinator { runtime.coordinator }
    public var isCoordinator: Bool { runtime.isCoordinator }

    /// Loads this rank's weight shard and builds its part of the model.
    public func loadModel() throws -> GLMModel {
        let weights =
            settings.weightSource == .coordinator ? try weightsFromCoordinator() : try weightsFromSharedStorage()
        let model = GLMModel(
            configuration: configuration, weights: weights, partition: partition, reduction: runtime.group)
        model.precision = settings.precision
        model.cacheFormat = settings.kvCacheFormat
        return model
    }

    /// Rank 0 builds a value from its tokenizer (a prompt, the batch's requests) and every rank receives it; a
    /// failure on rank 0 stops every rank with rank 0's error.
    public func share<Value: WireMessage>(
        _ phase: String, _ build: (IcetkTokenizer) throws -> Value
    ) throws -> Value {
        let tokenizer = self.tokenizer
        return try runtime.share(phase) { try build(tokenizer!) }
    }

    /// Runs `body` on the coordinator only (reading input, tokenizing) and agrees on its outcome; nil elsewhere.
    public func onCoordinator<T>(_ phase: String, _ body: (IcetkTokenizer) throws -> T) throws -> T? {
        try runtime.agree(phase) { runtime.isCoordinator ? try body(tokenizer!) : nil }
    }

    private func weightsFromSharedStorage() throws -> GLMWeights {
        let checkpoint = try runtime.agree("opening the checkpoint") { try source.checkpoint() }
        try runtime.checkSame("checkpoint", fingerprint: ModelSource.fingerprint(of: checkpoint))
        return try runtime.agree("loading weights") {
            try source.weights(from: checkpoint, configuration: configuration, partition: partition)
        }
    }

    private func weightsFromCoordinator() throws -> GLMWeights {
        let source = self.source
        let runtime = self.runtime
        let checkpoint = try runtime.agree("opening the checkpoint") { () -> ShardedCheckpoint? in
            guard runtime.isCoordinator else { return nil }
            let checkpoint = try source.checkpoint()
            // The weight stream carries fp16 tensors only.
            if try ModelSource.isQuantized(checkpoint) {
                throw ModelDirectoryError(
                    description: "\(source.path) is an official quantized checkpoint (int8 weights with "
                        + "_scale tensors); --weights-from coordinator streams fp16 weights only: use "
                        + "--weights-from shared, or an fp16 checkpoint with --quantize")
            }
            return checkpoint
        }
        let received = try runtime.agree("loading weights from rank 0") {
            try WeightDistribution.receiveWeights(
                configuration: configuration, partition: partition, communicator: runtime.communicator,
                checkpoint: checkpoint)
        }
        // Each rank quantizes the local shard it received, as the official load-time quantize does.
        return try runtime.agree("quantizing weights") {
            try source.quantization.map { try received.quantized($0) } ?? received
        }
    }
}

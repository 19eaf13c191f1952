import Checkpoint
import Configuration
import Distributed
import FoundationEssentials
import GLM
import Tokenization

/// Everything a model command needs on this rank, opened phase by phase with fail-fast agreement between ranks:
/// the configuration (identical everywhere), the tokenizer (coordinator only) and this rank's weight shard.
struct ModelSession {
    let runtime: ClusterRuntime
    let configuration: ModelConfiguration
    /// Only the coordinator tokenizes, detokenizes and prints.
    let tokenizer: IcetkTokenizer?
    let partition: Partition

    /// Opens the configuration and tokenizer (and checks the world size); weights come with `loadModel()`.
    init(model options: ModelOptions, cluster: ClusterOptions) throws {
        runtime = try ClusterRuntime(requestedTP: cluster.tp, threads: cluster.threads)
        if runtime.size > 1 { runtime.logStartup() }
        partition = Partition(index: runtime.rank, count: runtime.size)
        let runtime = self.runtime

        // Configuration: read by every rank from the shared filesystem, or by rank 0 and broadcast.
        var configuration: ModelConfiguration
        if cluster.weightsFrom == .coordinator {
            let local = try runtime.agree("reading the configuration") {
                runtime.isCoordinator ? try ModelLoader.configuration(options) : nil
            }
            let bytes = runtime.broadcast(local.map { Array(try! JSONEncoder().encode($0)) } ?? [])
            configuration = try JSONDecoder().decode(ModelConfiguration.self, from: Data(bytes))
        } else {
            configuration = try runtime.agree("reading the configuration") { try ModelLoader.configuration(options) }
            try runtime.checkSame("configuration", fingerprint: fingerprint(Self.canonical(configuration)))
        }
        let c = configuration
        try runtime.agree("checking the tensor-parallel degree") {
            if let (field, value) = c.fieldNotDivided(by: runtime.size) {
                throw ModelDirectoryError(
                    description: "tensor-parallel degree \(runtime.size) does not divide \(field) = \(value); "
                        + "valid degrees divide num_attention_heads, inner_hidden_size and vocab_size")
            }
        }
        self.configuration = configuration
        tokenizer = try runtime.agree("loading the tokenizer") {
            runtime.isCoordinator ? try ModelLoader.tokenizer(configuration, options) : nil
        }
        self.options = options
        self.cluster = cluster
    }

    private let options: ModelOptions
    private let cluster: ClusterOptions

    /// Loads this rank's weight shard and builds its part of the model.
    func loadModel() throws -> GLMModel {
        let runtime = self.runtime
        let weights: GLMWeights
        if cluster.weightsFrom == .coordinator {
            let options = self.options
            let checkpoint = try runtime.agree("opening the checkpoint") { () -> ShardedCheckpoint? in
                guard runtime.isCoordinator else { return nil }
                let checkpoint = try ModelLoader.checkpoint(options)
                // The weight stream carries fp16 tensors only.
                if try ModelLoader.isQuantized(checkpoint) {
                    throw ModelDirectoryError(
                        description: "\(options.model) is an official quantized checkpoint (int8 weights with "
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
            weights = try runtime.agree("quantizing weights") {
                try options.quantization.scheme.map { try received.quantized($0) } ?? received
            }
        } else {
            let checkpoint = try runtime.agree("opening the checkpoint") { try ModelLoader.checkpoint(options) }
            try runtime.checkSame("checkpoint", fingerprint: ModelLoader.fingerprint(of: checkpoint))
            weights = try runtime.agree("loading weights") {
                try ModelLoader.weights(checkpoint, configuration, options, partition: partition)
            }
        }
        let model = GLMModel(
            configuration: configuration, weights: weights, partition: partition, reduction: runtime.group)
        model.precision = cluster.precision
        model.cacheFormat = cluster.kvCache
        return model
    }

    /// Runs `body` on the coordinator only (tokenizing, reading input) and agrees on its outcome.
    func onCoordinator<T>(_ phase: String, _ body: (IcetkTokenizer) throws -> T) throws -> T? {
        try runtime.agree(phase) { runtime.isCoordinator ? try body(tokenizer!) : nil }
    }

    static func canonical(_ configuration: ModelConfiguration) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Array(try! encoder.encode(configuration))
    }
}

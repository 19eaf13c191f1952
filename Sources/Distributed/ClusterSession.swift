import Basics
import Checkpoint
import Configuration
import Coordination
import FoundationEssentials
import GLM
import Generation
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
    public let tokenizer: (any PromptTokenizer)?
    public let partition: Partition
    /// The model family's generation defaults, with its release's `generation_config.json` where there is one
    /// (read by rank 0): what unset generation options take.
    public let generationDefaults: GenerationSettings

    /// Checks the world size, opens the configuration and the tokenizer; the weights come with `loadModel()`.
    public init(model source: ModelSource, cluster settings: ClusterSettings) throws {
        let runtime = try ClusterRuntime(
            requestedTP: settings.tensorParallelDegree, threads: settings.threads, peerTimeout: settings.peerTimeout)
        if runtime.size > 1 { runtime.logStartup() }
        try runtime.checkSameJob(settings.jobDescription(quantization: source.quantization))
        self.runtime = runtime
        self.source = source
        self.settings = settings
        partition = Partition(index: runtime.rank, count: runtime.size)

        // Configuration: read by every rank from the shared filesystem, or by rank 0 and sent to the others.
        let configuration = try runtime.configuration(
            fromCoordinator: settings.weightSource == .coordinator, source: source.configurationSource
        ) { try source.configuration() }
        self.configuration = configuration
        tokenizer = try runtime.agree("loading the tokenizer") {
            runtime.isCoordinator
                ? try PromptTokenizers.load(for: configuration, directory: source.directory) : nil
        }
        generationDefaults = try runtime.share("reading generation_config.json") {
            let url = source.directory.appendingPathComponent("generation_config.json")
            guard FileManager.default.fileExists(atPath: url.path) else {
                return GenerationSettings(defaultsOf: configuration.architecture)
            }
            if let problem = RegularFile.problem(at: url.path) {
                throw InputError(description: "\(url.path) \(problem)")
            }
            let data: Data
            do { data = try Data(contentsOf: url) } catch {
                throw InputError(description: "cannot read \(url.path): \(error.explanation)")
            }
            let unapplied = GenerationSettings.unappliedKeys(
                in: data, eos: configuration.tokenizer.endTokens ?? [configuration.tokenizer.eos])
            if !unapplied.isEmpty {
                StandardError.writeLine(
                    "warning: \(url.path): \(unapplied.joined(separator: ", ")) not applied (GLMCluster does not "
                        + "support them yet; the generation runs without them)")
            }
            return try GenerationSettings(
                defaultsOf: configuration.architecture, generationConfig: data, source: url.path)
        }
    }

    public var coordinator: Coordinator { runtime.coordinator }
    public var isCoordinator: Bool { runtime.isCoordinator }

    /// What a result depends on besides its request: the weights (the checkpoint's fingerprint, with a digest of
    /// every shard's contents), the configuration and the settings that change the computation. A batch job
    /// fingerprints each result with it, so that resuming with another model, quantization or precision is not
    /// taken for the same job. Reads every shard's zip directory, not its data.
    public func modelIdentity() throws -> String {
        let weights = try source.weightStore(for: configuration)
        // The tokenizer file too: another vocabulary gives other prompts and answers with the same weights.
        let vocabulary =
            try tokenizer.map { (tokenizer: any PromptTokenizer) -> String in
                fingerprint(try Data(contentsOf: tokenizer.modelURL))
            } ?? "none"
        // Not the thread count, the TP degree or the batch limits: they change no result.
        return try weights.fingerprint() + "; tokenizer \(vocabulary); "
            + configuration.identity
            + "; --precision \(settings.precision.rawValue), --kv-cache \(settings.kvCacheFormat.rawValue), "
            + "--quantize \(source.quantization?.rawValue ?? "none")"
            + (settings.allreduceFormat == .fp32 ? "" : ", --allreduce \(settings.allreduceFormat.rawValue)")
    }

    /// Loads this rank's weight shard and builds its part of the model.
    public func loadModel() throws -> GLMModel {
        let weights =
            settings.weightSource == .coordinator ? try weightsFromCoordinator() : try weightsFromSharedStorage()
        let model = GLMModel(
            configuration: configuration, weights: weights, partition: partition, reduction: runtime.group)
        model.precision = settings.precision
        model.cacheFormat = settings.kvCacheFormat
        runtime.group.sumFormat = settings.allreduceFormat
        return model
    }

    /// Rank 0 builds a value from its tokenizer (a prompt, the batch's requests) and every rank receives it; a
    /// failure on rank 0 stops every rank with rank 0's error.
    public func share<Value: WireMessage>(
        _ phase: String, _ build: (any PromptTokenizer) throws -> Value
    ) throws -> Value {
        let tokenizer = self.tokenizer
        return try runtime.share(phase) { try build(tokenizer!) }
    }

    /// Runs `body` on the coordinator only (reading input, tokenizing) and agrees on its outcome; nil elsewhere.
    public func onCoordinator<T>(_ phase: String, _ body: (any PromptTokenizer) throws -> T) throws -> T? {
        try runtime.agree(phase) { runtime.isCoordinator ? try body(tokenizer!) : nil }
    }

    /// Stops before loading when the ranks of a node need more memory for their weights than the node has
    /// available, naming the node, instead of being killed by the kernel's OOM killer halfway through.
    ///
    /// A rank's need is the smaller of two estimates, so that only a load that cannot fit is refused: its share of
    /// the configuration's tensors (exact for fp16 and load-time quantization; 4-bit layer matrices for a
    /// checkpoint quantized on disk), and its share of the checkpoint files' bytes (scaled by --quantize). The
    /// second keeps a configuration that does not match its checkpoint from being reported as a memory problem:
    /// loading then names the mismatched tensor.
    private func checkMemory(checkpointBytes: Int, storedQuantized: Bool) throws {
        let matrixBits = source.quantization?.bits ?? (storedQuantized ? 4 : 16)
        var configured = 0
        for spec in WeightSpec.all(for: configuration) {
            let count = spec.shape(of: partition).reduce(1, *)
            if spec.shape.count == 2 {
                configured += count * (spec.isQuantizable ? matrixBits : 16) / 8
            } else {
                configured += count * 4
            }
        }
        let stored = checkpointBytes / partition.count * (source.quantization?.bits ?? 16) / 16
        let need = min(configured, stored)
        struct NodeReport: Codable, WireMessage {
            var host: String
            var need: Int
            var available: Int
        }
        let mine = NodeReport(
            host: runtime.communicator.processorName, need: need,
            available: ProcessResources.availableMemoryBytes ?? Int.max)
        let short = runtime.coordinator.decide(report: mine) { reports -> [NodeReport] in
            Dictionary(grouping: reports, by: \.host).compactMap { host, ranks in
                let total = ranks.reduce(0) { $0 + $1.need }
                let available = ranks.map(\.available).min() ?? Int.max
                return total > available ? NodeReport(host: host, need: total, available: available) : nil
            }
        }
        try runtime.agree("checking memory") {
            guard let node = short.first(where: { $0.host == mine.host }) else { return }
            func gib(_ bytes: Int) -> String { String(printf: "%.1f GiB", Double(bytes) / 1_073_741_824) }
            throw InputError(
                description: "node \(node.host): the weights of its ranks need about \(gib(node.need)) but "
                    + "\(gib(node.available)) is available; use more nodes (a higher --tp), --quantize, or fewer ranks "
                    + "per node")
        }
    }

    /// The bytes of the weight files.
    private static func bytes(of checkpoint: any WeightStore) -> Int {
        checkpoint.fileSizes.reduce(0) { $0 + ($1 ?? 0) }
    }

    private func weightsFromSharedStorage() throws -> GLMWeights {
        let configuration = self.configuration
        let checkpoint = try runtime.agree("opening the checkpoint") { try source.weightStore(for: configuration) }
        // Memory first: it needs only the file sizes, and a checkpoint too large for the node is refused before
        // every shard is opened.
        try checkMemory(
            checkpointBytes: Self.bytes(of: checkpoint),
            storedQuantized: (try? ModelSource.isQuantized(checkpoint)) ?? false)
        let contents = try runtime.agree("reading the checkpoint's directories") {
            try checkpoint.fingerprint()
        }
        try runtime.checkSame("checkpoint", fingerprint: contents)
        return try runtime.agree("loading weights") {
            try source.weights(from: checkpoint, configuration: configuration, partition: partition)
        }
    }

    private func weightsFromCoordinator() throws -> GLMWeights {
        let source = self.source
        let runtime = self.runtime
        let configuration = self.configuration
        let checkpoint = try runtime.agree("opening the checkpoint") { () -> (any WeightStore)? in
            // The stream carries each rank's fp16 part; whole-row scales need the whole row, which no rank but 0
            // sees.
            if let quantization = source.quantization, Architecture.of(configuration).quantizesWholeRows,
                runtime.size > 1
            {
                throw ModelDirectoryError(
                    description: "--quantize \(quantization.rawValue) with --weights-from coordinator: this model's "
                        + "official quantization takes each scale over a whole row, which the weight stream does not "
                        + "carry to the other ranks; use --weights-from shared, or `glmcluster convert --quantize` "
                        + "once and load the quantized release")
            }
            guard runtime.isCoordinator else { return nil }
            let checkpoint = try source.weightStore(for: configuration)
            // The weight stream carries fp16 tensors only.
            if try ModelSource.isQuantized(checkpoint) {
                throw ModelDirectoryError(
                    description: "\(source.path) is an official quantized checkpoint (int8 weights with "
                        + "_scale tensors); --weights-from coordinator streams fp16 weights only: use "
                        + "--weights-from shared, or an fp16 checkpoint with --quantize")
            }
            return checkpoint
        }
        // Only rank 0 sees the files: it tells the others their size.
        let checkpointBytes = runtime.coordinator.share { Self.bytes(of: checkpoint!) }
        try checkMemory(checkpointBytes: checkpointBytes, storedQuantized: false)
        let received = try runtime.agree("loading weights from rank 0") {
            try WeightDistribution.receiveWeights(
                configuration: configuration, partition: partition, communicator: runtime.communicator,
                checkpoint: checkpoint, cacheDirectory: settings.weightCache)
        }
        // Each rank quantizes the local shard it received, as the official load-time quantize does.
        return try runtime.agree("quantizing weights") {
            try source.quantization.map { try received.quantized($0) } ?? received
        }
    }
}

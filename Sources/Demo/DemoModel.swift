import Basics
import Checkpoint
import Configuration
import FoundationEssentials
import GLM
import Partitioning
import Tokenization

/// A random-weights GLM in the official checkpoint layout, with a small SentencePiece tokenizer trained on the
/// project's own corpus: what `create-model` writes for the tests and the demo.
public struct DemoModel: Sendable {
    /// config.json with the model sizes (official argument names).
    public var configurationFile: String
    /// Output directory (created).
    public var directory: String
    public var seed: UInt64 = 1
    /// Model-parallel degree of the written checkpoint (number of mp_rank files).
    public var modelParallelDegree = 1
    /// SentencePiece vocabulary size of the trained tokenizer.
    public var vocabularySize = 1000
    /// Scale of the eos embedding row; above 1, generations end sooner (tests, demos).
    public var eosScale: Float = 1
    /// Replace a checkpoint already in `directory`.
    public var force = false

    /// The largest `eosScale` either way: the scaled row must stay within fp16 and keep the logits finite.
    public static let maximumEOSScale: Float = 100

    public init(configurationFile: String, directory: String) {
        self.configurationFile = configurationFile
        self.directory = directory
    }

    /// The checks that need no files; messages name the options.
    public func validate() throws(InputError) {
        if modelParallelDegree < 1 {
            throw InputError(description: "--mp must be positive, got \(modelParallelDegree)")
        }
        if modelParallelDegree > 4096 {
            throw InputError(description: "--mp must be at most 4096, got \(modelParallelDegree)")
        }
        if !eosScale.isFinite || abs(eosScale) > Self.maximumEOSScale {
            throw InputError(
                description: "--eos-scale must be a number in [-\(Int(Self.maximumEOSScale)), "
                    + "\(Int(Self.maximumEOSScale))], got \(eosScale)")
        }
        if directory.isEmpty { throw InputError(description: "--out must name a directory") }
        if configurationFile.isEmpty { throw InputError(description: "--config must name a file") }
        if vocabularySize < 16 {
            throw InputError(description: "--vocabulary-size must be at least 16, got \(vocabularySize)")
        }
        if vocabularySize > 1 << 20 {
            throw InputError(description: "--vocabulary-size must be at most \(1 << 20), got \(vocabularySize)")
        }
    }

    /// Writes the model; returns a one-line summary.
    public func create() throws -> String {
        // A ChatGLM3 release's configuration names special ids its tokenizer gives: the tokenizer comes first.
        if case .object(let fields)? = JSONValue.parse(
            (try? Data(contentsOf: URL(fileURLWithPath: configurationFile))) ?? Data()),
            ModelFamily.recognise(fields) == .chatGLM2
        {
            return try createChatGLM3()
        }
        var configuration = try ModelConfiguration.load(from: URL(fileURLWithPath: configurationFile))
        try configuration.checkDivisible(by: modelParallelDegree, degreeName: "--mp", source: configurationFile)
        let output = URL(fileURLWithPath: directory)
        let lock = try CheckpointDirectory.prepareOutput(
            output, option: "--out", force: force,
            existing: configuration.architecture == .chatGLM6B
                ? ReleaseWriter.weightFiles(in:) : CheckpointDirectory.existingFiles(in:))
        defer { lock.release() }

        if configuration.architecture == .chatGLM6B {
            do {
                return try DemoRelease.write(
                    configuration, vocabularySize: vocabularySize, seed: seed, eosScale: eosScale,
                    files: modelParallelDegree, to: output)
            } catch {
                for file in DemoRelease.writtenFiles(in: output) { try? FileManager.default.removeItem(at: file) }
                throw error
            }
        }
        configuration.tokenizer.model = "ice_text.model"
        // A model that could not be written whole is removed: a directory without `latest` does not load anyway,
        // and its partial shards would only take space.
        do {
            return try write(configuration, to: output)
        } catch {
            let manager = FileManager.default
            for name in ["latest", "config.json", "ice_text.model", "ice_text.vocab"] {
                try? manager.removeItem(at: output.appendingPathComponent(name))
            }
            // The shards of iteration 1 (`CheckpointRepartition.write`'s), then their folder if nothing else is in it.
            let shards = output.appendingPathComponent("1")
            for name in (try? manager.contentsOfDirectory(atPath: shards.path)) ?? []
            where name.hasPrefix("mp_rank_") && name.hasSuffix("_model_states.pt") {
                try? manager.removeItem(at: shards.appendingPathComponent(name))
            }
            if (try? manager.contentsOfDirectory(atPath: shards.path))?.isEmpty == true {
                try? manager.removeItem(at: shards)
            }
            throw error
        }
    }

    /// A ChatGLM3-6B release (`DemoChatGLM3Release`), removed again if it cannot be written whole.
    private func createChatGLM3() throws -> String {
        let output = URL(fileURLWithPath: directory)
        let lock = try CheckpointDirectory.prepareOutput(
            output, option: "--out", force: force, existing: ReleaseWriter.weightFiles(in:))
        defer { lock.release() }
        do {
            let summary = try DemoChatGLM3Release.write(
                configurationFile: URL(fileURLWithPath: configurationFile), vocabularySize: vocabularySize, seed: seed,
                eosScale: eosScale, files: modelParallelDegree, to: output)
            let configuration = try ModelConfiguration.load(from: output.appendingPathComponent("config.json"))
            try configuration.checkDivisible(by: modelParallelDegree, degreeName: "--mp", source: configurationFile)
            return summary
        } catch {
            for file in DemoChatGLM3Release.writtenFiles(in: output) { try? FileManager.default.removeItem(at: file) }
            throw error
        }
    }

    private func write(_ configuration: ModelConfiguration, to output: URL) throws -> String {
        try TokenizerTrainer.trainDemoModel(
            vocabularySize: vocabularySize, outputPrefix: output.appendingPathComponent("ice_text"))
        try configuration.write(to: output.appendingPathComponent("config.json"))
        let tokenizer = try IcetkTokenizer(configuration: configuration.tokenizer, directory: output)

        let tensors = RandomWeights.generate(
            configuration: configuration, seed: seed, textTokenCount: tokenizer.pieceCount, eosScale: eosScale)
        try CheckpointRepartition.write(
            global: tensors, specs: WeightSpec.all(for: configuration), parts: modelParallelDegree, to: output)
        return "created \(directory): \(configuration.numLayers) layers, hidden \(configuration.hiddenSize), "
            + "MP=\(modelParallelDegree), \(tokenizer.pieceCount) tokenizer pieces"
    }
}

import Checkpoint
import Configuration
import FoundationEssentials
import GLM
import Tokenization

/// Opens what a command needs from a model directory: its configuration, tokenizer and weights.
enum ModelLoader {
    /// `config.json` beside `latest`, or the `--preset` when there is none.
    static func configuration(_ options: ModelOptions) throws -> ModelConfiguration {
        var isDirectory = false
        guard FileManager.default.fileExists(atPath: options.directory.path, isDirectory: &isDirectory), isDirectory
        else {
            throw ModelDirectoryError(description: "--model \(options.model): no such directory")
        }
        let file = options.directory.appendingPathComponent("config.json")
        if FileManager.default.fileExists(atPath: file.path) {
            return try ModelConfiguration.load(from: file)
        }
        guard let name = options.preset else {
            throw ConfigurationError.unreadable(
                file: file.path,
                reason: "no such file; pass --preset glm-130b to use the built-in GLM-130B configuration")
        }
        guard let preset = ModelConfiguration.presets[name] else { throw ConfigurationError.unknownPreset(name) }
        return preset
    }

    static func tokenizer(_ configuration: ModelConfiguration, _ options: ModelOptions) throws -> IcetkTokenizer {
        try IcetkTokenizer(configuration: configuration.tokenizer, directory: options.directory)
    }

    static func checkpoint(_ options: ModelOptions) throws -> ShardedCheckpoint {
        try ShardedCheckpoint(directory: CheckpointDirectory(url: options.directory))
    }

    /// What every rank must see identically: the iteration and each shard file's name and size.
    static func fingerprint(of checkpoint: ShardedCheckpoint) -> String {
        var description = "iteration \(checkpoint.directory.iteration)"
        for url in checkpoint.directory.shardURLs {
            let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? -1
            description += "; \(url.lastPathComponent) \(size) bytes"
        }
        return "checkpoint (\(description))"
    }

    /// Whether the checkpoint is an official quantized one (layer 0's QKV weight is int8 with a `_scale`).
    static func isQuantized(_ checkpoint: ShardedCheckpoint) throws -> Bool {
        let key = "transformer.layers.0.attention.query_key_value.weight"
        return try checkpoint.shard(0).contains(key) && checkpoint.isQuantized(key)
    }

    /// This rank's partition of the weights; a wrong-shaped or missing tensor error also says where the expected
    /// shapes came from.
    static func weights(
        _ checkpoint: ShardedCheckpoint, _ configuration: ModelConfiguration, _ options: ModelOptions,
        partition: Partition
    ) throws -> GLMWeights {
        do {
            return try GLMWeights.load(
                from: checkpoint, configuration: configuration, partition: partition,
                quantization: options.quantization.scheme)
        } catch let error as CheckpointError {
            switch error {
            case .shapeMismatch, .missingKey:
                // The expected shapes come from the configuration and the shard count: say which, so a wrong
                // config.json or a missing last mp_rank file is recognisable from the message.
                let file = options.directory.appendingPathComponent("config.json")
                let source =
                    FileManager.default.fileExists(atPath: file.path) ? file.path : "preset \(options.preset ?? "?")"
                let c = configuration
                let shards = checkpoint.shardCount
                throw ModelDirectoryError(
                    description: "\(error)\n  (expected from \(source): num_layers \(c.numLayers), hidden_size "
                        + "\(c.hiddenSize), inner_hidden_size \(c.innerHiddenSize), vocab_size \(c.vocabSize); split over "
                        + "the \(shards) mp_rank file\(shards == 1 ? "" : "s") found in "
                        + "\(checkpoint.directory.shardURLs[0].deletingLastPathComponent().path). Check that the "
                        + "configuration matches the checkpoint and that no mp_rank_XX_model_states.pt file is missing.)"
                )
            default:
                throw error
            }
        }
    }
}

/// A model directory that cannot be used as given; the message names the path and what was expected.
struct ModelDirectoryError: Error, CustomStringConvertible {
    var description: String
}

/// Bad command input found while running (not while parsing): reported without the usage text.
struct InputError: Error, CustomStringConvertible {
    var description: String
}

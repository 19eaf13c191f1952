import Checkpoint
import Configuration
import Foundation
import GLM
import Tokenization

/// Opens what a command needs from a model directory: its configuration, tokenizer and weights.
enum ModelLoader {
    /// `config.json` beside `latest`, or the `--preset` when there is none.
    static func configuration(_ options: ModelOptions) throws -> ModelConfiguration {
        let file = options.directory.appendingPathComponent("config.json")
        if FileManager.default.fileExists(atPath: file.path) {
            return try ModelConfiguration.load(from: file)
        }
        guard let name = options.preset else {
            throw ConfigurationError.unreadable(
                file: file.path, reason: "no such file; pass --preset glm-130b to use the built-in GLM-130B configuration")
        }
        guard let preset = ModelConfiguration.presets[name] else { throw ConfigurationError.unknownPreset(name) }
        return preset
    }

    static func tokenizer(_ configuration: ModelConfiguration, _ options: ModelOptions) throws -> IcetkTokenizer {
        try IcetkTokenizer(configuration: configuration.tokenizer, directory: options.directory)
    }

    static func model(_ configuration: ModelConfiguration, _ options: ModelOptions) throws -> GLMModel {
        let checkpoint = try ShardedCheckpoint(directory: CheckpointDirectory(url: options.directory))
        let weights = try GLMWeights.load(from: checkpoint, configuration: configuration)
        return GLMModel(configuration: configuration, weights: weights)
    }
}

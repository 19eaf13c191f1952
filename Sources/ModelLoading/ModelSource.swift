import Basics
import Checkpoint
import Configuration
import FoundationEssentials
import GLM
import Glibc
import Partitioning
import Tensors

/// Where a model comes from: a checkpoint directory (holding `latest`, its iteration's `mp_rank_XX_model_states.pt`
/// files and `config.json`), a built-in configuration for directories without config.json, and the weight-only
/// quantization to apply while loading. Opens the configuration, the checkpoint and this rank's weights; the
/// tokenizer file's path comes from the configuration.
public struct ModelSource: Sendable, Equatable {
    /// The directory as the user gave it (messages quote it).
    public var path: String
    /// A name of `ModelConfiguration.presets`, used when the directory has no config.json.
    public var preset: String?
    /// Quantize the layer matrices of each rank's shard at load time (the official scheme).
    public var quantization: QuantizationScheme?
    /// How messages name the directory: the command-line option it came from.
    public var optionName: String

    public init(
        path: String, preset: String? = nil, quantization: QuantizationScheme? = nil, optionName: String = "--model"
    ) {
        self.path = path
        self.preset = preset
        self.quantization = quantization
        self.optionName = optionName
    }

    public var directory: URL { URL(fileURLWithPath: path) }

    public var configurationFile: URL { directory.appendingPathComponent("config.json") }

    /// Where the configuration comes from, for messages: the config.json path or the preset.
    public var configurationSource: String {
        FileManager.default.fileExists(atPath: configurationFile.path)
            ? configurationFile.path : "preset \(preset ?? "?")"
    }

    /// `config.json` in the directory, or the preset when there is none.
    public func configuration() throws -> ModelConfiguration {
        // An empty path would mean the working directory, whatever model happens to be there.
        guard !path.isEmpty else { throw ModelDirectoryError(description: "\(optionName) must name a directory") }
        var isDirectory = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory else {
            var info = stat()
            let reason =
                stat(path, &info) == 0
                ? "not a directory"
                : errno == ENOENT ? "no such directory" : String(cString: strerror(errno)).lowercased()
            throw ModelDirectoryError(description: "\(optionName) \(path): \(reason)")
        }
        if FileManager.default.fileExists(atPath: configurationFile.path) {
            return try ModelConfiguration.load(from: configurationFile)
        }
        guard let preset else {
            throw ConfigurationError.unreadable(
                file: configurationFile.path,
                reason: "no such file; pass --preset glm-130b to use the built-in GLM-130B configuration")
        }
        guard let configuration = ModelConfiguration.presets[preset] else {
            throw ConfigurationError.unknownPreset(preset)
        }
        return configuration
    }

    /// Every file the model may be read from, for refusing an output that would overwrite one: the files of the
    /// directory and of its subfolders (a checkpoint keeps its shards one level down) and the tokenizer that
    /// config.json names, wherever it is. Unreadable parts are skipped: loading reports them.
    public func inputFiles() -> [String] {
        var files: [String] = []
        func walk(_ folder: String, depth: Int) {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
            for name in names.sorted() {
                let path = folder + "/" + name
                var isDirectory = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
                if !isDirectory {
                    files.append(path)
                } else if depth > 0 {
                    walk(path, depth: depth - 1)
                }
            }
        }
        guard !path.isEmpty else { return [] }
        walk(path, depth: 1)
        if let tokenizer = (try? configuration())?.tokenizer.model {
            files.append(tokenizer.hasPrefix("/") ? tokenizer : path + "/" + tokenizer)
        }
        return files
    }

    /// The weights as `configuration`'s release stores them: a GLM-130B checkpoint (`latest`,
    /// `<iteration>/mp_rank_XX_model_states.pt`) or a Hugging Face release (`pytorch_model.bin.index.json` and its
    /// `.bin` files). Opens no weight file yet.
    public func weightStore(for configuration: ModelConfiguration) throws -> any WeightStore {
        switch configuration.architecture {
        case .glm130B:
            return try ShardedCheckpoint(directory: CheckpointDirectory(url: directory))
        case .chatGLM6B:
            let release = try ReleaseCheckpoint(directory: directory)
            try checkDeclaredQuantization(of: release, configuration: configuration)
            return release
        case .chatGLM2:
            // GLM-4 ships safetensors (in transformers' own layout too), ChatGLM2 and ChatGLM3 PyTorch files.
            guard SafetensorsRelease.isPresent(in: directory), !ReleaseCheckpoint.isPresent(in: directory) else {
                let release = try ReleaseCheckpoint(directory: directory)
                try checkDeclaredQuantization(of: release, configuration: configuration)
                return release
            }
            let release = try SafetensorsRelease(directory: directory)
            if TransformersGLMWeights.matches(release) { return TransformersGLMWeights(store: release) }
            try checkDeclaredQuantization(of: release, configuration: configuration)
            return release
        }
    }

    /// A release's config.json says how its layer matrices are stored (`quantization_bit`: 0, 8 or 4), and the
    /// official code builds its layers from that: weights stored otherwise would not load there, so they are
    /// refused here too, naming the tensor, rather than run as whatever they happen to be.
    func checkDeclaredQuantization(of release: any ReleaseWeights, configuration: ModelConfiguration) throws {
        var declared = 0
        if let data = try? Data(contentsOf: configurationFile), case .object(let fields)? = JSONValue.parse(data),
            let bits = fields["quantization_bit"]?.numberValue
        {
            declared = Int(bits)
        }
        for spec in WeightSpec.all(for: configuration) where spec.isQuantizable && release.contains(spec.key) {
            var stored = 0
            if try release.isQuantized(spec.key) {
                stored = try release.weightFile(holding: spec.key).stored(spec.key).shape == spec.shape ? 8 : 4
            }
            guard stored == declared else {
                let found = stored == 0 ? "not quantized" : "quantized to \(stored) bits"
                throw ModelDirectoryError(
                    description: "\(configurationFile.path) has quantization_bit \(declared), but \(spec.key) in "
                        + "\(try release.weightFile(holding: spec.key).path) is \(found); the configuration and the weights "
                        + "belong to different releases")
            }
        }
    }

    /// Whether the store is an official quantized checkpoint (layer 0's QKV weight is int8 with a `_scale`).
    public static func isQuantized(_ store: any WeightStore) throws -> Bool {
        let key = "transformer.layers.0.attention.query_key_value.weight"
        return try store.tensorKeys().contains(key) && store.isQuantized(key)
    }

    /// This rank's partition of the weights; a wrong-shaped or missing tensor error also says where the expected
    /// shapes came from.
    public func weights(
        from store: any WeightStore, configuration: ModelConfiguration, partition: Partition
    ) throws -> GLMWeights {
        do {
            return try GLMWeights.load(
                from: store, configuration: configuration, partition: partition, quantization: quantization)
        } catch let error as CheckpointError {
            guard let checkpoint = store as? ShardedCheckpoint else {
                switch error {
                case .shapeMismatch, .missingKey:
                    let c = configuration
                    throw ModelDirectoryError(
                        description: "\(error)\n  (expected from \(configurationSource): num_layers \(c.numLayers), "
                            + "hidden_size \(c.hiddenSize), inner_hidden_size \(c.innerHiddenSize), vocab_size "
                            + "\(c.vocabSize); check that config.json belongs to these weight files)")
                default:
                    throw error
                }
            }
            switch error {
            case .shapeMismatch, .missingKey:
                // The expected shapes come from the configuration and the shard count: say which, so a wrong
                // config.json or a missing last mp_rank file is recognisable from the message.
                let c = configuration
                let shards = checkpoint.shardCount
                throw ModelDirectoryError(
                    description: "\(error)\n  (expected from \(configurationSource): num_layers \(c.numLayers), "
                        + "hidden_size \(c.hiddenSize), inner_hidden_size \(c.innerHiddenSize), vocab_size "
                        + "\(c.vocabSize); split over the \(shards) mp_rank file\(shards == 1 ? "" : "s") found in "
                        + "\(checkpoint.directory.shardURLs[0].deletingLastPathComponent().path). Check that the "
                        + "configuration matches the checkpoint and that no mp_rank_XX_model_states.pt file is "
                        + "missing.)"
                )
            default:
                throw error
            }
        }
    }
}

/// A model directory that cannot be used as given; the message names the path and what was expected.
public struct ModelDirectoryError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(description: String) { self.description = description }
}

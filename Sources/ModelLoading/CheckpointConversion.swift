import Basics
import Checkpoint
import Configuration
import FoundationEssentials
import GLM
import Partitioning
import Tensors

/// Re-partitions a checkpoint to another tensor-parallel degree, as the official `tools/convert_tp.py` does, keeping
/// its iteration, and copies config.json and the tokenizer model beside it so the result is a complete model
/// directory.
///
/// With a quantization scheme it writes an official quantized checkpoint (`--quantization-bit-width 8|4`): each
/// output shard's QKV, attention.dense, dense_h_to_4h and dense_4h_to_h weight is quantized on its own and stored
/// as int8 (int4 packed two per byte) with an fp16 `<key>_scale` per row.
///
/// Unlike the official script, the source may have any MP degree (not only a multiple or divisor of the target),
/// keys the engine does not use (`attention.rotary_emb.inv_freq`) are dropped, and `latest` is written last.
public struct CheckpointConversion: Sendable {
    /// Source checkpoint directory (holding `latest`), of any MP degree.
    public var source: String
    /// Destination directory (created).
    public var destination: String
    /// Tensor-parallel degree of the written checkpoint: its number of mp_rank files.
    public var parts: Int
    /// Built-in configuration used when the source has no config.json.
    public var preset: String?
    public var quantization: QuantizationScheme?
    /// Replace a checkpoint already in the destination.
    public var force: Bool

    public init(
        source: String, destination: String, parts: Int, preset: String? = nil,
        quantization: QuantizationScheme? = nil, force: Bool = false
    ) {
        self.source = source
        self.destination = destination
        self.parts = parts
        self.preset = preset
        self.quantization = quantization
        self.force = force
    }

    /// Converts; `progress` gets one line per step (start, each shard written).
    public func run(progress: (String) -> Void) throws {
        let sourceURL = URL(fileURLWithPath: source).standardizedFileURL
        let destinationURL = URL(fileURLWithPath: destination).standardizedFileURL
        try ConversionError.checkDistinct(sourceURL, destinationURL, source: source)

        let configFile = sourceURL.appendingPathComponent("config.json")
        let hasConfigFile = FileManager.default.fileExists(atPath: configFile.path)
        let configuration: ModelConfiguration
        if hasConfigFile {
            configuration = try ModelConfiguration.load(from: configFile)
        } else if let preset {
            guard let named = ModelConfiguration.presets[preset] else { throw ConfigurationError.unknownPreset(preset) }
            configuration = named
        } else {
            throw ConfigurationError.unreadable(
                file: configFile.path,
                reason: "no such file; pass --preset glm-130b to use the built-in GLM-130B configuration")
        }
        try configuration.checkDivisible(
            by: parts, degreeName: "--tp", source: hasConfigFile ? configFile.path : "preset \(preset ?? "?")")

        let checkpoint = try ShardedCheckpoint(url: sourceURL)
        // The tokenizer file is checked before hours of conversion, not after.
        let tokenizerCopy = try tokenizerFiles(
            configuration, source: sourceURL, destination: destinationURL, required: hasConfigFile, progress: progress)
        let lock = try prepareDestination(destinationURL)
        defer { lock.release() }

        let quantized = quantization.map { ", quantized to \($0.rawValue)" } ?? ""
        progress(
            "converting \(source) (iteration \(checkpoint.directory.iteration), MP=\(checkpoint.shardCount)) to "
                + "\(destination) with MP=\(parts)\(quantized)")
        try CheckpointRepartition.convert(
            from: checkpoint, specs: WeightSpec.all(for: configuration), parts: parts, quantization: quantization,
            to: destinationURL
        ) { index, file in
            progress("  wrote \(file.path) (\(index + 1)/\(parts))")
        }
        do {
            if hasConfigFile {
                try replaceItem(at: destinationURL.appendingPathComponent("config.json"), with: configFile)
            }
            if let files = tokenizerCopy {
                try FileManager.default.createDirectory(
                    at: files.copy.deletingLastPathComponent(), withIntermediateDirectories: true)
                try replaceItem(at: files.copy, with: files.original)
            }
        } catch {
            throw ConversionError(
                description: "cannot copy the configuration or tokenizer into \(destination): \(error.explanation)")
        }
    }

    private func prepareDestination(_ url: URL) throws -> OutputDirectoryLock {
        do { return try CheckpointDirectory.prepareOutput(url, option: "--to", force: force) } catch {
            throw ConversionError(description: error.description, isUsageError: error.isUsageError)
        }
    }

    /// The tokenizer model to copy (source file, destination file), or nil when config.json names an absolute path
    /// (it still resolves from the new directory). A relative path keeps its place relative to config.json. A
    /// missing file is an error when config.json names it (`required`); with a preset it is only skipped.
    private func tokenizerFiles(
        _ configuration: ModelConfiguration, source: URL, destination: URL, required: Bool,
        progress: (String) -> Void
    ) throws -> (original: URL, copy: URL)? {
        let model = configuration.tokenizer.model
        if model.hasPrefix("/") { return nil }
        let file = source.appendingPathComponent(model).standardizedFileURL
        guard FileManager.default.fileExists(atPath: file.path) else {
            guard required else {
                progress(
                    "note: no tokenizer model \(file.path) to copy; give the converted directory one before generating")
                return nil
            }
            throw ConversionError(
                description:
                    "tokenizer model \(file.path) (config.json field \"tokenizer.model\" = \"\(model)\") does not "
                    + "exist; the converted directory would not be usable")
        }
        return (file, destination.appendingPathComponent(model).standardizedFileURL)
    }

    private func replaceItem(at target: URL, with source: URL) throws {
        let manager = FileManager.default
        if manager.fileExists(atPath: target.path) { try manager.removeItem(at: target) }
        try manager.copyItem(at: source, to: target)
    }
}

/// A conversion that cannot go on (file system trouble, a missing tokenizer file, a destination in use); the
/// message names the path or option.
public struct ConversionError: Error, CustomStringConvertible, Sendable {
    public var description: String
    /// Whether the options themselves cannot work (a destination that is the source, a file, or a checkpoint
    /// already), as opposed to the file system failing: front-ends report those as usage errors.
    public var isUsageError: Bool

    public init(description: String, isUsageError: Bool = false) {
        self.description = description
        self.isUsageError = isUsageError
    }

    /// Refuses a destination that is the source (by any path to it): the source is read while the output is
    /// written. `source` is the path as the user gave it.
    static func checkDistinct(_ sourceURL: URL, _ destinationURL: URL, source: String) throws(ConversionError) {
        guard sourceURL.resolvingSymlinksInPath().path != destinationURL.resolvingSymlinksInPath().path else {
            throw ConversionError(
                description: "--to must differ from --from (\(source)): the source is read while the output is written",
                isUsageError: true)
        }
    }
}

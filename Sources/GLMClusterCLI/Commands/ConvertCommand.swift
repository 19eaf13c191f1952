import ArgumentParser
import Basics
import Checkpoint
import Communication
import Configuration
import FoundationEssentials
import GLM
import Tensors

/// `glmcluster convert`: re-partitions a checkpoint to another tensor-parallel degree, as the official
/// `tools/convert_tp.py` does, keeping its iteration, and copies config.json and the tokenizer model beside it so
/// the result is a complete model directory.
///
/// With `--quantize int8|int4` it writes an official quantized checkpoint (`--quantization-bit-width 8|4`): each
/// output shard's QKV, attention.dense, dense_h_to_4h and dense_4h_to_h weight is quantized on its own and stored
/// as int8 (int4 packed two per byte) with an fp16 `<key>_scale` per row.
///
/// Unlike the official script, the source may have any MP degree (not only a multiple or divisor of the target),
/// keys the engine does not use (`attention.rotary_emb.inv_freq`) are dropped, and `latest` is written last.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Re-partition a checkpoint to another tensor-parallel degree (the official tools/convert_tp.py).")

    @Option(name: .long, help: "Source checkpoint directory (holding `latest`), of any MP degree.")
    var from: String
    @Option(
        name: .long,
        help:
            "Destination directory (created); gets latest, <iteration>/mp_rank_XX files, config.json and the tokenizer model."
    )
    var to: String
    @Option(name: .long, help: "Tensor-parallel degree of the written checkpoint: number of mp_rank files.")
    var tp: Int
    @Option(name: .long, help: "Built-in configuration used when the source has no config.json (glm-130b).")
    var preset: String?
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Write an official quantized checkpoint: int8 or int4 (tools/convert_tp.py --quantization-bit-width), "
                + "each output shard quantized on its own."))
    var quantize: QuantizationOptions.Mode?
    @Flag(name: .long, help: "Replace a checkpoint already in the destination.")
    var force = false

    func validate() throws {
        if tp < 1 { throw ValidationError("--tp must be positive, got \(tp)") }
    }

    func run() throws {
        // Every rank of an mpirun would write the same files: conversion is one process's job.
        let world = Communicator.world
        guard world.size == 1 else {
            throw ValidationError("convert runs in one process; start it without mpirun (got \(world.size) ranks)")
        }
        let source = URL(fileURLWithPath: from).standardizedFileURL
        let destination = URL(fileURLWithPath: to).standardizedFileURL
        guard source.resolvingSymlinksInPath().path != destination.resolvingSymlinksInPath().path else {
            throw ValidationError(
                "--to must differ from --from (\(from)): the source is read while the output is written")
        }

        let configFile = source.appendingPathComponent("config.json")
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
        let configSource = hasConfigFile ? configFile.path : "preset \(preset ?? "?")"
        if let (field, value) = configuration.fieldNotDivided(by: tp) {
            throw ValidationError(
                "--tp \(tp) must divide \(field) = \(value) (from \(configSource)); each rank must hold an equal share")
        }

        let checkpoint = try ShardedCheckpoint(url: source)
        // The tokenizer file is checked before hours of conversion, not after.
        let tokenizerCopy = try tokenizerFiles(
            configuration, source: source, destination: destination, required: hasConfigFile)
        try prepareDestination(destination)

        let quantized = quantize.map { ", quantized to \($0.rawValue)" } ?? ""
        StandardError.writeLine(
            "converting \(from) (iteration \(checkpoint.directory.iteration), MP=\(checkpoint.shardCount)) to \(to) with MP=\(tp)\(quantized)"
        )
        try CheckpointRepartition.convert(
            from: checkpoint, configuration: configuration, parts: tp, quantization: quantize?.scheme, to: destination
        ) { index, file in
            StandardError.writeLine("  wrote \(file.path) (\(index + 1)/\(tp))")
        }
        do {
            if hasConfigFile {
                try replaceItem(at: destination.appendingPathComponent("config.json"), with: configFile)
            }
            if let files = tokenizerCopy {
                try FileManager.default.createDirectory(
                    at: files.copy.deletingLastPathComponent(), withIntermediateDirectories: true)
                try replaceItem(at: files.copy, with: files.original)
            }
        } catch {
            throw ConvertError(
                description: "cannot copy the configuration or tokenizer into \(to): \(error.explanation)")
        }
    }

    /// Creates `destination`, or clears the checkpoint it holds when `--force` is given: `latest` and every
    /// `mp_rank_XX_model_states.pt` of its iteration folders (stale shards of a higher MP degree would otherwise be
    /// read as part of the new checkpoint). Other files are left alone.
    private func prepareDestination(_ destination: URL) throws {
        let manager = FileManager.default
        var isDirectory = false
        if manager.fileExists(atPath: destination.path, isDirectory: &isDirectory) {
            guard isDirectory else { throw ValidationError("--to \(to) exists and is not a directory") }
        } else {
            do { try manager.createDirectory(at: destination, withIntermediateDirectories: true) } catch {
                throw ConvertError(description: "cannot create --to \(to): \(error.explanation)")
            }
            return
        }
        let latest = destination.appendingPathComponent("latest")
        let shardFiles = existingShards(in: destination)
        guard manager.fileExists(atPath: latest.path) || !shardFiles.isEmpty else { return }
        guard force else {
            let found = manager.fileExists(atPath: latest.path) ? latest.path : shardFiles[0].path
            throw ValidationError(
                "--to \(to) already contains a checkpoint (\(found)); pass --force to replace it or choose another directory"
            )
        }
        do {
            if manager.fileExists(atPath: latest.path) { try manager.removeItem(at: latest) }
            for file in shardFiles { try manager.removeItem(at: file) }
        } catch {
            throw ConvertError(description: "cannot remove the old checkpoint in \(to): \(error.explanation)")
        }
    }

    /// `mp_rank_XX_model_states.pt` files in the numeric sub-folders of `directory`.
    private func existingShards(in directory: URL) -> [URL] {
        let manager = FileManager.default
        let folders = (try? manager.contentsOfDirectory(atPath: directory.path)) ?? []
        return folders.filter { Int($0) != nil }.sorted().flatMap { folder -> [URL] in
            let url = directory.appendingPathComponent(folder)
            let names = (try? manager.contentsOfDirectory(atPath: url.path)) ?? []
            return names.filter { $0.hasPrefix("mp_rank_") && $0.hasSuffix("_model_states.pt") }.sorted()
                .map { url.appendingPathComponent($0) }
        }
    }

    /// The tokenizer model to copy (source file, destination file), or nil when config.json names an absolute path
    /// (it still resolves from the new directory). A relative path keeps its place relative to config.json. A
    /// missing file is an error when config.json names it (`required`); with a preset it is only skipped.
    private func tokenizerFiles(
        _ configuration: ModelConfiguration, source: URL, destination: URL, required: Bool
    ) throws -> (original: URL, copy: URL)? {
        let model = configuration.tokenizer.model
        if model.hasPrefix("/") { return nil }
        let file = source.appendingPathComponent(model).standardizedFileURL
        guard FileManager.default.fileExists(atPath: file.path) else {
            guard required else {
                StandardError.writeLine(
                    "note: no tokenizer model \(file.path) to copy; give the converted directory one before generating")
                return nil
            }
            throw ConvertError(
                description:
                    "tokenizer model \(file.path) (config.json field \"tokenizer.model\" = \"\(model)\") does not exist; "
                    + "the converted directory would not be usable")
        }
        return (file, destination.appendingPathComponent(model).standardizedFileURL)
    }

    private func replaceItem(at target: URL, with source: URL) throws {
        let manager = FileManager.default
        if manager.fileExists(atPath: target.path) { try manager.removeItem(at: target) }
        try manager.copyItem(at: source, to: target)
    }
}

/// A conversion that cannot go on (file system trouble, a missing tokenizer file); the message names the path.
struct ConvertError: Error, CustomStringConvertible {
    var description: String
}

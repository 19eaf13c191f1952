import ArgumentParser
import Basics
import Distributed
import FoundationEssentials
import ModelLoading
import Tensors

/// `glmcluster convert`: re-partitions a GLM-130B checkpoint to another tensor-parallel degree
/// (`CheckpointConversion`, the official `tools/convert_tp.py`), or re-shards a Hugging Face release in its own
/// layout (`ReleaseConversion`); either optionally quantized in the official format.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract:
            "Re-partition a checkpoint (the official tools/convert_tp.py) or re-shard a release, optionally quantized.",
        discussion: """
            A GLM-130B checkpoint (latest + mp_rank_XX files) is written at --tp parts. A Hugging Face release \
            (ChatGLM-6B: pytorch_model*.bin with their index) is written in its own layout with --shards weight \
            files (default: as many as it has); tensor parallelism needs no conversion there, every rank reads its \
            slice at load time. --quantize writes the official quantized format of either.
            """)

    @Option(
        name: .long, help: "Source: a checkpoint directory (holding `latest`) of any MP degree, or a release folder.")
    var from: String
    @Option(
        name: .long,
        help:
            "Destination directory (created); gets latest, <iteration>/mp_rank_XX files, config.json and the tokenizer model."
    )
    var to: String
    @Option(name: .long, help: "Tensor-parallel degree of the written checkpoint: number of mp_rank files (GLM-130B).")
    var tp: Int?
    @Option(name: .long, help: "Number of pytorch_model-*.bin files of the written release (releases only).")
    var shards: Int?
    @Option(name: .long, help: "Built-in configuration used when the source has no config.json (glm-130b).")
    var preset: String?
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Write an official quantized checkpoint: int8 or int4 (tools/convert_tp.py --quantization-bit-width), "
                + "each output shard quantized on its own."))
    var quantize: QuantizationScheme?
    @Flag(name: .long, help: "Replace a checkpoint already in the destination.")
    var force = false

    func validate() throws {
        if to.isEmpty { throw ValidationError("--to must name a directory") }
        if from.isEmpty { throw ValidationError("--from must name a directory") }
        if let tp, tp < 1 { throw ValidationError("--tp must be positive, got \(tp)") }
        if let tp, tp > ClusterSettings.maximumTensorParallelDegree {
            throw ValidationError("--tp must be at most \(ClusterSettings.maximumTensorParallelDegree), got \(tp)")
        }
        if let shards, shards < 1 || shards > 99_999 {
            throw ValidationError("--shards must be between 1 and 99999, got \(shards)")
        }
    }

    func run() throws {
        // Every rank of an mpirun would write the same files: conversion is one process's job.
        guard ClusterJob.worldSize == 1 else {
            throw ValidationError(
                "convert runs in one process; start it without mpirun (got \(ClusterJob.worldSize) ranks)")
        }
        if ReleaseConversion.isRelease(URL(fileURLWithPath: from)) {
            if tp != nil || preset != nil {
                throw ValidationError(
                    "\(from) is a Hugging Face release: every rank reads its slice at load time, so --tp and --preset "
                        + "do not apply (--shards sets the number of weight files)")
            }
            let conversion = ReleaseConversion(
                source: from, destination: to, shards: shards, quantization: quantize, force: force)
            try reportingUsageErrors { try conversion.run { StandardError.writeLine($0) } }
            return
        }
        guard let tp else { throw ValidationError("--tp is required to convert a GLM-130B checkpoint") }
        if shards != nil { throw ValidationError("--shards applies to Hugging Face releases; use --tp for \(from)") }
        let conversion = CheckpointConversion(
            source: from, destination: to, parts: tp, preset: preset, quantization: quantize, force: force)
        try reportingUsageErrors { try conversion.run { StandardError.writeLine($0) } }
    }
}

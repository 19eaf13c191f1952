import ArgumentParser
import Basics
import Distributed
import ModelLoading
import Tensors

/// `glmcluster convert`: re-partitions a checkpoint to another tensor-parallel degree (`CheckpointConversion`, the
/// official `tools/convert_tp.py`), optionally writing an official quantized checkpoint.
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
    var quantize: QuantizationScheme?
    @Flag(name: .long, help: "Replace a checkpoint already in the destination.")
    var force = false

    func validate() throws {
        if to.isEmpty { throw ValidationError("--to must name a directory") }
        if tp < 1 { throw ValidationError("--tp must be positive, got \(tp)") }
        if tp > ClusterSettings.maximumTensorParallelDegree {
            throw ValidationError("--tp must be at most \(ClusterSettings.maximumTensorParallelDegree), got \(tp)")
        }
    }

    func run() throws {
        // Every rank of an mpirun would write the same files: conversion is one process's job.
        guard ClusterJob.worldSize == 1 else {
            throw ValidationError(
                "convert runs in one process; start it without mpirun (got \(ClusterJob.worldSize) ranks)")
        }
        let conversion = CheckpointConversion(
            source: from, destination: to, parts: tp, preset: preset, quantization: quantize, force: force)
        try reportingUsageErrors { try conversion.run { StandardError.writeLine($0) } }
    }
}

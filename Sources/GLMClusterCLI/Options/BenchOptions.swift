import ArgumentParser
import Benchmarking
import ModelLoading
import Tensors

/// What `bench` measures: the model, its storage, the lengths and repeats, the probes' sizes and the sweep.
struct BenchOptions: ParsableArguments {
    @Option(name: .long, help: "Checkpoint directory (as for generate); its weights are converted to --dtype.")
    var model: String?
    @Option(name: .long, help: "Built-in configuration for a --model directory without config.json (glm-130b).")
    var preset: String?
    @Option(name: .long, help: "A config.json: benchmark random weights of this shape, built in memory.")
    var config: String?
    @Option(
        name: .long,
        help: "Quantize the layer matrices (QKV, attention dense, MLP) at load time, the official scheme: int8 or int4."
    )
    var quantize: QuantizationScheme?
    @Option(
        name: .long,
        help: "How the other weight matrices are stored (all of them without --quantize): fp32, fp16 or bf16.")
    var dtype: BenchSettings.DType = .fp16
    @Option(name: .long, help: "Prompt length P (one prefill pass).")
    var promptTokens: Int
    @Option(name: .long, help: "Tokens G decoded after the prompt, one forward pass and one sample each.")
    var genTokens: Int
    @Option(name: .long, help: "Repeats of prefill + decode; figures are median (min-max) over them.")
    var `repeat`: Int = 3
    @Option(name: .long, help: "Output: md (tables) or json.")
    var format: BenchSettings.OutputFormat = .md
    @Option(name: .long, help: "Seed of the random weights and prompt tokens.")
    var seed: UInt64 = 1
    @Flag(
        name: .long,
        help: "Decode greedily (argmax, as Benchmarks/pytorch does), sweep included, instead of top-p sampling.")
    var greedy = false
    @Option(name: .long, help: "MiB per triad array (three arrays per rank; reduced if memory is short).")
    var triadMib: Int = 256
    @Option(name: .long, help: "n of the n x n x n sgemm probe.")
    var sgemmSize: Int = 2048
    @Option(
        name: .long, parsing: .upToNextOption,
        help: "Throughput sweep instead: the max batch sizes to measure, e.g. --batch-sizes 1 2 4 8 16.")
    var batchSizes: [Int] = []
    @Option(
        name: .long, parsing: .upToNextOption,
        help: "Throughput sweep: concurrent requests per point (default: the point's batch size).")
    var concurrency: [Int] = []
    @Option(name: .long, help: "Throughput sweep: also write an SVG chart of throughput and latency to this file.")
    var svg: String?

    var settings: BenchSettings {
        let source: BenchSettings.Model =
            model.map { .checkpoint(ModelSource(path: $0, preset: preset)) } ?? .random(configurationFile: config ?? "")
        var settings = BenchSettings(model: source, promptTokens: promptTokens, generatedTokens: genTokens)
        settings.quantization = quantize
        settings.dtype = dtype
        settings.repeats = `repeat`
        settings.format = format
        settings.seed = seed
        settings.greedy = greedy
        settings.triadMiB = triadMib
        settings.sgemmSize = sgemmSize
        settings.batchSizes = batchSizes
        settings.concurrency = concurrency
        settings.svgPath = svg
        return settings
    }

    func validate() throws {
        if (model == nil) == (config == nil) { throw ValidationError("give exactly one of --model and --config") }
        if preset != nil && model == nil { throw ValidationError("--preset only applies to --model") }
        do { try settings.validate() } catch { throw ValidationError(error.description) }
    }
}

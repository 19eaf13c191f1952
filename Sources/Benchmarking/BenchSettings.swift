import Basics
import ModelLoading
import Tensors

/// What `bench` measures: the model (a checkpoint or random weights of a configuration's shape), its storage, the
/// lengths and repeats, the machine probes' sizes, and for the throughput sweep its points.
public struct BenchSettings: Sendable {
    /// Where the model comes from.
    public enum Model: Sendable {
        /// A checkpoint directory; its weights are converted to `dtype`.
        case checkpoint(ModelSource)
        /// A config.json: random weights of its shape, built by each rank for its own partition.
        case random(configurationFile: String)
    }

    /// How the matrices other than the quantized ones are stored (all of them without quantization).
    public enum DType: String, Sendable, CaseIterable {
        case fp32, fp16, bf16

        public var format: WeightFormat {
            switch self {
            case .fp32: .float32
            case .fp16: .float16
            case .bf16: .bfloat16
            }
        }
    }

    public enum OutputFormat: String, Sendable, CaseIterable {
        case md, json
    }

    public var model: Model
    /// Quantize the layer matrices (QKV, attention dense, MLP) at load time, the official scheme.
    public var quantization: QuantizationScheme?
    public var dtype: DType = .fp16
    /// Prompt length P (one prefill pass).
    public var promptTokens: Int
    /// Tokens G decoded after the prompt.
    public var generatedTokens: Int
    /// Repeats of prefill + decode; figures are median (min-max) over them.
    public var repeats = 3
    public var format: OutputFormat = .md
    /// Seed of the random weights and prompt tokens.
    public var seed: UInt64 = 1
    /// Argmax decoding instead of the official top-p 0.7 sampling.
    public var greedy = false
    /// MiB per triad array (three arrays per rank; reduced if memory is short).
    public var triadMiB = 256
    /// n of the n x n x n sgemm probe.
    public var sgemmSize = 2048
    /// Throughput sweep instead of prefill/decode: the max batch sizes to measure.
    public var batchSizes: [Int] = []
    /// Throughput sweep: concurrent requests per point (empty: the point's batch size).
    public var concurrency: [Int] = []
    /// Throughput sweep: also write an SVG chart to this file.
    public var svgPath: String?

    public init(model: Model, promptTokens: Int, generatedTokens: Int) {
        self.model = model
        self.promptTokens = promptTokens
        self.generatedTokens = generatedTokens
    }

    /// What every rank must run identically (where the weights come from is compared by content instead; the output
    /// format and chart are rank 0's alone).
    public var description: String {
        let kind: String =
            switch model {
            case .checkpoint: "a checkpoint"
            case .random: "random weights"
            }
        return "bench of \(kind) --dtype \(dtype.rawValue) --quantize \(quantization?.rawValue ?? "none") "
            + "--prompt-tokens \(promptTokens) --gen-tokens \(generatedTokens) --repeat \(repeats) --seed \(seed) "
            + "--greedy \(greedy) --triad-mib \(triadMiB) --sgemm-size \(sgemmSize) --batch-sizes \(batchSizes) "
            + "--concurrency \(concurrency)"
    }

    /// The weight format the benchmark's layer matrices have.
    public var weightFormat: WeightFormat { quantization?.format ?? dtype.format }

    /// The largest values the options take: positions as a configuration may have, probe arrays that fit a machine.
    public static let limits = (
        batch: 4096, tokens: 1 << 24, repeats: 10_000, triadMiB: 1 << 16, sgemmSize: 16384
    )

    /// The checks that need no model; messages name the options as the command line spells them.
    public func validate() throws(BenchSettingsError) {
        func fail(_ message: String) -> BenchSettingsError { BenchSettingsError(description: message) }
        if batchSizes.contains(where: { $0 < 1 }) { throw fail("--batch-sizes must be positive") }
        if concurrency.contains(where: { $0 < 1 }) { throw fail("--concurrency must be positive") }
        if let large = (batchSizes + concurrency).first(where: { $0 > Self.limits.batch }) {
            throw fail("--batch-sizes and --concurrency must be at most \(Self.limits.batch), got \(large)")
        }
        if (!concurrency.isEmpty || svgPath != nil) && batchSizes.isEmpty {
            throw fail("--concurrency and --svg belong to the throughput sweep: give --batch-sizes")
        }
        if case .random(let file) = model, file.isEmpty { throw fail("--config must name a file") }
        if let svgPath {
            let (inputs, owner): ([String], String) =
                switch model {
                case .checkpoint(let source):
                    (source.inputFiles(), "a file of the model in \(source.optionName) \(source.path)")
                case .random(let file): ([file], "the configuration file")
                }
            do {
                try OutputFile.check(svgPath, option: "--svg")
                try OutputFile.checkNotAmong(inputs, svgPath, option: "--svg", inputsName: owner)
            } catch { throw fail(error.description) }
        }
        if promptTokens < 1 { throw fail("--prompt-tokens must be positive, got \(promptTokens)") }
        if generatedTokens < 1 { throw fail("--gen-tokens must be positive, got \(generatedTokens)") }
        if repeats < 1 { throw fail("--repeat must be positive, got \(repeats)") }
        if triadMiB < 1 { throw fail("--triad-mib must be positive, got \(triadMiB)") }
        if sgemmSize < 1 { throw fail("--sgemm-size must be positive, got \(sgemmSize)") }
        for (option, value, limit) in [
            ("--prompt-tokens", promptTokens, Self.limits.tokens),
            ("--gen-tokens", generatedTokens, Self.limits.tokens),
            ("--repeat", repeats, Self.limits.repeats), ("--triad-mib", triadMiB, Self.limits.triadMiB),
            ("--sgemm-size", sgemmSize, Self.limits.sgemmSize),
        ] where value > limit {
            throw fail("\(option) must be at most \(limit), got \(value)")
        }
    }
}

/// Bench settings that cannot work, named as the command line spells them.
public struct BenchSettingsError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(description: String) { self.description = description }
}

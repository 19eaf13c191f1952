import ArgumentParser
import Basics
import Checkpoint
import Configuration
import Distributed
import FoundationEssentials
import GLM
import Generation
import Tensors

/// `glmcluster bench`: prefill and decode speed of a model (a checkpoint, or random weights of any size built in
/// memory), with the machine's limits measured in the same run on the same ranks, so every figure also reads as a
/// fraction of its limit. Under `mpirun` every rank measures and rank 0 prints the job and each rank.
struct BenchCommand: ClusterCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure prefill and decode speed against the machine's bandwidth and FLOP limits.",
        discussion: """
            With --config, each rank builds random weights for its own partition in memory (no checkpoint needed). \
            Decode time is split into matmul, attention, allreduce and sampling; the limits are a STREAM triad, \
            OpenBLAS sgemm and the peak of the dot-product unit for the weight format.
            """)

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
        case md, json
    }

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
    var quantize: QuantizationOptions.Mode?
    @Option(
        name: .long,
        help: "How the other weight matrices are stored (all of them without --quantize): fp32, fp16 or bf16.")
    var dtype: BenchDType = .fp16
    @Option(name: .long, help: "Prompt length P (one prefill pass).")
    var promptTokens: Int
    @Option(name: .long, help: "Tokens G decoded after the prompt, one forward pass and one sample each.")
    var genTokens: Int
    @Option(name: .long, help: "Repeats of prefill + decode; figures are median (min-max) over them.")
    var `repeat`: Int = 3
    @Option(name: .long, help: "Output: md (tables) or json.")
    var format: OutputFormat = .md
    @Option(name: .long, help: "Seed of the random weights and prompt tokens.")
    var seed: UInt64 = 1
    @Flag(
        name: .long,
        help: "Decode greedily (argmax, as Benchmarks/pytorch does) instead of the official top-p 0.7 sampling.")
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
    @OptionGroup var cluster: ClusterOptions

    func validate() throws {
        if batchSizes.contains(where: { $0 < 1 }) { throw ValidationError("--batch-sizes must be positive") }
        if concurrency.contains(where: { $0 < 1 }) { throw ValidationError("--concurrency must be positive") }
        if (!concurrency.isEmpty || svg != nil) && batchSizes.isEmpty {
            throw ValidationError("--concurrency and --svg belong to the throughput sweep: give --batch-sizes")
        }
        if greedy && !batchSizes.isEmpty {
            throw ValidationError(
                "--greedy belongs to the prefill/decode benchmark; the sweep samples as generate does")
        }
        if (model == nil) == (config == nil) { throw ValidationError("give exactly one of --model and --config") }
        if preset != nil && model == nil { throw ValidationError("--preset only applies to --model") }
        if promptTokens < 1 { throw ValidationError("--prompt-tokens must be positive, got \(promptTokens)") }
        if genTokens < 1 { throw ValidationError("--gen-tokens must be positive, got \(genTokens)") }
        if `repeat` < 1 { throw ValidationError("--repeat must be positive, got \(`repeat`)") }
        if triadMib < 1 { throw ValidationError("--triad-mib must be positive, got \(triadMib)") }
        if sgemmSize < 1 { throw ValidationError("--sgemm-size must be positive, got \(sgemmSize)") }
    }

    func execute() throws {
        let (runtime, configuration, weights, source) = try openModel()
        let partition = Partition(index: runtime.rank, count: runtime.size)
        let glm = GLMModel(
            configuration: configuration, weights: weights, partition: partition, reduction: runtime.group)
        glm.precision = cluster.precision
        glm.cacheFormat = cluster.kvCache
        let communicator = runtime.communicator
        if !batchSizes.isEmpty {
            try sweep(model: glm, runtime: runtime, configuration: configuration, weights: weights, source: source)
            return
        }

        let benchmark = ModelBenchmark(
            model: glm, collectives: runtime.group, promptTokens: promptTokens, generatedTokens: genTokens,
            repeats: `repeat`, seed: seed, greedy: greedy, synchronise: { communicator.barrier() })
        let triadBytes = MachineProbes.triadArrayBytes(requested: triadMib << 20, ranksHere: runtime.size)
        let synchronise = { communicator.barrier() }
        let slowest = Self.slowest(over: runtime)
        var peakResident = 0
        var triadPasses: [Double] = []
        // Per repeat, the triad right beside its decode: the mean of the pass just before it (from the second
        // repeat on: the first pass would allocate the arrays before the peak RSS is read) and the pass just after.
        // On hosts whose bandwidth jumps within seconds (the KVM guest of BENCHMARKS session 8 went between ~35
        // and ~63 GB/s) it is the bandwidth that decode actually had.
        var triadBesideDecode: [Double] = []
        var triadBefore: Double?
        let timings = benchmark.run(
            beforeDecode: { repeatIndex in
                guard repeatIndex > 0 else { return }
                let pass = MachineProbes.triadPasses(
                    arrayBytes: triadBytes, count: 1, synchronise: synchronise, slowest: slowest)
                triadPasses += pass
                triadBefore = pass.first
            },
            afterRepeat: { repeatIndex in
                // The model's own high-water mark (loading, prefill, decode), before the probes allocate arrays.
                if repeatIndex == 0 { peakResident = ProcessResources.peakResidentBytes ?? 0 }
                let passes = MachineProbes.triadPasses(
                    arrayBytes: triadBytes, count: 2, synchronise: synchronise, slowest: slowest)
                triadPasses += passes
                let beside = [triadBefore, passes.first].compactMap { $0 }
                triadBesideDecode.append(beside.reduce(0, +) / Double(max(1, beside.count)))
                triadBefore = nil
            })
        let machine = MachineProbes.measure(
            interleavedTriad: triadPasses, triadArrayBytes: triadBytes, sgemmSize: sgemmSize,
            synchronise: synchronise, slowest: slowest)

        let mine = RankBenchResult(
            rank: runtime.rank, host: communicator.processorName, threads: runtime.threads, timings: timings,
            machine: machine, triadBesideDecode: triadBesideDecode, weightBytesPerToken: weights.decodeBytesPerToken,
            prefillFLOPs: ModelBenchmark.prefillFLOPs(model: glm, promptTokens: promptTokens),
            weightBytes: weights.byteCount,
            kvCacheBytes: KVCache.byteCount(
                layers: configuration.numLayers, localHeads: glm.localHeads,
                headDimension: configuration.headDimension, capacity: promptTokens + genTokens,
                format: glm.cacheFormat),
            peakResidentBytes: peakResident)
        let gathered = communicator.gather(Array(try JSONEncoder().encode(mine)))
        guard runtime.isCoordinator else { return }
        let results = try gathered.map { try JSONDecoder().decode(RankBenchResult.self, from: Data($0)) }
        let report = BenchReport(
            configuration: configuration, format: quantize?.scheme.format ?? dtype.format, dtype: dtype.rawValue,
            quantize: quantize?.rawValue, precision: cluster.precision.rawValue,
            kvCache: glm.cacheFormat.rawValue, sampling: greedy ? "greedy" : "top-p 0.7", promptTokens: promptTokens,
            generatedTokens: genTokens, repeats: `repeat`,
            weights: source, results: results)
        print(format == .json ? try report.json() : report.markdown())
    }

    /// The runtime, configuration and this rank's weights (converted to --dtype), and a line saying where they
    /// came from.
    private func openModel() throws -> (ClusterRuntime, ModelConfiguration, GLMWeights, String) {
        var weights: GLMWeights
        let runtime: ClusterRuntime
        let configuration: ModelConfiguration
        var source: String
        if let model {
            var arguments = ["--model", model]
            if let preset { arguments += ["--preset", preset] }
            if let quantize { arguments += ["--quantize", quantize.rawValue] }
            let session = try ModelSession(model: try ModelOptions.parse(arguments), cluster: cluster)
            runtime = session.runtime
            configuration = session.configuration
            weights = try session.loadModel().weights
            source = "checkpoint \(model)"
        } else {
            runtime = try ClusterRuntime(requestedTP: cluster.tp, threads: cluster.threads)
            if runtime.size > 1 { runtime.logStartup() }
            let file = URL(fileURLWithPath: config!)
            let loaded = try runtime.agree("reading the configuration") { try ModelConfiguration.load(from: file) }
            try runtime.checkSame("configuration", fingerprint: fingerprint(ModelSession.canonical(loaded)))
            try runtime.agree("checking the tensor-parallel degree") {
                if let (field, value) = loaded.fieldNotDivided(by: runtime.size) {
                    throw InputError(
                        description: "tensor-parallel degree \(runtime.size) does not divide \(field) = \(value) "
                            + "of \(file.path)")
                }
            }
            configuration = loaded
            let partition = Partition(index: runtime.rank, count: runtime.size)
            let scheme = quantize?.scheme
            weights = try runtime.agree("building random weights") {
                try PartitionedRandomWeights.generate(
                    configuration: loaded, partition: partition, seed: seed, quantization: scheme,
                    format: dtype.format)
            }
            source = "random, seed \(seed)"
        }
        let total = promptTokens + genTokens
        try runtime.agree("checking the lengths") {
            if total > configuration.maxSequenceLength {
                throw InputError(
                    description: "--prompt-tokens + --gen-tokens = \(total) exceeds max_sequence_length "
                        + "\(configuration.maxSequenceLength)")
            }
        }
        // Random weights are generated in --dtype already (this is then a no-op); checkpoints are converted here.
        let format = dtype.format
        try runtime.agree("converting the weights to \(dtype.rawValue)") { try weights.convert(to: format) }
        return (runtime, configuration, weights, source + kernelNote)
    }

    /// Which kernels exist in this build for the weight format (the numbers depend on them): each dispatch point
    /// of `linear()` is asked to multiply a small matrix and says whether it has a kernel for it.
    private var kernelNote: String {
        let format = quantize?.scheme.format ?? dtype.format
        let fp16 = WeightMatrix(rows: 8, columns: 64, float16: [Float16](repeating: 0, count: 512))
        let probe: WeightMatrix
        if let quantize {
            probe = Quantization.quantize(fp16, scheme: quantize.scheme)
        } else {
            guard let converted = try? fp16.converted(to: format) else { return "" }
            probe = converted
        }
        let x = [Float](repeating: 0, count: 64 * 64)
        var y = [Float](repeating: 0, count: 64 * 8)
        func handled(
            rows: Int, _ kernel: (UnsafePointer<Float>, Int, WeightMatrix, UnsafeMutablePointer<Float>) -> Bool
        )
            -> Bool
        {
            x.withUnsafeBufferPointer { x in
                y.withUnsafeMutableBufferPointer { kernel(x.baseAddress!, rows, probe, $0.baseAddress!) }
            }
        }
        let decode = handled(rows: 1) { DecodeKernels.multiply($0, rows: $1, weight: $2, into: $3) }
        let prefill = handled(rows: 64) { PrefillKernels.multiply($0, rows: $1, weight: $2, into: $3) }
        let prefillUse =
            !prefill
            ? "reference path (widen + OpenBLAS sgemm)"
            : PrefillKernels.isFastest(for: format)
                ? "GEMM kernels" : "GEMM kernels, left for sgemm (faster on this CPU)"
        return "; \(format.rawValue) kernels in this build: decode \(decode ? "GEMV kernels" : "reference path"), "
            + "prefill \(prefillUse)"
    }

    /// A probe's seconds as the slowest rank's (the probes' `slowest`; the identity on one process).
    private static func slowest(over runtime: ClusterRuntime) -> (Double) -> Double {
        { Double(runtime.communicator.allreduceMaxLocation(value: Float($0), index: 0).value) }
    }

    /// The throughput sweep: every (batch size, concurrency) point through continuous batching, then the sgemm
    /// rate on the same ranks for the sgemm-bound limit.
    private func sweep(
        model glm: GLMModel, runtime: ClusterRuntime, configuration: ModelConfiguration, weights: GLMWeights,
        source: String
    ) throws {
        let communicator = runtime.communicator
        let synchronise = { communicator.barrier() }
        var runs:
            [(batch: Int, requests: Int, seconds: Double, steps: Int, timings: [BatchTiming], profile: ForwardProfile)] =
                []
        // Warm-up: thread pools, first touches.
        _ = try ThroughputBenchmark.run(
            model: glm, collectives: runtime.group, maxBatch: 1, requests: 1, promptTokens: min(promptTokens, 8),
            generatedTokens: 2, seed: seed, synchronise: synchronise)
        for batch in batchSizes {
            for requests in concurrency.isEmpty ? [batch] : concurrency {
                let run = try ThroughputBenchmark.run(
                    model: glm, collectives: runtime.group, maxBatch: batch, requests: requests,
                    promptTokens: promptTokens, generatedTokens: genTokens, seed: seed, synchronise: synchronise)
                runs.append((batch, requests, run.seconds, run.steps, run.timings, run.profile))
                if runtime.isCoordinator {
                    StandardError.writeLine(
                        String(printf: "[bench] batch %d, %d requests: %.1f s", batch, requests, run.seconds))
                }
            }
        }
        synchronise()
        let sgemm = MachineProbes.sgemmGFLOPS(size: sgemmSize)
        let triadPasses = MachineProbes.triadPasses(
            arrayBytes: MachineProbes.triadArrayBytes(requested: triadMib << 20, ranksHere: runtime.size), count: 5,
            synchronise: synchronise, slowest: Self.slowest(over: runtime))
        // Job-wide: multiply-adds per generated token, weight bytes per step, sgemm rate and triad, summed over
        // ranks (each rank's triad figure is its bytes over the common pass time, so they add up).
        let local = [
            Double(weights.layerWeightParameters + weights.wordEmbeddings.rows * weights.wordEmbeddings.columns), sgemm,
            Double(weights.decodeBytesPerToken), MachineProbes.median(triadPasses),
        ]
        let sums = communicator.allreduceSum(local)
        let limits = ThroughputLimits(
            multiplyAddsPerToken: sums[0], weightBytesPerStep: sums[2], sgemmGFLOPS: sums[1], triadGBPerSecond: sums[3])
        guard runtime.isCoordinator else { return }
        let points = runs.map {
            ThroughputBenchmark.point(
                maxBatch: $0.batch, requests: $0.requests, promptTokens: promptTokens, generatedTokens: genTokens,
                seconds: $0.seconds, steps: $0.steps, timings: $0.timings, profile: $0.profile, limits: limits)
        }
        let report = ThroughputReport(
            model: ThroughputReport.summary(configuration), dtype: dtype.rawValue, quantize: quantize?.rawValue,
            precision: cluster.precision.rawValue, tp: runtime.size, threads: runtime.threads,
            weights: source, sgemm_gflops: sums[1], triad_gb_per_s: sums[3], points: points)
        if let svg {
            try ThroughputChart.svg(report).write(toFile: svg, atomically: true, encoding: .utf8)
        }
        print(format == .json ? try report.json() : report.markdown())
    }
}

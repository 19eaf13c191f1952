import Basics
import Configuration
import Distributed
import FoundationEssentials
import GLM
import Generation
import ModelLoading
import Partitioning
import Tensors

/// `bench`: prefill and decode speed of a model (a checkpoint, or random weights of any size built in memory),
/// with the machine's limits measured in the same run on the same ranks, so every figure also reads as a fraction
/// of its limit; or, with batch sizes, the throughput sweep. Every rank measures; rank 0 gets the report.
public enum Benchmark {
    /// Runs the benchmark on every rank; rank 0 gets the text to print (markdown or JSON), the others nil. Writes
    /// the sweep's chart when `settings.svgPath` is set.
    public static func run(_ settings: BenchSettings, cluster: ClusterSettings) throws -> String? {
        let (runtime, configuration, weights, source) = try openModel(settings, cluster: cluster)
        let partition = Partition(index: runtime.rank, count: runtime.size)
        let model = GLMModel(
            configuration: configuration, weights: weights, partition: partition, reduction: runtime.group)
        model.precision = cluster.precision
        model.cacheFormat = cluster.kvCacheFormat
        runtime.group.sumFormat = cluster.allreduceFormat
        runtime.setPhase("benchmarking")
        if !settings.batchSizes.isEmpty {
            return try sweep(settings, model: model, runtime: runtime, weights: weights, source: source)
        }
        return try prefillAndDecode(settings, model: model, runtime: runtime, weights: weights, source: source)
    }

    private static func prefillAndDecode(
        _ settings: BenchSettings, model: GLMModel, runtime: ClusterRuntime, weights: GLMWeights, source: String
    ) throws -> String? {
        let communicator = runtime.communicator
        let configuration = model.configuration
        let synchronise = { communicator.barrier() }
        let benchmark = ModelBenchmark(
            model: model, collectives: runtime.group, promptTokens: settings.promptTokens,
            generatedTokens: settings.generatedTokens, repeats: settings.repeats, seed: settings.seed,
            greedy: settings.greedy, synchronise: synchronise)
        let triadBytes = MachineProbes.triadArrayBytes(requested: settings.triadMiB << 20, ranksHere: runtime.size)
        let slowest = slowest(over: runtime)
        var peakResident = 0
        var triadPasses: [Double] = []
        // Per repeat, the triad right beside its decode: the mean of the pass just before it (from the second
        // repeat on: the first pass would allocate the arrays before the peak RSS is read) and the pass just after.
        // On hosts whose bandwidth jumps within seconds it is the bandwidth that decode actually had (measured:
        // docs/BENCHMARKS.md, "Machine limits").
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
            interleavedTriad: triadPasses, triadArrayBytes: triadBytes, sgemmSize: settings.sgemmSize,
            synchronise: synchronise, slowest: slowest)

        let mine = RankBenchResult(
            rank: runtime.rank, host: communicator.processorName, threads: runtime.threads, timings: timings,
            machine: machine, triadBesideDecode: triadBesideDecode, weightBytesPerToken: weights.decodeBytesPerToken,
            prefillFLOPs: ModelBenchmark.prefillFLOPs(model: model, promptTokens: settings.promptTokens),
            weightBytes: weights.byteCount,
            kvCacheBytes: KVCache.byteCount(
                layers: configuration.numLayers, localHeads: model.localKeyValueHeads,
                headDimension: configuration.headDimension,
                capacity: settings.promptTokens + settings.generatedTokens, format: model.cacheFormat),
            peakResidentBytes: peakResident)
        guard let results = runtime.coordinator.collect(report: mine) else { return nil }
        let report = BenchReport(
            configuration: configuration, format: settings.weightFormat, dtype: settings.dtype.rawValue,
            quantize: settings.quantization?.rawValue, precision: model.precision.rawValue,
            kvCache: model.cacheFormat.rawValue, sampling: settings.greedy ? "greedy" : "top-p 0.7",
            promptTokens: settings.promptTokens, generatedTokens: settings.generatedTokens,
            repeats: settings.repeats, weights: source,
            routes: routes(model, promptTokens: settings.promptTokens), results: results)
        return settings.format == .json ? try report.json() : report.markdown()
    }

    /// The runtime, configuration and this rank's weights (converted to the settings' dtype), and a line saying
    /// where they came from.
    private static func openModel(
        _ settings: BenchSettings, cluster: ClusterSettings
    ) throws -> (ClusterRuntime, ModelConfiguration, GLMWeights, String) {
        var weights: GLMWeights
        let runtime: ClusterRuntime
        let configuration: ModelConfiguration
        var source: String
        switch settings.model {
        case .checkpoint(var model):
            model.quantization = settings.quantization
            let session = try ClusterSession(model: model, cluster: cluster)
            runtime = session.runtime
            configuration = session.configuration
            weights = try session.loadModel().weights
            source = "checkpoint \(model.path)"
        case .random(let path):
            runtime = try ClusterRuntime(
                requestedTP: cluster.tensorParallelDegree, threads: cluster.threads, peerTimeout: cluster.peerTimeout)
            if runtime.size > 1 { runtime.logStartup() }
            // The bench's own job names its quantization.
            try runtime.checkSameJob(cluster.jobDescription(quantization: nil))
            let file = URL(fileURLWithPath: path)
            let loaded = try runtime.configuration(fromCoordinator: false, source: file.path) {
                try ModelConfiguration.load(from: file)
            }
            configuration = loaded
            let partition = Partition(index: runtime.rank, count: runtime.size)
            weights = try runtime.agree("building random weights") {
                try PartitionedRandomWeights.generate(
                    configuration: loaded, partition: partition, seed: settings.seed,
                    quantization: settings.quantization, format: settings.dtype.format)
            }
            source = "random, seed \(settings.seed)"
        }
        let total = settings.promptTokens + settings.generatedTokens
        try runtime.agree("checking the lengths") {
            if total > configuration.maxSequenceLength {
                throw InputError(
                    description: "--prompt-tokens + --gen-tokens = \(total) exceeds max_sequence_length "
                        + "\(configuration.maxSequenceLength)")
            }
        }
        // Random weights are generated in the dtype already (this is then a no-op); checkpoints are converted here.
        let format = settings.dtype.format
        try runtime.agree("converting the weights to \(settings.dtype.rawValue)") { try weights.convert(to: format) }
        return (runtime, configuration, weights, source)
    }

    /// The routes the layer matrices take: one decoded token, and the prefill's row chunks.
    static func routes(_ model: GLMModel, promptTokens: Int) -> (decode: MatmulRoute, prefill: MatmulRoute) {
        let weight = model.weights.layers[0].queryKeyValue.routeWeight
        func route(_ rows: Int) -> MatmulRoute {
            MatmulRoute.choose(rows: rows, weight: weight, precision: model.precision, cpu: .detected)
        }
        return (route(1), route(min(promptTokens, model.prefillChunkRows)))
    }

    /// A probe's seconds as the slowest rank's (the probes' `slowest`; the identity on one process).
    static func slowest(over runtime: ClusterRuntime) -> (Double) -> Double {
        { Double(runtime.communicator.allreduceMaxLocation(value: Float($0), index: 0).value) }
    }

    /// The throughput sweep: every (batch size, concurrency) point through continuous batching, then the sgemm
    /// rate on the same ranks for the sgemm-bound limit.
    private static func sweep(
        _ settings: BenchSettings, model: GLMModel, runtime: ClusterRuntime, weights: GLMWeights, source: String
    ) throws -> String? {
        let communicator = runtime.communicator
        let synchronise = { communicator.barrier() }
        var runs:
            [(batch: Int, requests: Int, seconds: Double, steps: Int, timings: [BatchTiming], profile: ForwardProfile)] =
                []
        // Warm-up: thread pools, first touches.
        _ = try ThroughputBenchmark.run(
            model: model, collectives: runtime.group, maxBatch: 1, requests: 1,
            promptTokens: min(settings.promptTokens, 8), generatedTokens: 2, seed: settings.seed,
            greedy: settings.greedy, synchronise: synchronise)
        for batch in settings.batchSizes {
            for requests in settings.concurrency.isEmpty ? [batch] : settings.concurrency {
                let run = try ThroughputBenchmark.run(
                    model: model, collectives: runtime.group, maxBatch: batch, requests: requests,
                    promptTokens: settings.promptTokens, generatedTokens: settings.generatedTokens,
                    seed: settings.seed, greedy: settings.greedy, synchronise: synchronise)
                runs.append((batch, requests, run.seconds, run.steps, run.timings, run.profile))
                if runtime.isCoordinator {
                    StandardError.writeLine(
                        String(printf: "[bench] batch %d, %d requests: %.1f s", batch, requests, run.seconds))
                }
            }
        }
        synchronise()
        let sgemm = MachineProbes.sgemmGFLOPS(size: settings.sgemmSize)
        let triadPasses = MachineProbes.triadPasses(
            arrayBytes: MachineProbes.triadArrayBytes(requested: settings.triadMiB << 20, ranksHere: runtime.size),
            count: 5, synchronise: synchronise, slowest: slowest(over: runtime))
        // Job-wide: multiply-adds per generated token, weight bytes per step, sgemm rate and triad, summed over
        // ranks (each rank's triad figure is its bytes over the common pass time, so they add up).
        let local = [
            Double(weights.layerWeightParameters + weights.logitsMatrix.rows * weights.logitsMatrix.columns), sgemm,
            Double(weights.decodeBytesPerToken), MachineProbes.median(triadPasses),
        ]
        let sums = communicator.allreduceSum(local)
        let limits = ThroughputLimits(
            multiplyAddsPerToken: sums[0], weightBytesPerStep: sums[2], sgemmGFLOPS: sums[1], triadGBPerSecond: sums[3])
        guard runtime.isCoordinator else { return nil }
        let points = runs.map {
            ThroughputBenchmark.point(
                maxBatch: $0.batch, requests: $0.requests, promptTokens: settings.promptTokens,
                generatedTokens: settings.generatedTokens, seconds: $0.seconds, steps: $0.steps, timings: $0.timings,
                profile: $0.profile, limits: limits)
        }
        let report = ThroughputReport(
            model: ThroughputReport.summary(model.configuration), dtype: settings.dtype.rawValue,
            quantize: settings.quantization?.rawValue, precision: model.precision.rawValue, tp: runtime.size,
            threads: runtime.threads, weights: source, sampling: settings.greedy ? "greedy" : "top-p",
            sgemm_gflops: sums[1], triad_gb_per_s: sums[3], points: points)
        if let svgPath = settings.svgPath {
            try OutputFile.write(Array(ThroughputChart.svg(report).utf8), to: svgPath, option: "--svg")
        }
        return settings.format == .json ? try report.json() : report.markdown()
    }
}

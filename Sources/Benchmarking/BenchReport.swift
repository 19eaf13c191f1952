import Basics
import Configuration
import Coordination
import FoundationEssentials
import GLM
import ModelLoading
import Partitioning
import Tensors

/// What one rank measured, sent to rank 0 as JSON.
struct RankBenchResult: Codable, Sendable, WireMessage {
    var rank: Int
    var host: String
    var threads: Int
    var timings: ModelBenchmark.Timings
    var machine: MachineMeasurement
    /// Triad GB/s beside each repeat's decode (the passes just before and after it), per repeat.
    var triadBesideDecode: [Double]
    var weightBytesPerToken: Int
    var prefillFLOPs: Double
    var weightBytes: Int
    var kvCacheBytes: Int
    var peakResidentBytes: Int
}

/// Median, minimum and maximum of a few measurements.
struct Spread: Codable, Sendable, Equatable {
    var median: Double
    var min: Double
    var max: Double

    init(_ values: [Double]) {
        let sorted = values.sorted()
        precondition(!sorted.isEmpty, "a spread needs at least one value")
        let middle = sorted.count / 2
        median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        min = sorted.first!
        max = sorted.last!
    }
}

/// The figures reported for the job and for each rank (the JSON field names other tools read).
struct BenchFigures: Encodable {
    struct Prefill: Encodable {
        var tokens_per_second: Spread
        var seconds: Spread
        /// FLOPs of one prefill pass (all ranks for the job).
        var flops: Double
        /// `flops` over the median time, in 10^9 per second.
        var gflops: Double
        /// Average time of one pass by part, in ms.
        var split_ms: SplitMilliseconds
    }
    struct SplitMilliseconds: Encodable {
        var matmul: Double
        var attention: Double
        var allreduce: Double
        var sampling: Double
        var other: Double

        init(_ split: ModelBenchmark.Split) {
            matmul = split.matmul * 1e3
            attention = split.attention * 1e3
            allreduce = split.allreduce * 1e3
            sampling = split.sampling * 1e3
            other = split.other * 1e3
        }
    }
    struct Decode: Encodable {
        var ms_per_token: Spread
        var split_ms_per_token: SplitMilliseconds
        var weight_bytes_per_token: Int
        var effective_gb_per_s: Double
        var by_repeat: [DecodeRepeat]
    }
    /// One repeat's decode against the triad measured right beside it.
    struct DecodeRepeat: Encodable {
        var ms_per_token: Double
        var effective_gb_per_s: Double
        var triad_gb_per_s: Double
        var bandwidth_fraction: Double
    }
    struct Machine: Encodable {
        /// Median of the triad passes (interleaved with the model's repeats), and the best pass.
        var triad_gb_per_s: Double
        var triad_best_gb_per_s: Double
        var triad_passes: Int
        var sgemm_gflops: Double
        var dot_unit: String
        var dot_unit_peak_gflops: Double
        var cpu_features: String
        var blas_kernels: String
        var triad_array_mib: Int
        var sgemm_size: Int
        var dot_units: [DotUnitPeak]
    }
    struct Ratios: Encodable {
        /// Decode effective weight bandwidth / triad bandwidth (both medians over the run).
        var decode_bandwidth_fraction: Double
        /// The median over repeats of each repeat's effective bandwidth / the triad beside its decode.
        var decode_bandwidth_fraction_paired: Double
        /// Prefill FLOP rate / OpenBLAS sgemm FLOP rate.
        var prefill_sgemm_fraction: Double
        /// Prefill FLOP rate / peak of the dot-product unit for the weight format.
        var prefill_dot_unit_fraction: Double
    }

    var prefill: Prefill
    var decode: Decode
    var machine: Machine
    var ratios: Ratios

    /// Figures from per-repeat times and totals (one rank's, or the job's).
    init(
        prefillSeconds: [Double], prefillSplit: ModelBenchmark.Split, decodeSecondsPerToken: [Double],
        decodeSplit: ModelBenchmark.Split, promptTokens: Int, prefillFLOPs: Double, weightBytesPerToken: Int,
        triad: Double, triadBest: Double, triadBesideDecode: [Double], sgemm: Double, dotUnit: DotUnitPeak?,
        measurement: MachineMeasurement
    ) {
        let seconds = Spread(prefillSeconds)
        let rate = prefillFLOPs / seconds.median / 1e9
        prefill = Prefill(
            tokens_per_second: Spread(prefillSeconds.map { Double(promptTokens) / $0 }), seconds: seconds,
            flops: prefillFLOPs, gflops: rate, split_ms: SplitMilliseconds(prefillSplit))
        let perToken = Spread(decodeSecondsPerToken)
        let bandwidth = Double(weightBytesPerToken) / perToken.median / 1e9
        let byRepeat = zip(decodeSecondsPerToken, triadBesideDecode).map { seconds, triad in
            let effective = Double(weightBytesPerToken) / seconds / 1e9
            return DecodeRepeat(
                ms_per_token: seconds * 1e3, effective_gb_per_s: effective, triad_gb_per_s: triad,
                bandwidth_fraction: triad > 0 ? effective / triad : 0)
        }
        decode = Decode(
            ms_per_token: Spread(decodeSecondsPerToken.map { $0 * 1e3 }),
            split_ms_per_token: SplitMilliseconds(decodeSplit), weight_bytes_per_token: weightBytesPerToken,
            effective_gb_per_s: bandwidth, by_repeat: byRepeat)
        let peak = dotUnit?.gigaOpsPerSecond ?? 0
        machine = Machine(
            triad_gb_per_s: triad, triad_best_gb_per_s: triadBest, triad_passes: measurement.triadPasses,
            sgemm_gflops: sgemm, dot_unit: dotUnit?.name ?? "none", dot_unit_peak_gflops: peak,
            cpu_features: measurement.cpuFeatures, blas_kernels: measurement.blasKernels,
            triad_array_mib: measurement.triadArrayMiB, sgemm_size: measurement.sgemmSize,
            dot_units: measurement.dotUnits)
        ratios = Ratios(
            decode_bandwidth_fraction: triad > 0 ? bandwidth / triad : 0,
            decode_bandwidth_fraction_paired: byRepeat.isEmpty ? 0 : Spread(byRepeat.map(\.bandwidth_fraction)).median,
            prefill_sgemm_fraction: sgemm > 0 ? rate / sgemm : 0,
            prefill_dot_unit_fraction: peak > 0 ? rate / peak : 0)
    }

    /// One rank's figures.
    init(rank r: RankBenchResult, promptTokens: Int, format: WeightFormat, prefillKernels: Bool) {
        self.init(
            prefillSeconds: r.timings.prefillSeconds, prefillSplit: r.timings.prefillSplit,
            decodeSecondsPerToken: r.timings.decodeSecondsPerToken, decodeSplit: r.timings.decodeSplit,
            promptTokens: promptTokens, prefillFLOPs: r.prefillFLOPs, weightBytesPerToken: r.weightBytesPerToken,
            triad: r.machine.triadGBPerSecond, triadBest: r.machine.triadBestGBPerSecond,
            triadBesideDecode: r.triadBesideDecode, sgemm: r.machine.sgemmGFLOPS,
            dotUnit: r.machine.dotUnit(for: format, prefillKernels: prefillKernels),
            measurement: r.machine)
    }

    /// The job's figures: each repeat takes as long as its slowest rank; bytes, FLOPs and machine limits (measured
    /// on all ranks at once) add up over ranks; the time split is the mean over ranks.
    init(job ranks: [RankBenchResult], promptTokens: Int, format: WeightFormat, prefillKernels: Bool) {
        let repeats = ranks[0].timings.prefillSeconds.count
        func slowest(_ values: (RankBenchResult) -> [Double]) -> [Double] {
            (0..<repeats).map { i in ranks.map { values($0)[i] }.max()! }
        }
        func mean(_ split: (RankBenchResult) -> ModelBenchmark.Split) -> ModelBenchmark.Split {
            let n = Double(ranks.count)
            var total = ModelBenchmark.Split()
            for r in ranks {
                let s = split(r)
                total.matmul += s.matmul / n
                total.attention += s.attention / n
                total.allreduce += s.allreduce / n
                total.sampling += s.sampling / n
                total.other += s.other / n
            }
            return total
        }
        let units = ranks.map { $0.machine.dotUnit(for: format, prefillKernels: prefillKernels) }
        var unit = units[0]
        unit?.gigaOpsPerSecond = units.reduce(0) { $0 + ($1?.gigaOpsPerSecond ?? 0) }
        self.init(
            prefillSeconds: slowest { $0.timings.prefillSeconds }, prefillSplit: mean { $0.timings.prefillSplit },
            decodeSecondsPerToken: slowest { $0.timings.decodeSecondsPerToken },
            decodeSplit: mean { $0.timings.decodeSplit }, promptTokens: promptTokens,
            prefillFLOPs: ranks.reduce(0) { $0 + $1.prefillFLOPs },
            weightBytesPerToken: ranks.reduce(0) { $0 + $1.weightBytesPerToken },
            triad: ranks.reduce(0) { $0 + $1.machine.triadGBPerSecond },
            triadBest: ranks.reduce(0) { $0 + $1.machine.triadBestGBPerSecond },
            triadBesideDecode: (0..<repeats).map { i in ranks.reduce(0) { $0 + $1.triadBesideDecode[i] } },
            sgemm: ranks.reduce(0) { $0 + $1.machine.sgemmGFLOPS }, dotUnit: unit, measurement: ranks[0].machine)
    }
}

/// The whole report: the job's figures at the top level, each rank's in `ranks`.
struct BenchReport: Encodable {
    struct ModelSummary: Encodable {
        var configuration: ModelConfiguration
        var parameters: Int

        enum CodingKeys: String, CodingKey { case parameters }

        func encode(to encoder: Encoder) throws {
            try configuration.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(parameters, forKey: .parameters)
        }
    }
    struct Rank: Encodable {
        var rank: Int
        var host: String
        var threads: Int
        var figures: BenchFigures
        var weight_bytes: Int
        var kv_cache_bytes: Int
        var peak_rss_bytes: Int

        enum CodingKeys: String, CodingKey {
            case rank, host, threads, prefill, decode, machine, ratios, weight_bytes, kv_cache_bytes, peak_rss_bytes
        }

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(rank, forKey: .rank)
            try c.encode(host, forKey: .host)
            try c.encode(threads, forKey: .threads)
            try c.encode(figures.prefill, forKey: .prefill)
            try c.encode(figures.decode, forKey: .decode)
            try c.encode(figures.machine, forKey: .machine)
            try c.encode(figures.ratios, forKey: .ratios)
            try c.encode(weight_bytes, forKey: .weight_bytes)
            try c.encode(kv_cache_bytes, forKey: .kv_cache_bytes)
            try c.encode(peak_rss_bytes, forKey: .peak_rss_bytes)
        }
    }

    var model: ModelSummary
    var dtype: String
    var quantize: String?
    var precision: String
    /// The KV cache element type (`fp32` or `fp16`).
    var kv_cache: String
    /// How each decoded token is chosen: `greedy` (argmax) or `top-p 0.7` (the official default sampling).
    var sampling: String
    var tp: Int
    var threads: Int
    var prompt_tokens: Int
    var gen_tokens: Int
    var `repeat`: Int
    var job: BenchFigures
    var ranks: [Rank]
    /// Which weight source and kernels produced the numbers, for the reader.
    var weights: String
    /// The kernel routes the layer matrices took (`MatmulRoute`): decode's one row, prefill's row chunks.
    var routes: Routes
    /// The tensor-parallel sums per decoded token and per prefill: calls, bytes, time, transfer and waiting.
    var communication: CommunicationFigures

    struct Routes: Encodable {
        var decode: String
        var prefill: String
    }

    enum CodingKeys: String, CodingKey {
        case model, dtype, quantize, precision, kv_cache, sampling, tp, threads, prompt_tokens, gen_tokens, `repeat`
        case prefill, decode, machine, ratios, ranks, weights, routes, communication
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model)
        try c.encode(dtype, forKey: .dtype)
        try c.encode(quantize, forKey: .quantize)  // null when not quantized
        try c.encode(precision, forKey: .precision)
        try c.encode(kv_cache, forKey: .kv_cache)
        try c.encode(sampling, forKey: .sampling)
        try c.encode(tp, forKey: .tp)
        try c.encode(threads, forKey: .threads)
        try c.encode(prompt_tokens, forKey: .prompt_tokens)
        try c.encode(gen_tokens, forKey: .gen_tokens)
        try c.encode(`repeat`, forKey: .repeat)
        try c.encode(job.prefill, forKey: .prefill)
        try c.encode(job.decode, forKey: .decode)
        try c.encode(job.machine, forKey: .machine)
        try c.encode(job.ratios, forKey: .ratios)
        try c.encode(ranks, forKey: .ranks)
        try c.encode(weights, forKey: .weights)
        try c.encode(routes, forKey: .routes)
        try c.encode(communication, forKey: .communication)
    }

    init(
        configuration: ModelConfiguration, format: WeightFormat, dtype: String, quantize: String?, precision: String,
        kvCache: String, sampling: String, promptTokens: Int, generatedTokens: Int, repeats: Int, weights: String,
        routes: (decode: MatmulRoute, prefill: MatmulRoute), results: [RankBenchResult]
    ) {
        let parameters = WeightSpec.all(for: configuration).reduce(0) { $0 + $1.shape.reduce(1, *) }
        model = ModelSummary(configuration: configuration, parameters: parameters)
        self.dtype = dtype
        self.quantize = quantize
        self.precision = precision
        kv_cache = kvCache
        self.sampling = sampling
        tp = results.count
        threads = results[0].threads
        prompt_tokens = promptTokens
        gen_tokens = generatedTokens
        `repeat` = repeats
        self.weights = weights
        self.routes = Routes(decode: routes.decode.description, prefill: routes.prefill.description)
        // The unit prefill's figures are rated against: the dot-product GEMM's where prefill takes it.
        let prefillKernels = routes.prefill.kernel == .dotProductGEMM
        job = BenchFigures(job: results, promptTokens: promptTokens, format: format, prefillKernels: prefillKernels)
        communication = CommunicationFigures(results)
        ranks = results.map {
            Rank(
                rank: $0.rank, host: $0.host, threads: $0.threads,
                figures: BenchFigures(
                    rank: $0, promptTokens: promptTokens, format: format, prefillKernels: prefillKernels),
                weight_bytes: $0.weightBytes, kv_cache_bytes: $0.kvCacheBytes, peak_rss_bytes: $0.peakResidentBytes)
        }
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// Readable tables: throughput, the decode time split, the machine's limits and the ratios; a row for the job
    /// and one per rank.
    func markdown() -> String {
        let c = model.configuration
        let rows: [(String, BenchFigures)] = [("job", job)] + ranks.map { ("rank \($0.rank)", $0.figures) }
        func f(_ value: Double, _ digits: Int = 1) -> String { String(printf: "%.\(digits)f", value) }
        func spread(_ s: Spread, _ digits: Int = 1) -> String {
            "\(f(s.median, digits)) (\(f(s.min, digits))–\(f(s.max, digits)))"
        }
        var out = "## glmcluster bench\n\n"
        out += "Model: \(c.numLayers) layers, hidden \(c.hiddenSize), \(c.numAttentionHeads) heads, FFN "
        let parameters = Double(model.parameters)
        out += "\(c.innerHiddenSize), vocab \(c.vocabSize): "
        out += parameters >= 1e9 ? "\(f(parameters / 1e9, 2))B parameters. " : "\(f(parameters / 1e6, 2))M parameters. "
        out += "Weights \(dtype)\(quantize.map { " quantized \($0)" } ?? "") (\(weights)), \(precision) precision "
        out += "(routes: decode \(routes.decode); prefill \(routes.prefill)), "
        out += "\(kv_cache) KV cache, \(sampling) sampling; "
        out += "TP \(tp), \(threads) "
        out += "thread\(threads == 1 ? "" : "s") per rank; prompt \(prompt_tokens) tokens, \(gen_tokens) generated, "
        out += "\(`repeat`) repeat\(`repeat` == 1 ? "" : "s") (median (min–max)).\n\n"

        out += "| | prefill tokens/s | prefill GFLOP/s | decode ms/token | weight MB/token | effective GB/s |\n"
        out += "|---|---:|---:|---:|---:|---:|\n"
        for (name, figures) in rows {
            out += "| \(name) | \(spread(figures.prefill.tokens_per_second)) | \(f(figures.prefill.gflops)) | "
            out += "\(spread(figures.decode.ms_per_token, 2)) | "
            out +=
                "\(f(Double(figures.decode.weight_bytes_per_token) / 1e6)) | \(f(figures.decode.effective_gb_per_s, 2)) |\n"
        }
        out += "\nDecode time per token (ms):\n\n"
        out += "| | matmul | attention | allreduce | sampling | other |\n|---|---:|---:|---:|---:|---:|\n"
        for (name, figures) in rows {
            let s = figures.decode.split_ms_per_token
            out += "| \(name) | \(f(s.matmul, 2)) | \(f(s.attention, 2)) | \(f(s.allreduce, 2)) | "
            out += "\(f(s.sampling, 2)) | \(f(s.other, 2)) |\n"
        }
        if tp > 1 {
            out += "\nTensor-parallel sums (allreduce of fp32 partial sums; rank 0's time, split into transfer, the "
            out += "shortest time of each call over the ranks, and waiting for slower ranks):\n\n"
            out += "| | calls | bytes per rank | ms | transfer ms | wait ms | longest wait ms |\n"
            out += "|---|---:|---:|---:|---:|---:|---:|\n"
            for (name, p) in [("per decoded token", communication.decode), ("per prefill", communication.prefill)] {
                out += "| \(name) | \(p.calls) | \(p.bytes_per_rank) | \(f(p.ms, 3)) | \(f(p.transfer_ms, 3)) | "
                out += "\(f(p.wait_ms, 3)) | \(f(p.max_wait_ms, 3)) |\n"
            }
        }
        out += "\nMachine limits (measured in this run, on these ranks at once) and ratios:\n\n"
        out +=
            "| | triad GB/s | sgemm GFLOP/s | dot unit | peak GOP/s | decode/triad | decode/triad beside | "
        out += "prefill/sgemm | prefill/peak |\n"
        out += "|---|---:|---:|---|---:|---:|---:|---:|---:|\n"
        for (name, figures) in rows {
            let m = figures.machine
            let r = figures.ratios
            out += "| \(name) | \(f(m.triad_gb_per_s)) | \(f(m.sgemm_gflops)) | \(m.dot_unit) | "
            out += "\(f(m.dot_unit_peak_gflops)) | \(f(r.decode_bandwidth_fraction, 2)) | "
            out += "\(f(r.decode_bandwidth_fraction_paired, 2)) | "
            out += "\(f(r.prefill_sgemm_fraction, 2)) | \(f(r.prefill_dot_unit_fraction, 2)) |\n"
        }
        out += "\nTriad: median of \(job.machine.triad_passes) passes interleaved with the repeats (best "
        out += "\(f(job.machine.triad_best_gb_per_s)) GB/s). Decode/triad beside: the median over repeats of each "
        out += "repeat's decode against the triad passes just before and after it ("
        out += job.decode.by_repeat.map { "\(f($0.effective_gb_per_s)) / \(f($0.triad_gb_per_s)) GB/s" }.joined(
            separator: ", ")
        out += ").\n"
        out += "\nCPU: \(job.machine.cpu_features); triad arrays \(job.machine.triad_array_mib) MiB each, sgemm "
        out += "\(job.machine.sgemm_size)³ (OpenBLAS \(job.machine.blas_kernels) kernels); all dot units on rank 0: "
        out += job.machine.dot_units.map { "\($0.name) \(f($0.gigaOpsPerSecond)) GOP/s" }.joined(
            separator: ", ")
        out += ".\n\nPeak RSS before the probes: "
        out += ranks.map {
            "rank \($0.rank) \(f(Double($0.peak_rss_bytes) / 1_048_576, 0)) MiB for \(f(Double($0.weight_bytes) / 1_048_576, 0)) "
                + "MiB of weights and \(f(Double($0.kv_cache_bytes) / 1_048_576, 0)) MiB of KV cache"
        }.joined(separator: "; ")
        out += ".\n"
        return out
    }
}

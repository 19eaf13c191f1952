import Foundation
import Testing

/// `glmcluster bench` through the real binary on a tiny random configuration, on one rank and under
/// `mpirun -np 2`: the JSON has the documented shape and sane values, the markdown has its tables, and bad options
/// fail with a clear message. No timing is asserted (CI machines are noisy); only that figures are positive and the
/// ratios are plausible fractions.
@Suite(.serialized) struct BenchTests {
    /// 2 layers, hidden 64, 4 heads, FFN 128, vocabulary 1024: about 0.15M parameters.
    static let tinyConfiguration = """
        {"num_layers": 2, "hidden_size": 64, "num_attention_heads": 4, "inner_hidden_size": 128,
         "vocab_size": 1024, "max_sequence_length": 64, "layernorm_epsilon": 1e-05,
         "tokenizer": {"model": "none.model", "num_image_tokens": 0, "command_tokens_start": 1000, "eos": 1}}
        """

    /// Small machine probes so a run takes seconds.
    static let quickProbes = ["--triad-mib", "16", "--sgemm-size", "128", "--threads", "1"]

    static func writeConfiguration(_ text: String = tinyConfiguration) throws -> URL {
        let directory = try CommandRunner.temporaryDirectory("bench")
        let url = directory.appendingPathComponent("config.json")
        try Data(text.utf8).write(to: url)
        return url
    }

    struct Report: Decodable {
        struct Model: Decodable {
            var num_layers: Int
            var hidden_size: Int
            var vocab_size: Int
            var parameters: Int
        }
        struct Spread: Decodable {
            var median: Double
            var min: Double
            var max: Double
        }
        struct Prefill: Decodable {
            var tokens_per_second: Spread
        }
        struct Split: Decodable {
            var matmul: Double
            var attention: Double
            var allreduce: Double
            var sampling: Double
            var other: Double
        }
        struct Decode: Decodable {
            var ms_per_token: Spread
            var split_ms_per_token: Split
            var weight_bytes_per_token: Int
            var effective_gb_per_s: Double
            var by_repeat: [DecodeRepeat]
        }
        struct DecodeRepeat: Decodable {
            var ms_per_token: Double
            var effective_gb_per_s: Double
            var triad_gb_per_s: Double
            var bandwidth_fraction: Double
        }
        struct Machine: Decodable {
            var triad_gb_per_s: Double
            var triad_best_gb_per_s: Double
            var triad_passes: Int
            var sgemm_gflops: Double
            var dot_unit: String
            var dot_unit_peak_gflops: Double
            var blas_kernels: String
            var cpu_features: String
        }
        struct Ratios: Decodable {
            var decode_bandwidth_fraction: Double
            var decode_bandwidth_fraction_paired: Double
            var prefill_sgemm_fraction: Double
            var prefill_dot_unit_fraction: Double
        }
        struct Rank: Decodable {
            var rank: Int
            var prefill: Prefill
            var decode: Decode
            var machine: Machine
            var ratios: Ratios
            var weight_bytes: Int
        }
        var model: Model
        var dtype: String
        var sampling: String
        var quantize: String?
        var tp: Int
        var threads: Int
        var prompt_tokens: Int
        var gen_tokens: Int
        var `repeat`: Int
        var prefill: Prefill
        var decode: Decode
        var machine: Machine
        var ratios: Ratios
        var ranks: [Rank]
        var communication: Communication
    }

    struct Communication: Decodable {
        struct Phase: Decodable {
            var calls: Int
            var bytes_per_rank: Int
            var ms: Double
            var transfer_ms: Double
            var wait_ms: Double
            var max_wait_ms: Double
        }
        var decode: Phase
        var prefill: Phase
    }

    /// Weight bytes one decoded token reads in the tiny model at `bytesPerWeight` (all matrices, logits included).
    static func tinyDecodeBytes(bytesPerWeight: Int) -> Int {
        let h = 64
        let f = 128
        let layer = 3 * h * h + h * h + 2 * f * h + h * f
        return (2 * layer + 1024 * h) * bytesPerWeight
    }

    static func checkSane(_ spread: Report.Spread, _ label: String) {
        #expect(spread.min > 0 && spread.min <= spread.median && spread.median <= spread.max, "\(label)")
    }

    static func checkSane(
        _ decode: Report.Decode, _ prefill: Report.Prefill, _ machine: Report.Machine,
        _ ratios: Report.Ratios, label: String
    ) {
        checkSane(prefill.tokens_per_second, "\(label) prefill")
        checkSane(decode.ms_per_token, "\(label) decode")
        let s = decode.split_ms_per_token
        for part in [s.matmul, s.attention, s.sampling, s.other] { #expect(part >= 0, "\(label) split") }
        #expect(s.matmul > 0, "\(label): matmul time is measured")
        #expect(s.allreduce >= 0)
        #expect(s.matmul + s.attention + s.allreduce + s.sampling + s.other <= decode.ms_per_token.max * 1.01 + 0.01)
        #expect(decode.weight_bytes_per_token > 0 && decode.effective_gb_per_s > 0, "\(label)")
        #expect(machine.triad_gb_per_s > 0 && machine.sgemm_gflops > 0, "\(label)")
        // The median of two passes after each repeat and three after the model can never beat the best pass.
        #expect(machine.triad_best_gb_per_s >= machine.triad_gb_per_s, "\(label)")
        #expect(machine.triad_passes >= 5, "\(label)")
        #expect(!machine.dot_unit.isEmpty && machine.dot_unit_peak_gflops > 0, "\(label)")
        // Every bench here runs exact precision, whose prefill is OpenBLAS sgemm on the fp32 FMAs whatever the
        // weight format, so that is the unit its prefill ratio is taken against.
        #expect(machine.dot_unit.hasPrefix("vfmadd231ps"), "\(label): prefill unit \(machine.dot_unit)")
        #expect(!machine.blas_kernels.isEmpty, "\(label)")
        // Each repeat's decode against the triad beside it: the per-repeat times are the spread's, each fraction is
        // that repeat's bytes over its time over its triad, and the paired ratio is their median.
        let repeats = decode.by_repeat
        #expect(!repeats.isEmpty, "\(label): one entry per repeat")
        let times = repeats.map(\.ms_per_token).sorted()
        #expect(times.first == decode.ms_per_token.min && times.last == decode.ms_per_token.max, "\(label)")
        for r in repeats {
            let effective = Double(decode.weight_bytes_per_token) / (r.ms_per_token * 1e-3) / 1e9
            #expect(abs(r.effective_gb_per_s - effective) <= 1e-9 * effective, "\(label) repeat bandwidth")
            #expect(r.triad_gb_per_s > 0 && r.triad_gb_per_s <= machine.triad_best_gb_per_s * (1 + 1e-9), "\(label)")
            #expect(abs(r.bandwidth_fraction - effective / r.triad_gb_per_s) <= 1e-9 * r.bandwidth_fraction)
        }
        let fractions = repeats.map(\.bandwidth_fraction).sorted()
        let middle = fractions.count / 2
        let median = fractions.count % 2 == 1 ? fractions[middle] : (fractions[middle - 1] + fractions[middle]) / 2
        #expect(abs(ratios.decode_bandwidth_fraction_paired - median) <= 1e-12, "\(label) paired ratio")
        for (name, value) in [
            ("decode_bandwidth_fraction", ratios.decode_bandwidth_fraction),
            ("decode_bandwidth_fraction_paired", ratios.decode_bandwidth_fraction_paired),
            ("prefill_sgemm_fraction", ratios.prefill_sgemm_fraction),
            ("prefill_dot_unit_fraction", ratios.prefill_dot_unit_fraction),
        ] {
            #expect(value > 0 && value < 2, "\(label) \(name) = \(value)")
        }
    }

    static func bench(ranks: Int, _ extra: [String]) throws -> Report {
        let config = try writeConfiguration()
        defer { try? FileManager.default.removeItem(at: config.deletingLastPathComponent()) }
        let arguments =
            [
                "bench", "--config", config.path, "--prompt-tokens", "8", "--gen-tokens", "4", "--repeat", "2",
                "--format", "json",
            ] + quickProbes + extra
        let result = ranks == 1 ? try CommandRunner.glm(arguments) : try CommandRunner.mpirun(ranks, arguments)
        try #require(result.status == 0, "bench on \(ranks) ranks failed: \(result.stderr)")
        return try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
    }

    /// `--greedy` applies to the sweep too (argmax instead of the release's top-p sampling, as llama-batched-bench
    /// decodes without sampling), and the report says which ran.
    @Test func greedySweepSaysSo() throws {
        struct Sweep: Decodable {
            struct Point: Decodable { var forward_passes: Int }
            var sampling: String
            var points: [Point]
        }
        let config = try Self.writeConfiguration()
        defer { try? FileManager.default.removeItem(at: config.deletingLastPathComponent()) }
        let arguments =
            [
                "bench", "--config", config.path, "--prompt-tokens", "6", "--gen-tokens", "5", "--batch-sizes", "2",
                "--greedy", "--format", "json",
            ] + Self.quickProbes
        let result = try CommandRunner.glm(arguments)
        try #require(result.status == 0, "\(result.stderr)")
        let sweep = try JSONDecoder().decode(Sweep.self, from: Data(result.stdout.utf8))
        #expect(sweep.sampling == "greedy")
        #expect(sweep.points.map(\.forward_passes) == [5])
    }

    /// `--batch-sizes`: one point per batch size (and per concurrency), sane percentiles, an SVG that parses, and
    /// the same sweep under mpirun -np 2.
    @Test(arguments: [1, 2])
    func throughputSweepReportsEveryPointAndDrawsAChart(ranks: Int) throws {
        struct Sweep: Decodable {
            struct Percentiles: Decodable { var p50: Double; var p90: Double; var p99: Double }
            struct Point: Decodable {
                var max_batch: Int
                var requests: Int
                var output_tokens_per_second: Double
                var time_to_first_token_ms: Percentiles
                var time_per_output_token_ms: Percentiles
                var inter_token_latency_ms: Percentiles
                var end_to_end_latency_ms: Percentiles
                var sgemm_bound_fraction: Double
                var roofline_tokens_per_second: Double
                var forward_passes: Int
            }
            var tp: Int
            var sampling: String
            var sgemm_gflops: Double
            var triad_gb_per_s: Double
            var points: [Point]
        }
        let config = try Self.writeConfiguration()
        defer { try? FileManager.default.removeItem(at: config.deletingLastPathComponent()) }
        let svg = config.deletingLastPathComponent().appendingPathComponent("sweep.svg").path
        let arguments =
            [
                "bench", "--config", config.path, "--prompt-tokens", "6", "--gen-tokens", "5", "--batch-sizes", "1",
                "3",
                "--concurrency", "1", "4", "--svg", svg, "--format", "json",
            ] + Self.quickProbes
        let result = ranks == 1 ? try CommandRunner.glm(arguments) : try CommandRunner.mpirun(ranks, arguments)
        try #require(result.status == 0, "\(result.stderr)")
        let sweep = try JSONDecoder().decode(Sweep.self, from: Data(result.stdout.utf8))
        #expect(sweep.tp == ranks)
        #expect(sweep.sampling == "top-p")
        #expect(sweep.points.map(\.max_batch) == [1, 1, 3, 3] && sweep.points.map(\.requests) == [1, 4, 1, 4])
        for point in sweep.points {
            #expect(point.output_tokens_per_second > 0 && point.sgemm_bound_fraction > 0)
            for p in [
                point.time_to_first_token_ms, point.time_per_output_token_ms, point.inter_token_latency_ms,
                point.end_to_end_latency_ms,
            ] {
                #expect(p.p50 > 0 && p.p50 <= p.p90 && p.p90 <= p.p99)
            }
            // Continuous batching: 4 requests of 5 tokens need 4 x 5 passes one at a time, fewer three at a time.
            if point.requests == 4 { #expect(point.forward_passes == (point.max_batch == 1 ? 20 : 10)) }
            // The roofline from the tiny model's shape: per layer QKV 3h*h + dense h*h + h_to_4h 2f*h + 4h_to_h
            // h*f multiply-adds, plus the h*vocab logits projection; fp16 weights read once per step.
            let (h, f, layers, vocabulary) = (64.0, 128.0, 2.0, 1024.0)
            let multiplyAdds = layers * (3 * h * h + h * h + 2 * f * h + h * f) + h * vocabulary
            let batch = Double(point.max_batch)
            let stepSeconds = max(
                2 * multiplyAdds / (sweep.triad_gb_per_s * 1e9), batch * 2 * multiplyAdds / (sweep.sgemm_gflops * 1e9))
            let expected = batch / stepSeconds
            #expect(
                abs(point.roofline_tokens_per_second - expected) <= 1e-9 * expected,
                "roofline \(point.roofline_tokens_per_second) tok/s, expected \(expected)")
        }
        let chart = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(chart.hasPrefix("<svg") && chart.contains("<polyline") && chart.hasSuffix("</svg>\n"))
        // Well-formed XML with an <svg> root, checked by Python's parser.
        let parsed = try CommandRunner.python(
            ["-c", "import sys, xml.dom.minidom as m; print(m.parse(sys.argv[1]).documentElement.tagName)", svg])
        #expect(parsed.status == 0 && parsed.stdout == "svg\n", "\(parsed.stderr)")
    }

    @Test func singleRankJSONHasTheShapeAndSaneValues() throws {
        let report = try Self.bench(ranks: 1, [])
        #expect(report.model.num_layers == 2 && report.model.hidden_size == 64 && report.model.vocab_size == 1024)
        #expect(report.model.parameters > 0)
        #expect(report.dtype == "fp16" && report.quantize == nil)
        #expect(report.tp == 1 && report.threads == 1)
        #expect(report.prompt_tokens == 8 && report.gen_tokens == 4 && report.repeat == 2)
        #expect(report.decode.weight_bytes_per_token == Self.tinyDecodeBytes(bytesPerWeight: 2))
        Self.checkSane(report.decode, report.prefill, report.machine, report.ratios, label: "tp1")
        #expect(report.ranks.count == 1)
        #expect(report.ranks.first?.decode.weight_bytes_per_token == report.decode.weight_bytes_per_token)
        #expect(report.decode.split_ms_per_token.allreduce == 0, "one rank has nothing to sum")
        #expect(report.communication.decode.calls == 0 && report.communication.prefill.ms == 0)
    }

    @Test func twoRanksReportPerRankAndForTheJob() throws {
        let report = try Self.bench(ranks: 2, ["--dtype", "fp32"])
        #expect(report.tp == 2 && report.dtype == "fp32")
        #expect(report.sampling == "top-p 0.7", "the official sampling unless --greedy")
        #expect(report.ranks.map(\.rank) == [0, 1])
        Self.checkSane(report.decode, report.prefill, report.machine, report.ratios, label: "job")
        for rank in report.ranks {
            Self.checkSane(rank.decode, rank.prefill, rank.machine, rank.ratios, label: "rank \(rank.rank)")
            #expect(rank.decode.weight_bytes_per_token == Self.tinyDecodeBytes(bytesPerWeight: 4) / 2)
            #expect(rank.weight_bytes > 0)
        }
        // The job reads every rank's share and has every rank's bandwidth.
        #expect(report.decode.weight_bytes_per_token == Self.tinyDecodeBytes(bytesPerWeight: 4))
        let triads = report.ranks.reduce(0) { $0 + $1.machine.triad_gb_per_s }
        #expect(abs(report.machine.triad_gb_per_s - triads) <= 1e-6 * triads)
        // Per repeat too: the job's triad beside a decode is the ranks' (measured at once) added up.
        for (i, repeatFigures) in report.decode.by_repeat.enumerated() {
            let beside = report.ranks.reduce(0) { $0 + $1.decode.by_repeat[i].triad_gb_per_s }
            #expect(abs(repeatFigures.triad_gb_per_s - beside) <= 1e-6 * beside)
        }
        #expect(report.decode.split_ms_per_token.allreduce > 0, "two ranks sum partial products")
        // The embedding and two row-parallel products per layer, each a sum of hidden-size fp32 rows: one row per
        // decoded token, the prompt's 8 in prefill. Rank 0's time is its transfer plus its wait.
        let communication = report.communication
        #expect(communication.decode.calls == 5 && communication.prefill.calls == 5)
        #expect(communication.decode.bytes_per_rank == 5 * 64 * 4)
        #expect(communication.prefill.bytes_per_rank == 5 * 8 * 64 * 4)
        for phase in [communication.decode, communication.prefill] {
            #expect(phase.transfer_ms > 0 && phase.wait_ms >= 0 && phase.max_wait_ms >= phase.wait_ms)
            #expect(abs(phase.ms - phase.transfer_ms - phase.wait_ms) <= 1e-9 + 1e-9 * phase.ms)
        }
        // The split's allreduce time is the mean over ranks of the same calls.
        #expect(communication.decode.ms <= 2 * report.decode.split_ms_per_token.allreduce + 1e-6)
    }

    @Test func bfloat16AndQuantizedWeights() throws {
        let bf16 = try Self.bench(ranks: 1, ["--dtype", "bf16", "--repeat", "1", "--greedy"])
        #expect(bf16.dtype == "bf16" && bf16.decode.weight_bytes_per_token == Self.tinyDecodeBytes(bytesPerWeight: 2))
        #expect(bf16.sampling == "greedy")
        Self.checkSane(bf16.decode, bf16.prefill, bf16.machine, bf16.ratios, label: "bf16")

        let int8 = try Self.bench(ranks: 1, ["--quantize", "int8", "--repeat", "1"])
        #expect(int8.quantize == "int8")
        // Layer matrices: one byte per weight plus an fp16 scale per row; the embedding stays fp16.
        let h = 64
        let f = 128
        let layerBytes = (3 * h * h + h * h + 2 * f * h + h * f) + (3 * h + h + 2 * f + h) * 2
        #expect(int8.decode.weight_bytes_per_token == 2 * layerBytes + 1024 * h * 2)
        Self.checkSane(int8.decode, int8.prefill, int8.machine, int8.ratios, label: "int8")
    }

    @Test func markdownHasTheTables() throws {
        let config = try Self.writeConfiguration()
        defer { try? FileManager.default.removeItem(at: config.deletingLastPathComponent()) }
        let result = try CommandRunner.glm(
            ["bench", "--config", config.path, "--prompt-tokens", "4", "--gen-tokens", "2", "--repeat", "1"]
                + Self.quickProbes)
        try #require(result.status == 0, "\(result.stderr)")
        let text = result.stdout
        for needle in [
            "| | prefill tokens/s | prefill GFLOP/s | decode ms/token | weight MB/token | effective GB/s |",
            "| | matmul | attention | allreduce | sampling | other |",
            "| | triad GB/s | sgemm GFLOP/s | dot unit | peak GOP/s | decode/triad | decode/triad beside | "
                + "prefill/sgemm | prefill/peak |",
            "Decode/triad beside: the median over repeats",
            "| job |", "| rank 0 |",
        ] {
            #expect(text.contains(needle), "missing \(needle) in\n\(text)")
        }
    }

    @Test(
        arguments: [
            (["--prompt-tokens", "4", "--gen-tokens", "2"], "exactly one of --model and --config"),
            (
                ["--config", "CONFIG", "--model", "/tmp", "--prompt-tokens", "4", "--gen-tokens", "2"],
                "exactly one of --model and --config"
            ),
            (["--config", "CONFIG", "--prompt-tokens", "0", "--gen-tokens", "2"], "--prompt-tokens must be positive"),
            (["--config", "CONFIG", "--prompt-tokens", "4", "--gen-tokens", "0"], "--gen-tokens must be positive"),
            (
                ["--config", "CONFIG", "--prompt-tokens", "4", "--gen-tokens", "2", "--repeat", "0"],
                "--repeat must be positive"
            ),
            (["--config", "CONFIG", "--prompt-tokens", "4", "--gen-tokens", "2", "--dtype", "fp8"], "fp8"),
            (["--config", "CONFIG", "--prompt-tokens", "4", "--gen-tokens", "2", "--quantize", "int3"], "int3"),
            (["--config", "CONFIG", "--prompt-tokens", "4", "--gen-tokens", "2", "--format", "xml"], "xml"),
            (["--config", "CONFIG", "--prompt-tokens", "60", "--gen-tokens", "10"], "exceeds max_sequence_length 64"),
            (
                ["--config", "/nonexistent/config.json", "--prompt-tokens", "4", "--gen-tokens", "2"],
                "/nonexistent/config.json"
            ),
            (
                ["--config", "CONFIG", "--prompt-tokens", "4", "--gen-tokens", "2", "--tp", "2"],
                "--tp 2 needs 2 MPI ranks"
            ),
        ] as [([String], String)])
    func badOptionsFailClearly(arguments: [String], mentions: String) throws {
        let config = try Self.writeConfiguration()
        defer { try? FileManager.default.removeItem(at: config.deletingLastPathComponent()) }
        let result = try CommandRunner.run(
            CommandRunner.glmcluster, ["bench"] + arguments.map { $0 == "CONFIG" ? config.path : $0 }, timeout: 60)
        #expect(result.status != 0 && result.status < 128, "status \(result.status)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains(mentions), "stderr: \(result.stderr)")
    }
}

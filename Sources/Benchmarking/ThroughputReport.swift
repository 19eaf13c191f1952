import Basics
import Configuration
import FoundationEssentials
import GLM
import Glibc
import Partitioning

/// What `bench --batch-sizes` prints: one row per (max batch, concurrent requests) point, with the job's sgemm
/// rate measured on the same ranks after the sweep.
struct ThroughputReport: Encodable {
    var model: BenchReport.ModelSummary
    var dtype: String
    var quantize: String?
    var precision: String
    var tp: Int
    var threads: Int
    var weights: String
    /// "top-p" (the release's defaults, as generate samples) or "greedy" (`--greedy`).
    var sampling: String
    var sgemm_gflops: Double
    var triad_gb_per_s: Double
    var points: [ThroughputPoint]

    static func summary(_ configuration: ModelConfiguration) -> BenchReport.ModelSummary {
        let parameters = WeightSpec.all(for: configuration).reduce(0) { $0 + $1.shape.reduce(1, *) }
        return BenchReport.ModelSummary(configuration: configuration, parameters: parameters)
    }

    /// Output tokens/s at each point relative to the first point (normally batch 1).
    var speedups: [Double] {
        guard let base = points.first?.output_tokens_per_second, base > 0 else { return points.map { _ in 0 } }
        return points.map { $0.output_tokens_per_second / base }
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    func markdown() -> String {
        func f(_ value: Double, _ digits: Int = 1) -> String { String(printf: "%.\(digits)f", value) }
        func p(_ v: ThroughputPoint.Percentiles) -> String { "\(f(v.p50)) / \(f(v.p90)) / \(f(v.p99))" }
        var out = "Throughput sweep: \(model.parameters) parameters, \(quantize ?? dtype), precision \(precision), "
        out += "TP \(tp), \(threads) threads per rank; weights: \(weights); sampling: \(sampling). Each request: P = "
        out += "\(points.first?.prompt_tokens ?? 0) prompt tokens, G = \(points.first?.gen_tokens ?? 0) generated.\n\n"
        out += "| max batch | requests | output tok/s | vs first | TTFT ms p50/p90/p99 | TPOT ms p50/p90/p99 | "
        out += "ITL ms p50/p90/p99 | E2E ms p50/p90/p99 | sgemm-bound tok/s | fraction | roofline tok/s | "
        out += "roofline vs first | fraction |\n"
        out += "|---:|---:|---:|---:|---|---|---|---|---:|---:|---:|---:|---:|\n"
        for (point, speedup) in zip(points, speedups) {
            out += "| \(point.max_batch) | \(point.requests) | \(f(point.output_tokens_per_second, 2)) | "
            out += "\(f(speedup, 2))x | \(p(point.time_to_first_token_ms)) | \(p(point.time_per_output_token_ms)) | "
            out += "\(p(point.inter_token_latency_ms)) | \(p(point.end_to_end_latency_ms)) | "
            out += "\(f(point.sgemm_bound_tokens_per_second)) | \(f(point.sgemm_bound_fraction, 3)) | "
            out += "\(f(point.roofline_tokens_per_second)) | \(f(rooflineSpeedup(point), 2))x | "
            out += "\(f(point.roofline_fraction, 3)) |\n"
        }
        out +=
            "\nTime per forward pass (ms, rank 0): matmul / attention / allreduce / rest of the pass / between passes "
        out += "(sampling, scheduling):\n\n"
        for point in points {
            let s = point.split_ms_per_pass
            out += "- batch \(point.max_batch), \(point.requests) requests: \(f(s.matmul)) / \(f(s.attention)) / "
            out += "\(f(s.allreduce)) / \(f(s.other_forward)) / \(f(s.outside))\n"
        }
        out +=
            "\nsgemm and triad (job, measured after the sweep): \(f(sgemm_gflops)) GFLOP/s, \(f(triad_gb_per_s)) GB/s. "
        out += "The sgemm-bound limit is that rate over 2 FLOPs per weight per generated token (layer matrices and "
        out += "logits; attention not counted). The roofline is the slower of one weight read per step at the triad "
        out += "rate and the batch's FLOPs at the sgemm rate: 'roofline vs first' is the most batching can gain here.\n"
        return out
    }

    /// The roofline of a point over the roofline of the first point: the speed-up the machine allows.
    func rooflineSpeedup(_ point: ThroughputPoint) -> Double {
        guard let base = points.first?.roofline_tokens_per_second, base > 0 else { return 0 }
        return point.roofline_tokens_per_second / base
    }
}

/// A dependency-free SVG line chart: output tokens/s (left axis) and p50 time per output token (right axis)
/// against max batch size, one point per sweep point with requests = batch size (or the first per batch size).
enum ThroughputChart {
    static func svg(_ report: ThroughputReport) -> String {
        var byBatch: [Int: ThroughputPoint] = [:]
        for point in report.points where byBatch[point.max_batch] == nil { byBatch[point.max_batch] = point }
        let points = byBatch.keys.sorted().map { byBatch[$0]! }
        let (width, height) = (720.0, 420.0)
        let (left, right, top, bottom) = (70.0, 70.0, 50.0, 60.0)
        let plotW = width - left - right
        let plotH = height - top - bottom
        let batches = points.map { Double($0.max_batch) }
        let logX = (batches.max() ?? 1) / max(batches.min() ?? 1, 1) >= 8
        func x(_ b: Double) -> Double {
            let lo = batches.min() ?? 1
            let hi = max(batches.max() ?? 1, lo + 1e-9)
            let t = logX ? (log2(b) - log2(lo)) / max(log2(hi) - log2(lo), 1e-9) : (b - lo) / (hi - lo)
            return left + (points.count == 1 ? 0.5 : t) * plotW
        }
        let rates = points.map(\.output_tokens_per_second)
        let latencies = points.map(\.time_per_output_token_ms.p50)
        let rateMax = nice(rates.max() ?? 1)
        let latencyMax = nice(latencies.max() ?? 1)
        func yRate(_ v: Double) -> Double { top + plotH * (1 - v / rateMax) }
        func yLatency(_ v: Double) -> Double { top + plotH * (1 - v / latencyMax) }
        func fmt(_ v: Double) -> String { String(printf: "%.1f", v) }
        func label(_ v: Double) -> String { v >= 100 ? String(printf: "%.0f", v) : String(printf: "%.3g", v) }

        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
        s += "viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        let title =
            "GLMCluster throughput, TP \(report.tp), \(report.quantize ?? report.dtype), "
            + "P=\(points.first?.prompt_tokens ?? 0) G=\(points.first?.gen_tokens ?? 0)"
        s += "<text x=\"\(fmt(width / 2))\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">\(escape(title))</text>\n"
        // Grid and axes.
        for i in 0...4 {
            let fraction = Double(i) / 4
            let y = top + plotH * (1 - fraction)
            s +=
                "<line x1=\"\(fmt(left))\" y1=\"\(fmt(y))\" x2=\"\(fmt(left + plotW))\" y2=\"\(fmt(y))\" stroke=\"#ddd\"/>\n"
            s += "<text x=\"\(fmt(left - 6))\" y=\"\(fmt(y + 4))\" text-anchor=\"end\" fill=\"#1f77b4\">"
            s += "\(label(rateMax * fraction))</text>\n"
            s += "<text x=\"\(fmt(left + plotW + 6))\" y=\"\(fmt(y + 4))\" fill=\"#d62728\">"
            s += "\(label(latencyMax * fraction))</text>\n"
        }
        s += "<rect x=\"\(fmt(left))\" y=\"\(fmt(top))\" width=\"\(fmt(plotW))\" height=\"\(fmt(plotH))\" "
        s += "fill=\"none\" stroke=\"#333\"/>\n"
        for point in points {
            let px = x(Double(point.max_batch))
            s +=
                "<text x=\"\(fmt(px))\" y=\"\(fmt(top + plotH + 18))\" text-anchor=\"middle\">\(point.max_batch)</text>\n"
        }
        s += "<text x=\"\(fmt(left + plotW / 2))\" y=\"\(fmt(height - 16))\" text-anchor=\"middle\">"
        s += "max batch size\(logX ? " (log scale)" : "")</text>\n"
        s += "<text transform=\"translate(18 \(fmt(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\" "
        s += "fill=\"#1f77b4\">output tokens/s</text>\n"
        s += "<text transform=\"translate(\(fmt(width - 14)) \(fmt(top + plotH / 2))) rotate(90)\" "
        s += "text-anchor=\"middle\" fill=\"#d62728\">time per output token, p50 (ms)</text>\n"
        // Series.
        func polyline(_ ys: [Double], _ color: String, dashed: Bool) -> String {
            let coordinates = zip(points, ys).map { "\(fmt(x(Double($0.max_batch)))),\(fmt($1))" }
            var line =
                "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(dashed ? " stroke-dasharray=\"6 4\"" : "") "
            line += "points=\"\(coordinates.joined(separator: " "))\"/>\n"
            for (point, y) in zip(points, ys) {
                line +=
                    "<circle cx=\"\(fmt(x(Double(point.max_batch))))\" cy=\"\(fmt(y))\" r=\"4\" fill=\"\(color)\"/>\n"
            }
            return line
        }
        s += polyline(rates.map(yRate), "#1f77b4", dashed: false)
        s += polyline(latencies.map(yLatency), "#d62728", dashed: true)
        s += "<text x=\"\(fmt(left + 10))\" y=\"\(fmt(top + 16))\" fill=\"#1f77b4\">— output tokens/s</text>\n"
        s += "<text x=\"\(fmt(left + 10))\" y=\"\(fmt(top + 32))\" fill=\"#d62728\">-- TPOT p50 (ms)</text>\n"
        s += "</svg>\n"
        return s
    }

    /// The next 1, 2 or 5 times a power of ten at or above `value` (axis maxima).
    static func nice(_ value: Double) -> Double {
        guard value > 0 else { return 1 }
        let power = pow(10, floor(log10(value)))
        for step in [1.0, 2, 5, 10] where step * power >= value { return step * power }
        return 10 * power
    }

    static func escape(_ text: String) -> String {
        text.replacing("&", with: "&amp;").replacing("<", with: "&lt;").replacing(">", with: "&gt;")
    }
}

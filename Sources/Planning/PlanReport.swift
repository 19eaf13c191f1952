import Basics
import Configuration
import FoundationEssentials

/// `glmcluster plan`'s answer: the inputs it used and one prediction per valid tensor-parallel degree, the fastest
/// decode among those that fit marked.
public struct PlanReport: Codable, Sendable {
    public var model: String
    public var weightFormat: String
    public var node: NodeHardware
    public var link: LinkHardware
    public var efficiency: EngineEfficiency
    public var workload: Workload
    /// Where the node and link figures came from ("given", or what measured them).
    public var source: String
    public var degrees: [DegreePrediction]
    /// The degree with the shortest decode among those that fit; nil when none fits.
    public var fastest: Int?

    public init(model: String, scaling: ScalingModel, maximumDegree: Int, source: String) {
        self.model = model
        weightFormat = scaling.workload.weightFormat.rawValue
        node = scaling.node
        link = scaling.link
        efficiency = scaling.efficiency
        workload = scaling.workload
        self.source = source
        degrees = scaling.validDegrees(upTo: maximumDegree).map { scaling.predict(tp: $0) }
        fastest = degrees.filter(\.fits).min { $0.decodeMilliseconds < $1.decodeMilliseconds }?.tp
    }

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    public func markdown() -> String {
        func f(_ value: Double, _ digits: Int = 1) -> String { String(printf: "%.\(digits)f", value) }
        func gib(_ bytes: Int) -> String { f(Double(bytes) / Double(1 << 30), 2) }
        var out = "## glmcluster plan: \(model), \(weightFormat) weights\n\n"
        out += "Node: \(f(node.memoryBandwidthGBPerSecond)) GB/s triad, \(f(node.matrixGFLOPS)) GFLOP/s sgemm, "
        out += "\(node.cores) cores, \(gib(node.memoryBytes)) GiB; link: \(f(link.latencySeconds * 1e6)) µs, "
        out += "\(f(link.bytesPerSecond * 8 / 1e9, 2)) Gbit/s (\(source)). Engine efficiency: decode "
        out += "\(f(efficiency.decodeOfTriad, 2)) of triad, prefill \(f(efficiency.prefillOfMatrixRate, 2)) of sgemm. "
        out += "Prompt \(workload.promptTokens) tokens, \(workload.contextTokens) tokens of KV cache "
        out += "(\(workload.cacheElementBytes == 2 ? "fp16" : "fp32")). One rank per node.\n\n"
        out += "| TP (nodes) | decode ms/token | compute + allreduce ms | prefill tok/s | prefill allreduce ms | "
        out += "GiB per rank (weights + cache) | fits |\n|---:|---:|---|---:|---:|---|---|\n"
        for d in degrees {
            let mark = d.tp == fastest ? " **fastest**" : ""
            out += "| \(d.tp)\(mark) | \(f(d.decodeMilliseconds)) | \(f(d.decodeComputeMilliseconds)) + "
            out += "\(f(d.decodeCommunicationMilliseconds, 2)) | \(f(d.prefillTokensPerSecond)) | "
            out += "\(f(d.prefillCommunicationMilliseconds)) | \(gib(d.memoryBytesPerRank)) "
            out += "(\(gib(d.weightBytesPerRank)) + \(gib(d.cacheBytesPerRank))) | \(d.fits ? "yes" : "no") |\n"
        }
        if fastest == nil { out += "\nNo degree fits in \(gib(node.memoryBytes)) GiB per node.\n" }
        return out
    }
}

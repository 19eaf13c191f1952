import Basics
import Configuration
import Distributed
import FoundationEssentials
import ModelLoading
import Planning

/// What `glmcluster plan` predicts for and from what.
public struct PlanSettings: Sendable {
    public enum ModelChoice: Sendable, Equatable {
        /// A name of `PlanPresets.all`.
        case preset(String)
        /// A model directory with config.json (any supported family).
        case directory(String)
        /// A config.json file.
        case configuration(String)
    }

    public var model: ModelChoice
    public var weightFormat: PlannedWeightFormat = .fp16
    public var promptTokens = 512
    public var contextTokens = 2048
    public var cacheElementBytes = 4
    /// Figures given on the command line; the ones left nil are measured (`measure`) or missing.
    public var bandwidthGBPerSecond: Double?
    public var matrixGFLOPS: Double?
    public var cores: Int?
    public var memoryGiB: Double?
    public var linkGbitPerSecond: Double?
    public var latencyMicroseconds: Double?
    public var efficiency = EngineEfficiency()
    public var maximumDegree = 64
    public var measure = false
    public var triadMiB = 256
    public var sgemmSize = 2048
    public var json = false

    public init(model: ModelChoice) { self.model = model }
}

/// `glmcluster plan`: predicts, for every valid tensor-parallel degree, decode and prefill speed and memory per rank
/// (`ScalingModel`), from given hardware figures or ones measured on the job's own ranks (`ClusterProbe`).
public enum Plan {
    /// Runs on every rank of the job; rank 0 gets the report text.
    public static func run(_ settings: PlanSettings, cluster: ClusterSettings) throws -> String? {
        let (configuration, name) = try modelConfiguration(settings.model)
        var measured: ClusterProbe.Measurement?
        var source = "given"
        if settings.measure {
            let runtime = try ClusterRuntime(
                requestedTP: nil, threads: cluster.threads, peerTimeout: cluster.peerTimeout)
            runtime.setPhase("measuring the nodes and links")
            measured = ClusterProbe.measure(
                runtime: runtime, triadMiB: settings.triadMiB, sgemmSize: settings.sgemmSize)
            source = "measured on \(runtime.size) rank\(runtime.size == 1 ? "" : "s") of this job"
            guard runtime.isCoordinator else { return nil }
        }
        func required<T>(_ given: T?, _ measured: T?, _ option: String) throws -> T {
            guard let value = given ?? measured else {
                throw InputError(
                    description: settings.measure
                        ? "plan needs \(option): one rank measures no link (run one rank per node under mpirun)"
                        : "plan needs \(option) (or --measure under mpirun on the nodes to plan for)")
            }
            return value
        }
        let node = NodeHardware(
            memoryBandwidthGBPerSecond: try required(
                settings.bandwidthGBPerSecond, measured?.node.memoryBandwidthGBPerSecond, "--bandwidth"),
            matrixGFLOPS: try required(settings.matrixGFLOPS, measured?.node.matrixGFLOPS, "--gflops"),
            cores: try required(settings.cores, measured?.node.cores, "--cores"),
            memoryBytes: try required(
                settings.memoryGiB.map { Int($0 * Double(1 << 30)) }, measured?.node.memoryBytes, "--memory-gib"))
        let link = LinkHardware(
            latencySeconds: try required(
                settings.latencyMicroseconds.map { $0 * 1e-6 }, measured?.link?.latencySeconds, "--latency-us"),
            bytesPerSecond: try required(
                settings.linkGbitPerSecond.map { $0 * 1e9 / 8 }, measured?.link?.bytesPerSecond, "--link-gbit"))
        let scaling = ScalingModel(
            configuration: configuration, node: node, link: link, efficiency: settings.efficiency,
            workload: Workload(
                promptTokens: settings.promptTokens, contextTokens: settings.contextTokens,
                weightFormat: settings.weightFormat, cacheElementBytes: settings.cacheElementBytes))
        let report = PlanReport(model: name, scaling: scaling, maximumDegree: settings.maximumDegree, source: source)
        return settings.json ? try report.json() : report.markdown()
    }

    /// The configuration to plan for and how the report names it.
    static func modelConfiguration(
        _ choice: PlanSettings.ModelChoice
    ) throws -> (ModelConfiguration, String) {
        switch choice {
        case .preset(let name):
            guard let configuration = PlanPresets.all[name] else {
                throw InputError(
                    description:
                        "unknown --preset \"\(name)\"; known: \(PlanPresets.all.keys.sorted().joined(separator: ", "))")
            }
            return (configuration, name)
        case .directory(let path):
            return (try ModelSource(path: path).configuration(), path)
        case .configuration(let path):
            return (try ModelConfiguration.load(from: URL(fileURLWithPath: path)), path)
        }
    }
}

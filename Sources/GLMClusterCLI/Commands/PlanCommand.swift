import ArgumentParser
import Benchmarking
import Planning

/// `glmcluster plan`: which tensor-parallel degree is fastest and which fit, from given or measured node and link
/// figures (`Plan`). With --measure under mpirun, every rank measures its node and rank 0 the links.
struct PlanCommand: ClusterCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Predict decode and prefill speed and memory per rank for every tensor-parallel degree.",
        discussion: """
            One rank per node. Give the node (--bandwidth, --gflops, --cores, --memory-gib) and the link \
            (--link-gbit, --latency-us), or --measure them on the nodes of this job (under mpirun, one rank per \
            node); given figures override measured ones. docs/CLUSTER.md explains the model and how to read it.
            """)

    @Option(name: .long, help: "A released shape: glm-130b, chatglm-6b or glm-4-9b.")
    var preset: String?
    @Option(name: .long, help: "A model directory with config.json (any supported family).")
    var model: String?
    @Option(name: .long, help: "A config.json file.")
    var config: String?
    @Option(name: .long, help: "Weight format of the layer matrices: fp16, int8 or int4.")
    var dtype: PlannedWeightFormat = .fp16
    @Option(name: .long, help: "Prompt length of the predicted prefill.")
    var promptTokens: Int = 512
    @Option(name: .long, help: "Tokens of context per sequence the KV cache holds.")
    var contextTokens: Int = 2048
    @Option(name: .long, help: "Node memory bandwidth, GB/s (STREAM triad).")
    var bandwidth: Double?
    @Option(name: .long, help: "Node matrix rate, GFLOP/s (sgemm).")
    var gflops: Double?
    @Option(name: .long, help: "Cores per node.")
    var cores: Int?
    @Option(name: .long, help: "Memory per node for the rank, GiB.")
    var memoryGib: Double?
    @Option(name: .long, help: "Link bandwidth per node, Gbit/s.")
    var linkGbit: Double?
    @Option(name: .long, help: "One-way latency of a small message between nodes, microseconds.")
    var latencyUs: Double?
    @Option(name: .long, help: "Decode's effective bandwidth as a fraction of the triad.")
    var decodeEfficiency: Double = EngineEfficiency().decodeOfTriad
    @Option(name: .long, help: "Prefill's FLOP rate as a fraction of sgemm.")
    var prefillEfficiency: Double = EngineEfficiency().prefillOfMatrixRate
    @Option(name: .long, help: "Largest tensor-parallel degree to consider.")
    var maxTp: Int = 64
    @Flag(name: .long, help: "Measure the node and the links on the ranks of this job.")
    var measure = false
    @Option(name: .long, help: "With --measure: MiB per triad array.")
    var triadMib: Int = 256
    @Option(name: .long, help: "With --measure: n of the n x n x n sgemm.")
    var sgemmSize: Int = 2048
    @Option(name: .long, help: "Output: md (tables) or json.")
    var format: BenchSettings.OutputFormat = .md
    @OptionGroup var cluster: ClusterOptions

    func validate() throws {
        let chosen = [preset, model, config].compactMap { $0 }
        guard chosen.count == 1 else { throw ValidationError("give one of --preset, --model and --config") }
        for (value, option) in [
            (promptTokens, "--prompt-tokens"), (contextTokens, "--context-tokens"), (maxTp, "--max-tp"),
        ]
        where value < 1 || value > 1 << 24 {
            throw ValidationError("\(option) must be between 1 and \(1 << 24), got \(value)")
        }
        for (value, option) in [
            (bandwidth, "--bandwidth"), (gflops, "--gflops"), (memoryGib, "--memory-gib"), (linkGbit, "--link-gbit"),
            (decodeEfficiency, "--decode-efficiency"), (prefillEfficiency, "--prefill-efficiency"),
        ] {
            if let value, !(value.isFinite && value > 0) {
                throw ValidationError("\(option) must be a positive number, got \(value)")
            }
        }
        if let latencyUs, !(latencyUs.isFinite && latencyUs >= 0) {
            throw ValidationError("--latency-us must be zero or positive, got \(latencyUs)")
        }
        if let cores, cores < 1 { throw ValidationError("--cores must be positive, got \(cores)") }
        try cluster.validate()
    }

    func execute() throws {
        var settings = PlanSettings(
            model: preset.map { .preset($0) } ?? model.map { .directory($0) } ?? .configuration(config ?? ""))
        settings.weightFormat = dtype
        settings.promptTokens = promptTokens
        settings.contextTokens = contextTokens
        settings.cacheElementBytes = cluster.kvCache == .fp16 ? 2 : 4
        settings.bandwidthGBPerSecond = bandwidth
        settings.matrixGFLOPS = gflops
        settings.cores = cores
        settings.memoryGiB = memoryGib
        settings.linkGbitPerSecond = linkGbit
        settings.latencyMicroseconds = latencyUs
        settings.efficiency = EngineEfficiency(decodeOfTriad: decodeEfficiency, prefillOfMatrixRate: prefillEfficiency)
        settings.maximumDegree = maxTp
        settings.measure = measure
        settings.triadMiB = triadMib
        settings.sgemmSize = sgemmSize
        settings.json = format == .json
        if let report = try Plan.run(settings, cluster: cluster.settings(job: "plan")) { print(report) }
    }
}

import ArgumentParser
import Benchmarking

/// `glmcluster bench`: prefill and decode speed against the machine's limits, or the throughput sweep
/// (`Benchmark`). Under `mpirun` every rank measures and rank 0 prints the job and each rank.
struct BenchCommand: ClusterCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure prefill and decode speed against the machine's bandwidth and FLOP limits.",
        discussion: """
            With --config, each rank builds random weights for its own partition in memory (no checkpoint needed). \
            Decode time is split into matmul, attention, allreduce and sampling; the limits are a STREAM triad, \
            OpenBLAS sgemm and the peak of the dot-product unit for the weight format.
            """)

    @OptionGroup var bench: BenchOptions
    @OptionGroup var cluster: ClusterOptions

    func execute() throws {
        let settings = bench.settings
        if let report = try Benchmark.run(settings, cluster: cluster.settings(job: settings.description)) {
            print(report)
        }
    }
}

import ArgumentParser
import Communication
import Distributed
import GLM
import Tensors

/// How this process takes part in a tensor-parallel job (`mpirun -np N glmcluster ...`) and how it computes.
struct ClusterOptions: ParsableArguments {
    @Option(name: .long, help: "Tensor-parallel degree; must equal the number of MPI ranks (default: the world size).")
    var tp: Int?

    @Option(name: .long, help: "Compute threads per rank, OpenBLAS included (default: the CPUs this rank is bound to).")
    var threads: Int?

    @Option(
        name: .long, help: "Where ranks get their weights: shared (each reads its slice) or coordinator (rank 0 sends)."
    )
    var weightsFrom: ClusterSettings.WeightSource = .shared

    @Option(
        name: .long,
        help:
            "Matrix precision: exact (fp32 activations, the official math) or fast (prefill on bf16/int8 dot-product units)."
    )
    var precision: MatmulPrecision = .exact

    @Option(
        name: .long,
        help:
            "KV cache element type: fp32 (the official math) or fp16 (half the cache memory and decode attention traffic; logits move by ~1e-3 of their scale)."
    )
    var kvCache: KVCache.Format = .fp32

    @Option(
        name: .long,
        help:
            "How ranks exchange the partial sums of each layer: fp32 (the official math) or fp16 (half the bytes on the network; docs/CLUSTER.md states the logit error it brings)."
    )
    var allreduce: Communicator.SumFormat = .fp32

    @Option(
        name: .long,
        help:
            "With --weights-from coordinator: a local directory where each rank keeps the weights rank 0 sent it; the next start of the same checkpoint and layout reads them there (verified) and receives nothing."
    )
    var weightCache: String?

    @Option(
        name: .long,
        help:
            "Seconds without a heartbeat from a rank before the job ends naming it (0: off; default 10). Heartbeats run beside the computation, so long steps never trip it."
    )
    var peerTimeout: Double = ClusterSettings.defaultPeerTimeout

    /// The settings for `job`, what the command runs on every rank (see `ClusterSettings.job`).
    func settings(job: String) -> ClusterSettings {
        ClusterSettings(
            tensorParallelDegree: tp, threads: threads, weightSource: weightsFrom, precision: precision,
            kvCacheFormat: kvCache, allreduceFormat: allreduce,
            weightCache: weightCache, job: job, peerTimeout: peerTimeout)
    }

    func validate() throws {
        do { try settings(job: "").validate() } catch { throw ValidationError(error.description) }
    }
}

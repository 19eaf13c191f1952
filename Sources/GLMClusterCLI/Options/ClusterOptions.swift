import ArgumentParser
import GLM
import Tensors

/// How this process takes part in a tensor-parallel job (`mpirun -np N glmcluster ...`) and how it computes.
struct ClusterOptions: ParsableArguments {
    enum WeightSource: String, ExpressibleByArgument, CaseIterable {
        /// Every rank memory-maps its own slice from a filesystem all ranks see.
        case shared
        /// Rank 0 reads the checkpoint and sends each rank its slice over MPI.
        case coordinator
    }

    @Option(name: .long, help: "Tensor-parallel degree; must equal the number of MPI ranks (default: the world size).")
    var tp: Int?

    @Option(name: .long, help: "Compute threads per rank, OpenBLAS included (default: the CPUs this rank is bound to).")
    var threads: Int?

    @Option(
        name: .long, help: "Where ranks get their weights: shared (each reads its slice) or coordinator (rank 0 sends)."
    )
    var weightsFrom: WeightSource = .shared

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

    func validate() throws {
        if let tp, tp < 1 { throw ValidationError("--tp must be positive, got \(tp)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be positive, got \(threads)") }
    }
}

extension MatmulPrecision: ExpressibleByArgument {}
extension KVCache.Format: ExpressibleByArgument {}

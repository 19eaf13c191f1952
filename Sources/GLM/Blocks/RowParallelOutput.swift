import Configuration
import Partitioning
import Tensors

/// The end of a row-parallel linear (attention's dense output, the MLP's `dense_4h_to_h`): the ranks' partial
/// products summed, then the replicated bias added once.
extension GLMModel {
    /// Row-parallel epilogue: sum partial products across ranks, then add the replicated bias once.
    func finishRowParallel(_ output: UnsafeMutableBufferPointer<Float>, rows n: Int, bias: [Float]) {
        let h = configuration.hiddenSize
        if partition.count > 1 { profile.allreduce(output, with: reduction) }
        guard !bias.isEmpty else { return }  // architectures without linear biases
        bias.withUnsafeBufferPointer { b in
            VectorKernels.addBias(b.baseAddress!, to: output.baseAddress!, rows: n, width: h)
        }
    }
}

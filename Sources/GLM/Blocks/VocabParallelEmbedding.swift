import Configuration
import Partitioning
import Tensors

/// The word embeddings split by vocabulary rows across ranks (also the output layer, `GLMModel.forward`'s last
/// product): each rank looks up the tokens in its range and the rows are summed across ranks.
extension GLMModel {
    /// Vocab-parallel embedding lookup: rows outside this rank's range are zero, then summed across ranks.
    func embed(_ tokens: [Int]) -> [Float] {
        let h = configuration.hiddenSize
        var x = [Float](repeating: 0, count: tokens.count * h)
        x.withUnsafeMutableBufferPointer { out in
            for (i, token) in tokens.enumerated() where vocabRange.contains(token) {
                weights.wordEmbeddings.widenRows(
                    token - vocabRange.lowerBound, count: 1, into: out.baseAddress! + i * h)
            }
            if partition.count > 1 { profile.allreduce(out, with: reduction) }
        }
        return x
    }
}

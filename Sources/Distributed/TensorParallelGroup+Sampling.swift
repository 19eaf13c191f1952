import Generation

/// The sampler's and the coordinator's collectives over the tensor-parallel group's communicator, rooted at rank 0
/// (`rank` and `size` come from the group itself).
extension TensorParallelGroup: SamplingCollectives {
    public func allreduceMaxLocation(value: Float, index: Int) -> (value: Float, index: Int) {
        communicator.allreduceMaxLocation(value: value, index: index)
    }

    public func gather(_ bytes: [UInt8]) -> [[UInt8]] { communicator.gather(bytes, root: 0) }

    public func broadcast(_ bytes: [UInt8]) -> [UInt8] { communicator.broadcast(bytes, root: 0) }
}

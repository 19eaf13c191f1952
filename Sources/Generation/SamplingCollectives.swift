import Coordination

/// The collectives the sampler and beam search need, over the ranks that share one model by tensor parallelism:
/// the coordinator channel (rank 0 decides through `Coordinator`) plus the symmetric MAXLOC reduction of greedy decoding.
///
/// Every call is collective: all ranks of the group make the same calls in the same order. The distributed runtime
/// conforms its MPI group (`TensorParallelGroup`); `SingleRankCollectives` is the 1-rank group, so a single-rank run
/// goes through the very same sampling code as a tensor-parallel one.
public protocol SamplingCollectives: CoordinatorChannel {
    /// The largest `value` over all ranks with its `index`; on ties the smallest index wins (MPI_MAXLOC).
    func allreduceMaxLocation(value: Float, index: Int) -> (value: Float, index: Int)
}

/// The 1-rank group: every collective is the identity.
public struct SingleRankCollectives: SamplingCollectives {
    public init() {}

    public var rank: Int { 0 }
    public var size: Int { 1 }

    public func allreduceMaxLocation(value: Float, index: Int) -> (value: Float, index: Int) { (value, index) }
    public func gather(_ bytes: [UInt8]) -> [[UInt8]] { [bytes] }
    public func broadcast(_ bytes: [UInt8]) -> [UInt8] { bytes }
}

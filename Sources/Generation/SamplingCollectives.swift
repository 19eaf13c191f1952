/// The few collectives `DistributedSampler` needs, over the ranks that share one model by tensor parallelism.
///
/// Every call is collective: all ranks of the group make the same calls in the same order. Rank 0 is the
/// coordinator (the root of `gather` and `broadcast`). The distributed runtime conforms its MPI group
/// (`TensorParallelGroup`); `SingleRankCollectives` is the 1-rank group, so a single-rank run goes through the
/// very same sampling code as a tensor-parallel one.
public protocol SamplingCollectives: Sendable {
    var rank: Int { get }
    var size: Int { get }

    /// The largest `value` over all ranks with its `index`; on ties the smallest index wins (MPI_MAXLOC).
    func allreduceMaxLocation(value: Float, index: Int) -> (value: Float, index: Int)

    /// Element-wise sums over all ranks, on every rank.
    func allreduceSum(_ values: [Double]) -> [Double]

    /// Each rank's bytes (any length, possibly empty), in rank order, on rank 0; other ranks get `[]`.
    func gather(_ bytes: [UInt8]) -> [[UInt8]]

    /// Rank 0's bytes on every rank; what other ranks pass is ignored.
    func broadcast(_ bytes: [UInt8]) -> [UInt8]
}

/// The 1-rank group: every collective is the identity.
public struct SingleRankCollectives: SamplingCollectives {
    public init() {}

    public var rank: Int { 0 }
    public var size: Int { 1 }

    public func allreduceMaxLocation(value: Float, index: Int) -> (value: Float, index: Int) { (value, index) }
    public func allreduceSum(_ values: [Double]) -> [Double] { values }
    public func gather(_ bytes: [UInt8]) -> [[UInt8]] { [bytes] }
    public func broadcast(_ bytes: [UInt8]) -> [UInt8] { bytes }
}

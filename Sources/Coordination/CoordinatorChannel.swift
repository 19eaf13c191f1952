/// The two byte collectives the coordinator protocol runs on, over the ranks that share one model. Every call is
/// collective: all ranks make the same calls in the same order. Rank 0 is the coordinator, the root of both.
///
/// The distributed runtime conforms its MPI group; `SingleRankChannel` is the one-rank group, so a single-process
/// run goes through the same coordinator code as a tensor-parallel one.
public protocol CoordinatorChannel: Sendable {
    var rank: Int { get }
    var size: Int { get }

    /// Each rank's bytes (any length, possibly empty), in rank order, on rank 0; other ranks get `[]`.
    func gather(_ bytes: [UInt8]) -> [[UInt8]]

    /// Rank 0's bytes on every rank; what other ranks pass is ignored.
    func broadcast(_ bytes: [UInt8]) -> [UInt8]
}

/// The one-rank group: both collectives are the identity.
public struct SingleRankChannel: CoordinatorChannel {
    public init() {}

    public var rank: Int { 0 }
    public var size: Int { 1 }

    public func gather(_ bytes: [UInt8]) -> [[UInt8]] { [bytes] }
    public func broadcast(_ bytes: [UInt8]) -> [UInt8] { bytes }
}

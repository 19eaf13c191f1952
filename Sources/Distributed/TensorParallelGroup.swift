import Communication
import GLM

/// The ranks that share one model by tensor parallelism (today: the whole MPI world), seen by the model as its
/// allreduce.
public final class TensorParallelGroup: TensorParallelReduction, @unchecked Sendable {
    public let communicator: Communicator

    public init(communicator: Communicator = .world) { self.communicator = communicator }

    public var rank: Int { communicator.rank }
    public var size: Int { communicator.size }
    public var isCoordinator: Bool { communicator.isCoordinator }

    /// How the model's partial sums travel (`--allreduce`); set before the first forward pass.
    public var sumFormat: Communicator.SumFormat = .fp32

    public func sum(_ values: UnsafeMutableBufferPointer<Float>) {
        communicator.allreduceSum(values, format: sumFormat)
    }
}

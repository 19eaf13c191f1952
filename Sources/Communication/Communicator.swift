import CMPI
import Foundation

/// A process's place in the MPI job: rank and world size over `MPI_COMM_WORLD`.
///
/// MPI is initialised once per process. Started without `mpirun`, the process is a 1-rank singleton, so every
/// single-rank path runs the same code as a real job. The world communicator is valid for the whole process
/// lifetime and only ever used from one thread at a time (`MPI_THREAD_SERIALIZED`), which makes it safe to share.
public final class Communicator: @unchecked Sendable {
    public let rank: Int
    public let size: Int
    private let comm: MPI_Comm

    private init(comm: MPI_Comm) {
        self.comm = comm
        var rank: Int32 = 0
        var size: Int32 = 0
        MPI_Comm_rank(comm, &rank)
        MPI_Comm_size(comm, &size)
        self.rank = Int(rank)
        self.size = Int(size)
    }

    /// The world communicator, initialising MPI on first use.
    public static let world: Communicator = {
        var initialised: Int32 = 0
        MPI_Initialized(&initialised)
        if initialised == 0 {
            var provided: Int32 = 0
            MPI_Init_thread(nil, nil, cmpi_thread_serialized(), &provided)
            atexit { finalizeIfNeeded() }
        }
        return Communicator(comm: cmpi_comm_world())
    }()

    public var isCoordinator: Bool { rank == 0 }

    /// The host this rank runs on, for start-up logs.
    public var processorName: String {
        var buffer = [CChar](repeating: 0, count: Int(cmpi_max_processor_name()) + 1)
        var length: Int32 = 0
        MPI_Get_processor_name(&buffer, &length)
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Sums `values` element-wise across all ranks, in place.
    public func allreduceSum(_ values: UnsafeMutableBufferPointer<Float>) {
        guard size > 1, let base = values.baseAddress else { return }
        MPI_Allreduce(cmpi_in_place(), base, Int32(values.count), cmpi_float(), cmpi_op_sum(), comm)
    }

    /// Blocks until every rank arrives.
    public func barrier() { MPI_Barrier(comm) }

    /// Ends the whole job with `code` on every rank: used when one rank hits an error the others cannot see.
    public func abort(code: Int32) -> Never {
        MPI_Abort(comm, code)
        exit(code)
    }
}

/// Finalises MPI at process exit so `mpirun` sees a clean shutdown.
private func finalizeIfNeeded() {
    var finalized: Int32 = 0
    MPI_Finalized(&finalized)
    if finalized == 0 { MPI_Finalize() }
}

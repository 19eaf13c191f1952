import CKernels
import CMPI
import Glibc

/// A process's place in the MPI job: rank and world size over `MPI_COMM_WORLD`, and the collectives GLMCluster
/// uses, with Swift types.
///
/// MPI is initialised once per process. Started without `mpirun`, the process is a 1-rank singleton, so every
/// single-rank path runs the same code as a real job. The world communicator is valid for the whole process
/// lifetime and only ever used from one thread at a time (`MPI_THREAD_SERIALIZED`), which makes it safe to share.
/// Every call is collective over all ranks unless its doc says otherwise; MPI errors abort the job (MPI's default
/// error handler), so return codes carry no information here.
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

    /// The world communicator, initialising MPI on first use. MPI_THREAD_MULTIPLE is asked for, so that a
    /// watchdog thread can exchange heartbeats on a communicator of its own while the main thread waits in a
    /// collective; `supportsConcurrentThreads` says whether the library granted it.
    public static let world: Communicator = {
        var initialised: Int32 = 0
        MPI_Initialized(&initialised)
        if initialised == 0 {
            var provided: Int32 = 0
            MPI_Init_thread(nil, nil, cmpi_thread_multiple(), &provided)
            grantedMultipleThreads = provided >= cmpi_thread_multiple()
            atexit { finalizeIfNeeded() }
        }
        return Communicator(comm: cmpi_comm_world())
    }()

    nonisolated(unsafe) private static var grantedMultipleThreads = false

    /// Whether threads may call MPI concurrently (MPI_THREAD_MULTIPLE was granted).
    public static var supportsConcurrentThreads: Bool {
        _ = world
        return grantedMultipleThreads
    }

    /// A new communicator over the same ranks whose messages never match this one's (MPI_Comm_dup). Collective.
    public func duplicate() -> Communicator {
        var copy: MPI_Comm?
        MPI_Comm_dup(comm, &copy)
        return Communicator(comm: copy!)
    }

    /// Starts sending `bytes` (at most `Int32.max`) to `destination` and returns at once; the transfer owns a copy.
    public func startSend(_ bytes: [UInt8], to destination: Int, tag: Int) -> Transfer {
        let transfer = Transfer(capacity: bytes.count)
        bytes.withUnsafeBytes { transfer.buffer.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        MPI_Isend(
            transfer.buffer, Int32(bytes.count), cmpi_byte(), Int32(destination), Int32(tag), comm, &transfer.request)
        return transfer
    }

    /// Starts receiving at most `capacity` bytes from `source` and returns at once.
    public func startReceive(from source: Int, tag: Int, capacity: Int) -> Transfer {
        let transfer = Transfer(capacity: capacity)
        MPI_Irecv(transfer.buffer, Int32(capacity), cmpi_byte(), Int32(source), Int32(tag), comm, &transfer.request)
        return transfer
    }

    /// A non-blocking send or receive in flight (MPI_Request) and its buffer. Used from one thread at a time.
    public final class Transfer: @unchecked Sendable {
        fileprivate var request = cmpi_request_null()
        fileprivate let buffer: UnsafeMutableRawPointer
        private let capacity: Int
        /// The bytes received, once a receive has completed.
        public private(set) var received: [UInt8]?

        fileprivate init(capacity: Int) {
            self.capacity = capacity
            buffer = UnsafeMutableRawPointer.allocate(byteCount: max(capacity, 1), alignment: 16)
        }

        /// Whether the transfer has completed (MPI_Test); a completed receive's bytes are in `received`.
        public func isComplete() -> Bool {
            if request == cmpi_request_null() { return true }
            var flag: Int32 = 0
            var status = MPI_Status()
            MPI_Test(&request, &flag, &status)
            guard flag != 0 else { return false }
            var count: Int32 = 0
            MPI_Get_count(&status, cmpi_byte(), &count)
            received = Array(UnsafeRawBufferPointer(start: buffer, count: Int(max(0, count))))
            return true
        }

        /// Cancels an unfinished transfer and waits until MPI has let go of the buffer.
        public func cancel() {
            guard request != cmpi_request_null() else { return }
            MPI_Cancel(&request)
            MPI_Wait(&request, cmpi_status_ignore())
        }

        deinit {
            // A transfer still in flight keeps its buffer: MPI may write it later.
            if request == cmpi_request_null() { buffer.deallocate() }
        }
    }

    public var isCoordinator: Bool { rank == 0 }

    /// The host this rank runs on, for start-up logs (local, not collective).
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

    /// How partial sums travel in `allreduceSum(_:format:)`.
    public enum SumFormat: String, Sendable, CaseIterable {
        /// fp32, as computed: the official math.
        case fp32
        /// IEEE fp16: half the bytes; every partial and running sum is rounded to fp16 (11 significant bits).
        case fp16
    }

    /// Sums `values` element-wise across all ranks, in place, carrying them as `format`. A sum that overflows fp16
    /// (any infinity or NaN in the result, which every rank sees alike) is taken again in fp32, so fp16 never turns
    /// finite values into infinities: `values` still holds this rank's partials then, since the fp16 sum travels in
    /// a buffer of its own and is widened into `values` only when finite.
    public func allreduceSum(_ values: UnsafeMutableBufferPointer<Float>, format: SumFormat) {
        guard format == .fp16, size > 1, let base = values.baseAddress else { return allreduceSum(values) }
        let count = values.count
        if halfScratch.count < count { halfScratch = [UInt16](repeating: 0, count: count) }
        let finite = halfScratch.withUnsafeMutableBufferPointer { half in
            ck_narrow_to_f16(base, half.baseAddress!, count, Int32(CK_ISA_AUTO.rawValue))
            MPI_Allreduce(cmpi_in_place(), half.baseAddress!, Int32(count), cmpi_uint16(), Self.halfSum, comm)
            guard ck_f16_first_nonfinite(half.baseAddress!, count) < 0 else { return false }
            ck_widen_f16(half.baseAddress!, base, count, Int32(CK_ISA_AUTO.rawValue))
            return true
        }
        if !finite { allreduceSum(values) }
    }

    /// The fp16 sum operator (`ck_sum_f16_op`), created once MPI is up.
    nonisolated(unsafe) private static let halfSum: MPI_Op = {
        _ = world
        return cmpi_op_create(ck_sum_f16_op)
    }()
    // Used by the one thread that runs collectives on this communicator.
    private var halfScratch: [UInt16] = []

    /// Sums doubles element-wise across all ranks.
    public func allreduceSum(_ values: [Double]) -> [Double] {
        guard size > 1, !values.isEmpty else { return values }
        var result = values
        result.withUnsafeMutableBufferPointer {
            _ = MPI_Allreduce(cmpi_in_place(), $0.baseAddress, Int32($0.count), cmpi_double(), cmpi_op_sum(), comm)
        }
        return result
    }

    /// The largest `value` over all ranks and its `index`; on ties the smallest index wins (MPI_MAXLOC).
    public func allreduceMaxLocation(value: Float, index: Int) -> (value: Float, index: Int) {
        guard size > 1 else { return (value, index) }
        var pair = cmpi_float_int_pair(value: value, index: Int32(index))
        MPI_Allreduce(cmpi_in_place(), &pair, 1, cmpi_float_int(), cmpi_op_maxloc(), comm)
        return (pair.value, Int(pair.index))
    }

    /// Rank `root`'s bytes, on every rank (the length travels first, so other ranks may pass anything).
    public func broadcast(_ bytes: [UInt8], root: Int = 0) -> [UInt8] {
        guard size > 1 else { return bytes }
        var count = Int64(rank == root ? bytes.count : 0)
        MPI_Bcast(&count, 1, cmpi_int64(), Int32(root), comm)
        var buffer = rank == root ? bytes : [UInt8](repeating: 0, count: Int(count))
        broadcastChunks(&buffer, root: root)
        return buffer
    }

    /// Each rank's bytes (any length), concatenated per rank, on rank `root`; other ranks get an empty array.
    public func gather(_ bytes: [UInt8], root: Int = 0) -> [[UInt8]] {
        guard size > 1 else { return [bytes] }
        var count = Int32(bytes.count)
        var counts = [Int32](repeating: 0, count: rank == root ? size : 1)
        MPI_Gather(&count, 1, cmpi_int32(), &counts, 1, cmpi_int32(), Int32(root), comm)
        var displacements = [Int32](repeating: 0, count: counts.count)
        if rank == root {
            for i in 1..<size { displacements[i] = displacements[i - 1] + counts[i - 1] }
        }
        let total = rank == root ? Int(displacements[size - 1] + counts[size - 1]) : 0
        var received = [UInt8](repeating: 0, count: max(total, 1))
        bytes.withUnsafeBufferPointer { send in
            _ = MPI_Gatherv(
                send.baseAddress, count, cmpi_byte(), &received, &counts, &displacements, cmpi_byte(), Int32(root),
                comm)
        }
        guard rank == root else { return [] }
        return (0..<size).map { Array(received[Int(displacements[$0])..<Int(displacements[$0] + counts[$0])]) }
    }

    /// Sends bytes to rank `destination` (point to point; the receiver calls `receive(from:)`).
    public func send(_ bytes: [UInt8], to destination: Int, tag: Int = 0) {
        var count = Int64(bytes.count)
        MPI_Send(&count, 1, cmpi_int64(), Int32(destination), Int32(tag), comm)
        var offset = 0
        while offset < bytes.count {
            let chunk = min(Self.chunkBytes, bytes.count - offset)
            bytes.withUnsafeBufferPointer {
                _ = MPI_Send($0.baseAddress! + offset, Int32(chunk), cmpi_byte(), Int32(destination), Int32(tag), comm)
            }
            offset += chunk
        }
    }

    /// Receives what rank `source` sent with `send(_:to:tag:)`.
    public func receive(from source: Int, tag: Int = 0) -> [UInt8] {
        var count: Int64 = 0
        MPI_Recv(&count, 1, cmpi_int64(), Int32(source), Int32(tag), comm, cmpi_status_ignore())
        var buffer = [UInt8](repeating: 0, count: Int(count))
        var offset = 0
        while offset < buffer.count {
            let chunk = min(Self.chunkBytes, buffer.count - offset)
            buffer.withUnsafeMutableBufferPointer {
                _ = MPI_Recv(
                    $0.baseAddress! + offset, Int32(chunk), cmpi_byte(), Int32(source), Int32(tag), comm,
                    cmpi_status_ignore())
            }
            offset += chunk
        }
        return buffer
    }

    /// Sends `bytes` bytes of `buffer` to `destination` as one message (point to point, for timing the link: no
    /// length travels first).
    public func sendMessage(_ buffer: UnsafeRawPointer, bytes: Int, to destination: Int, tag: Int) {
        MPI_Send(buffer, Int32(bytes), cmpi_byte(), Int32(destination), Int32(tag), comm)
    }

    /// Receives one message of at most `bytes` bytes from `source` into `buffer` (`sendMessage`'s counterpart).
    public func receiveMessage(_ buffer: UnsafeMutableRawPointer, bytes: Int, from source: Int, tag: Int) {
        MPI_Recv(buffer, Int32(bytes), cmpi_byte(), Int32(source), Int32(tag), comm, cmpi_status_ignore())
    }

    /// Blocks until every rank arrives.
    public func barrier() { MPI_Barrier(comm) }

    /// Ends the whole job at once with `code` (MPI_Abort): only for failures the other ranks cannot reach a
    /// collective to hear about.
    public func abort(code: Int32) -> Never {
        MPI_Abort(comm, code)
        exit(code)
    }

    /// MPI counts are 32-bit: large messages travel in chunks of at most 1 GiB.
    private static let chunkBytes = 1 << 30

    private func broadcastChunks(_ buffer: inout [UInt8], root: Int) {
        var offset = 0
        let total = buffer.count
        while offset < total {
            let chunk = min(Self.chunkBytes, total - offset)
            buffer.withUnsafeMutableBufferPointer {
                _ = MPI_Bcast($0.baseAddress! + offset, Int32(chunk), cmpi_byte(), Int32(root), comm)
            }
            offset += chunk
        }
    }
}

/// Finalises MPI at process exit so `mpirun` sees a clean shutdown.
private func finalizeIfNeeded() {
    var finalized: Int32 = 0
    MPI_Finalized(&finalized)
    if finalized == 0 { MPI_Finalize() }
}

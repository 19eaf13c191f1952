import Glibc

/// Where `GLMModel.forward` spends its time, accumulated over calls with a monotonic clock.
///
/// Off by default: a model with no profile (`GLMModel.profile == nil`) reads no clock at all, so the cost when off is
/// one nil check per timed region (a few per layer). When on, each region costs two `clock_gettime` calls
/// (about 20-40 ns), negligible next to the matrix products they wrap.
///
/// Not thread-safe: one forward pass at a time updates it (the model's own thread); read it between passes.
public final class ForwardProfile: @unchecked Sendable {
    /// The parts of a forward pass that are timed separately; everything else (embedding lookup, LayerNorm,
    /// residuals, GeGLU activation, bias epilogues) is `other`, the wall time minus the timed parts.
    public enum Category: Int, CaseIterable, Sendable {
        /// `linear()` calls: QKV, attention dense, both MLP projections and the logits projection.
        case matmul
        /// The attention core: rotary, KV-cache append, scores, mask, softmax and the weighted sum of values.
        case attention
        /// The tensor-parallel sums (embedding and the two row-parallel epilogues per layer).
        case allreduce
    }

    private var nanoseconds = [UInt64](repeating: 0, count: Category.allCases.count)
    /// Tensor-parallel sums since the last `reset()`, and their payload (the partial sums each rank contributes).
    public private(set) var allreduceCalls = 0
    public private(set) var allreduceBytes = 0
    /// Each sum's wall time in nanoseconds, in call order, when `recordsAllreduceCalls` is set: the ranks' records
    /// line up call by call (every rank makes the same sums), so the shortest of a call's times across ranks is its
    /// transfer (the last rank to arrive waits for nobody) and the rest of each rank's time is waiting.
    public private(set) var allreduceDurations: [UInt64] = []
    public var recordsAllreduceCalls = false
    /// Wall time of whole `forward` calls, in nanoseconds.
    public private(set) var forwardNanoseconds: UInt64 = 0
    /// `forward` calls measured.
    public private(set) var forwardCalls = 0

    public init() {}

    /// Seconds spent in `category` since the last `reset()`.
    public func seconds(_ category: Category) -> Double { Double(nanoseconds[category.rawValue]) * 1e-9 }

    /// Seconds of whole forward passes since the last `reset()`.
    public var forwardSeconds: Double { Double(forwardNanoseconds) * 1e-9 }

    /// Forward time outside the timed categories.
    public var otherSeconds: Double {
        max(0, forwardSeconds - Category.allCases.reduce(0) { $0 + seconds($1) })
    }

    public func reset() {
        for i in nanoseconds.indices { nanoseconds[i] = 0 }
        forwardNanoseconds = 0
        forwardCalls = 0
        allreduceCalls = 0
        allreduceBytes = 0
        allreduceDurations.removeAll(keepingCapacity: true)
    }

    func addAllreduce(_ elapsed: UInt64, bytes: Int) {
        nanoseconds[Category.allreduce.rawValue] &+= elapsed
        allreduceCalls += 1
        allreduceBytes += bytes
        if recordsAllreduceCalls { allreduceDurations.append(elapsed) }
    }

    func add(_ category: Category, _ elapsed: UInt64) { nanoseconds[category.rawValue] &+= elapsed }

    func addForward(_ elapsed: UInt64) {
        forwardNanoseconds &+= elapsed
        forwardCalls += 1
    }

    /// CLOCK_MONOTONIC in nanoseconds.
    @inline(__always)
    public static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
    }
}

extension Optional where Wrapped == ForwardProfile {
    /// Sums `values` across the ranks with `reduction`, counting the call and its bytes when a profile is present.
    @inline(__always)
    func allreduce(_ values: UnsafeMutableBufferPointer<Float>, with reduction: any TensorParallelReduction) {
        guard let profile = self else { return reduction.sum(values) }
        let start = ForwardProfile.now()
        reduction.sum(values)
        profile.addAllreduce(ForwardProfile.now() &- start, bytes: values.count * MemoryLayout<Float>.size)
    }

    /// Runs `body`, adding its wall time to `category` when a profile is present (no clock read otherwise).
    @inline(__always)
    func measure<T>(_ category: ForwardProfile.Category, _ body: () throws -> T) rethrows -> T {
        guard let profile = self else { return try body() }
        let start = ForwardProfile.now()
        defer { profile.add(category, ForwardProfile.now() &- start) }
        return try body()
    }
}

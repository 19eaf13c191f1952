import GLM

/// One rank's tensor-parallel sums in one part of the benchmark (decode or prefill): how many a token (or a prefill
/// pass) makes and their payload, and every call's seconds over all repeats, in call order.
struct AllreduceRecord: Codable, Sendable {
    /// Sums per unit (a decoded token, or a whole prefill pass).
    var calls = 0
    /// Bytes each rank contributes per unit (the partial sums, fp32).
    var bytes = 0
    /// Units recorded (decoded tokens, or prefill passes) and each call's seconds over them.
    var units = 0
    var durations: [Double] = []

    /// Adds the calls `profile` recorded over `units` units.
    mutating func add(_ profile: ForwardProfile, units: Int) {
        guard units > 0 else { return }
        calls = profile.allreduceCalls / units
        bytes = profile.allreduceBytes / units
        self.units += units
        durations += profile.allreduceDurations.map { Double($0) * 1e-9 }
    }
}

/// What the forward pass's tensor-parallel sums cost per decoded token and per prefill, with each rank's time split
/// into transfer and waiting. Every rank makes the same sums in the same order, so a call's shortest time over the
/// ranks is the transfer itself (the last rank to arrive waits for no one); the rest of each rank's time in that call
/// is waiting for slower ranks. The sampler's collectives are not included (they are its own part of the split).
struct CommunicationFigures: Codable, Sendable, Equatable {
    struct Phase: Codable, Sendable, Equatable {
        /// Allreduce calls per unit.
        var calls: Int
        /// Payload each rank sends into the sums per unit (fp32 partial sums).
        var bytes_per_rank: Int
        /// Rank 0's time in the sums per unit, and its split.
        var ms: Double
        var transfer_ms: Double
        var wait_ms: Double
        /// The longest wait of any rank per unit.
        var max_wait_ms: Double
    }

    /// Per decoded token.
    var decode: Phase
    /// Per prefill pass.
    var prefill: Phase

    init(_ ranks: [RankBenchResult]) {
        decode = Self.phase(ranks.map(\.timings.decodeAllreduce))
        prefill = Self.phase(ranks.map(\.timings.prefillAllreduce))
    }

    static func phase(_ records: [AllreduceRecord]) -> Phase {
        let first = records[0]
        let units = Double(max(1, first.units))
        let callCount = records.map(\.durations.count).min() ?? 0
        var transfer = 0.0
        var waits = [Double](repeating: 0, count: records.count)
        for call in 0..<callCount {
            let shortest = records.map { $0.durations[call] }.min()!
            transfer += shortest
            for r in records.indices { waits[r] += records[r].durations[call] - shortest }
        }
        let total = first.durations.prefix(callCount).reduce(0, +)
        return Phase(
            calls: first.calls, bytes_per_rank: first.bytes, ms: total * 1e3 / units,
            transfer_ms: transfer * 1e3 / units,
            wait_ms: waits[0] * 1e3 / units, max_wait_ms: (waits.max() ?? 0) * 1e3 / units)
    }
}

import Coordination
import FoundationEssentials
import Tensors

/// Draws tokens as the official `BaseStrategy` does (temperature, then top-k with ties at the k-th value kept,
/// then top-p over the descending sort, then softmax and a draw) when each rank holds only the logits of its
/// contiguous vocabulary slice, without gathering the vocabulary.
///
/// Every rank calls `next` collectively with its slice and gets the same global token id back. Greedy decoding
/// (`topK == 1`) is one MAXLOC allreduce. Otherwise each rank sends rank 0 a short sorted candidate list (its
/// local top-k plus the ties at its local k-th value, or with top-k off its local top-`candidateCount`) and, with
/// top-k off, its share of the softmax mass over its whole slice. Rank 0 merges the lists into the global order
/// (value descending, id ascending), applies the filters exactly, draws `u` from the seeded generator (one draw
/// per sampled token, whichever path follows) and broadcasts the token. When the merged lists cannot settle the
/// draw (top-k off and the nucleus, or the draw, reaching past the prefix the lists are known to cover) rank 0
/// broadcasts a fallback and every rank sends its whole slice.
///
/// The result depends on the seed and the logits only, never on the number of ranks: the kept set is a prefix of
/// the global order, the draw walks it in that order, and every mass is a 128-bit fixed-point integer sum of
/// per-token weights `exp(v - max)` (62 fraction bits), which adds up to the same bits however the vocabulary is
/// sliced. TP = 1 runs the same code through `SingleRankCollectives`. The walk order (sorted, not by id) makes
/// the token for a given seed differ from `TokenSampler`'s; the distribution is the same.
///
/// One deliberate difference from the fp32 reference: filtered tokens get probability exactly 0, where the
/// official -65504 sentinel would give them a share when every kept logit/temperature is below about -65400.
public struct DistributedSampler: Sendable {
    public let parameters: SamplingParameters
    public let collectives: any SamplingCollectives
    /// Candidates each rank sends when top-k is off.
    public let candidateCount: Int
    /// Tokens for which the candidate lists could not settle the draw and every rank sent its whole slice.
    public private(set) var fallbackCount = 0
    /// Tokens drawn (greedy ones included).
    public private(set) var tokenCount = 0
    /// The ChatGLM family's `InvalidScoreLogitsProcessor`: when any logit anywhere is NaN or infinite, every score
    /// becomes 0 and this token's 5e4 before sampling. nil: logits are used as they are.
    public let invalidScoreToken: Int?
    private var random: SeededRandomSource
    /// This rank's logits after the temperature, kept between tokens: a fresh 300 KB array per sampled token (150k
    /// vocabulary at TP=2) came from newly mapped pages each time, and zeroing them was ~3% of a batch-16 decode.
    private var scaledLogits: [Float] = []

    /// 256 candidates are 2 KiB per rank per token, far below one message's latency, and cover the nucleus of a
    /// peaked next-token distribution (top-p 0.7 to 0.95) nearly always; with N ranks the merged lists usually
    /// cover more than 256 tokens.
    public static let defaultCandidateCount = 256

    public init(
        parameters: SamplingParameters, collectives: any SamplingCollectives,
        candidateCount: Int = DistributedSampler.defaultCandidateCount, invalidScoreToken: Int? = nil
    ) {
        precondition(candidateCount >= 1, "the sampler needs at least one candidate per rank")
        self.invalidScoreToken = invalidScoreToken
        self.parameters = parameters
        self.collectives = collectives
        self.candidateCount = candidateCount
        random = SeededRandomSource(seed: parameters.seed)
    }

    /// The next token id, the same on every rank. `localLogits` are this rank's logits for the global ids
    /// `vocabularyOffset ..< vocabularyOffset + localLogits.count`; the slices of the ranks, in rank order, tile
    /// the vocabulary.
    public mutating func next(localLogits: [Float], vocabularyOffset: Int) -> Int {
        tokenCount += 1
        var localLogits = localLogits
        if let token = invalidScoreToken {
            let invalid = localLogits.contains { !$0.isFinite }
            if parameters.isGreedy {
                // The processed scores' argmax is the token: a slice with an invalid logit reports it above every
                // finite value, so one MAXLOC still decides.
                let local =
                    invalid
                    ? (Float.infinity, token) : Self.localArgmax(localLogits, vocabularyOffset: vocabularyOffset)
                return collectives.allreduceMaxLocation(value: local.0, index: local.1).index
            }
            // Sampling needs every rank to know: one small allreduce per token.
            let anywhere = collectives.allreduceMaxLocation(value: invalid ? 1 : 0, index: collectives.rank).value > 0
            if anywhere {
                localLogits = Self.invalidScores(count: localLogits.count, offset: vocabularyOffset, token: token)
            }
        }
        if parameters.isGreedy {
            let local = Self.localArgmax(localLogits, vocabularyOffset: vocabularyOffset)
            return collectives.allreduceMaxLocation(value: local.value, index: local.index).index
        }
        Self.scale(localLogits, temperature: parameters.temperature, into: &scaledLogits)
        let scaled = scaledLogits
        var globalMaximum: Float?
        if !Self.usesTopK(parameters) {
            let localMaximum = scaled.max() ?? -.infinity
            globalMaximum = collectives.allreduceMaxLocation(value: localMaximum, index: collectives.rank).value
        }
        let report = Self.rankReport(
            scaled: scaled, vocabularyOffset: vocabularyOffset, parameters: parameters,
            candidateCount: candidateCount, globalMaximum: globalMaximum)

        // Rank 0 merges the candidates, draws u and decides; the merged list and u stay for a fallback.
        let coordinator = Coordinator(channel: collectives)
        var merged: MergedCandidates?
        var u = 0.0
        let decision = coordinator.decide(report: report) { reports in
            u = random.nextUnit()
            let candidates = Self.merge(reports)
            merged = candidates
            return Self.decide(Self.filter(candidates, parameters: parameters), u: u)
        }
        switch decision {
        case .token(let token):
            return token
        case .fallback:
            fallbackCount += 1
            let slice = VocabularySlice(offset: vocabularyOffset, values: scaled)
            let resolved = coordinator.decide(report: slice) { slices in
                guard let merged else { preconditionFailure("a fallback without rank 0's merged candidates") }
                let complete = Self.completeCandidates(
                    slices: slices.map { ($0.offset, $0.values) }, totalMass: merged.totalMass)
                return Self.decide(Self.filter(complete, parameters: parameters), u: u)
            }
            guard case .token(let token) = resolved else {
                preconditionFailure("the whole vocabulary always settles the draw")
            }
            return token
        }
    }
}

// MARK: - The pure steps `next` is made of

extension DistributedSampler {
    /// A slice of `InvalidScoreLogitsProcessor`'s scores: zeros, and 5e4 at `token` when the slice holds it.
    static func invalidScores(count: Int, offset: Int, token: Int) -> [Float] {
        var scores = [Float](repeating: 0, count: count)
        if (offset..<(offset + count)).contains(token) { scores[token - offset] = 5e4 }
        return scores
    }

    /// One vocabulary entry after the temperature.
    struct Candidate: Equatable, Sendable {
        var value: Float
        var id: Int
    }

    /// The global order: value descending, then id ascending (the official sort is stable over ids).
    @inline(__always)
    static func precedes(_ a: Candidate, _ b: Candidate) -> Bool {
        a.value > b.value || (a.value == b.value && a.id < b.id)
    }

    /// Whether the top-k filter is on (then its survivors are always all in the candidate lists).
    static func usesTopK(_ parameters: SamplingParameters) -> Bool { parameters.topK > 0 }

    /// Logits divided by the temperature exactly as `TokenSampler` does (Float division); NaN sorts as -inf and
    /// -0 becomes +0 (they compare equal, and `sortKey` must agree with `precedes`).
    static func scaled(_ logits: [Float], temperature: Float) -> [Float] {
        var values: [Float] = []
        scale(logits, temperature: temperature, into: &values)
        return values
    }

    /// `scaled` into an array the caller keeps (resized only when the slice size changes).
    static func scale(_ logits: [Float], temperature: Float, into values: inout [Float]) {
        if values.count != logits.count { values = [Float](repeating: 0, count: logits.count) }
        values.withUnsafeMutableBufferPointer { out in
            logits.withUnsafeBufferPointer { input in
                for i in input.indices {
                    let value = input[i] / temperature
                    out[i] = value.isNaN ? -.infinity : value == 0 ? 0 : value
                }
            }
        }
    }

    /// An integer that sorts ascending in the global order: the value's bits made order-preserving and inverted
    /// (descending values) above the id (ascending). Needs `scaled` values (no NaN, no -0) and ids below 2^32.
    @inline(__always)
    static func sortKey(value: Float, id: Int) -> UInt64 {
        let bits = value.bitPattern
        let ascending = bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
        return UInt64(~ascending) << 32 | UInt64(UInt32(id))
    }

    /// This rank's first largest logit with its global id (NaN counts as -inf; an empty slice never wins).
    static func localArgmax(_ logits: [Float], vocabularyOffset: Int) -> (value: Float, index: Int) {
        guard !logits.isEmpty else { return (-.infinity, Int(Int32.max)) }
        var best = 0
        var bestValue = logits[0].isNaN ? -Float.infinity : logits[0]
        for i in logits.indices.dropFirst() where logits[i] > bestValue {
            best = i
            bestValue = logits[i]
        }
        return (bestValue, vocabularyOffset + best)
    }

    /// A token's unnormalised probability `exp(value - maximum)` in fp32 (the official softmax's precision), 1
    /// for the maximum itself (also when it is infinite), 0 below `maximum - 44` (under 2^-63, a zero
    /// `ExactMass` anyway): `SamplingKernels.weight`, the function `mass` sums, so a token's share never depends on
    /// which of the two computed it.
    @inline(__always)
    static func weight(_ value: Float, maximum: Float) -> Double { SamplingKernels.weight(value, maximum: maximum) }

    /// The mass of a whole slice relative to the global maximum, summed in `ComputeThreads.count` slices at once
    /// (the sum is exact, so the slicing cannot change it). It is most of a sampled token's cost: one `exp` per
    /// vocabulary entry, vectorised in C (`SamplingKernels`; measured: docs/BENCHMARKS.md, "Sampling").
    static func mass(of scaled: [Float], maximum: Float) -> ExactMass {
        let slices = max(1, min(ComputeThreads.count, scaled.count / 8192))
        var partials = [ExactMass](repeating: ExactMass(), count: slices)
        scaled.withUnsafeBufferPointer { values in
            partials.withUnsafeMutableBufferPointer { partials in
                ComputeThreads.parallelFor(slices) { range in
                    for slice in range {
                        let start = values.count * slice / slices, end = values.count * (slice + 1) / slices
                        let sum = SamplingKernels.fixedPointMass(
                            UnsafeBufferPointer(rebasing: values[start..<end]), maximum: maximum)
                        partials[slice] = ExactMass(high: sum.high, low: sum.low)
                    }
                }
            }
        }
        return partials.reduce(ExactMass(), +)
    }

    /// The first `count` entries of the slice in the global order, plus, with `includingTies`, every further
    /// entry whose value equals the last one's, sorted in the global order.
    static func localCandidates(scaled: [Float], vocabularyOffset: Int, count: Int, includingTies: Bool)
        -> [Candidate]
    {
        guard count > 0, !scaled.isEmpty else { return [] }
        if scaled.count <= count {
            return scaled.enumerated().map { Candidate(value: $1, id: vocabularyOffset + $0) }.sorted(by: precedes)
        }
        // A heap whose root is the entry that comes last in the global order. Entries arrive in id order, so a
        // newcomer displaces the root only with a strictly larger value.
        var heap: [Candidate] = []
        heap.reserveCapacity(count)
        scaled.withUnsafeBufferPointer { values in
            for i in 0..<values.count {
                let candidate = Candidate(value: values[i], id: vocabularyOffset + i)
                if heap.count < count {
                    heap.append(candidate)
                    var child = heap.count - 1
                    while child > 0 {
                        let parent = (child - 1) / 2
                        guard precedes(heap[parent], heap[child]) else { break }
                        heap.swapAt(parent, child)
                        child = parent
                    }
                } else if values[i] > heap[0].value {
                    heap[0] = candidate
                    var parent = 0
                    while true {
                        let left = 2 * parent + 1
                        guard left < count else { break }
                        var later = left
                        if left + 1 < count && precedes(heap[left], heap[left + 1]) { later = left + 1 }
                        guard precedes(heap[parent], heap[later]) else { break }
                        heap.swapAt(parent, later)
                        parent = later
                    }
                }
            }
        }
        var result = heap.sorted(by: precedes)
        if includingTies, let last = result.last {
            for i in scaled.indices where scaled[i] == last.value && vocabularyOffset + i > last.id {
                result.append(Candidate(value: scaled[i], id: vocabularyOffset + i))
            }
        }
        return result
    }

    /// What one rank sends rank 0.
    struct RankReport: Equatable, Sendable {
        /// The size of the rank's slice.
        var localCount: Int
        /// The slice's mass relative to the global maximum (top-k off only).
        var mass: ExactMass?
        /// The rank's candidates in the global order.
        var candidates: [Candidate]

        /// Whether some of the slice is missing from `candidates`.
        var isTruncated: Bool { candidates.count < localCount }
    }

    /// A rank's report: with top-k on, its local top-k plus the ties at its local k-th value (this holds every
    /// global survivor: a token below its rank's k-th value has k larger ones beside it); with top-k off, its
    /// local top-`candidateCount` and its mass (`globalMaximum` is then required).
    static func rankReport(
        scaled: [Float], vocabularyOffset: Int, parameters: SamplingParameters, candidateCount: Int,
        globalMaximum: Float?
    ) -> RankReport {
        if usesTopK(parameters) {
            let candidates = localCandidates(
                scaled: scaled, vocabularyOffset: vocabularyOffset, count: parameters.topK, includingTies: true)
            return RankReport(localCount: scaled.count, mass: nil, candidates: candidates)
        }
        guard let globalMaximum else { preconditionFailure("top-k off needs the global maximum") }
        let candidates = localCandidates(
            scaled: scaled, vocabularyOffset: vocabularyOffset, count: candidateCount, includingTies: false)
        return RankReport(
            localCount: scaled.count, mass: mass(of: scaled, maximum: globalMaximum), candidates: candidates)
    }

    /// The union of the ranks' candidates in the global order.
    struct MergedCandidates: Equatable, Sendable {
        var entries: [Candidate]
        /// `entries[..<completePrefix]` is exactly the start of the global order over the whole vocabulary.
        var completePrefix: Int
        var vocabularySize: Int
        /// The whole vocabulary's mass relative to `entries[0].value` (top-k off), else nil.
        var totalMass: ExactMass?
    }

    /// Merges the reports. A rank's missing entries all come after its last candidate, so the merged list is
    /// complete up to the earliest last candidate of a truncated rank (at least `candidateCount` entries).
    static func merge(_ reports: [RankReport]) -> MergedCandidates {
        let entries = reports.flatMap(\.candidates).sorted(by: precedes)
        let vocabularySize = reports.reduce(0) { $0 + $1.localCount }
        precondition(!entries.isEmpty, "the vocabulary is empty")
        var completePrefix = entries.count
        for report in reports where report.isTruncated {
            guard let last = report.candidates.last else { preconditionFailure("a truncated rank sent nothing") }
            let covered = entries.firstIndex { precedes(last, $0) } ?? entries.count
            completePrefix = min(completePrefix, covered)
        }
        let masses = reports.compactMap(\.mass)
        let totalMass = masses.isEmpty ? nil : masses.reduce(ExactMass(), +)
        return MergedCandidates(
            entries: entries, completePrefix: completePrefix, vocabularySize: vocabularySize, totalMass: totalMass)
    }

    /// The whole vocabulary from every rank's slice (the fallback), with the mass already known.
    static func completeCandidates(slices: [(offset: Int, values: [Float])], totalMass: ExactMass?)
        -> MergedCandidates
    {
        // Sorting integer keys is several times faster than sorting candidates with `precedes`.
        var keys: [UInt64] = []
        keys.reserveCapacity(slices.reduce(0) { $0 + $1.values.count })
        for slice in slices {
            precondition(slice.offset + slice.values.count <= Int(UInt32.max), "vocabulary too large")
            for (i, value) in slice.values.enumerated() { keys.append(sortKey(value: value, id: slice.offset + i)) }
        }
        keys.sort()
        let entries = keys.map { key in
            let ascending = ~UInt32(truncatingIfNeeded: key >> 32)
            let bits = ascending & 0x8000_0000 != 0 ? ascending & 0x7FFF_FFFF : ~ascending
            return Candidate(value: Float(bitPattern: bits), id: Int(UInt32(truncatingIfNeeded: key)))
        }
        return MergedCandidates(
            entries: entries, completePrefix: entries.count, vocabularySize: entries.count, totalMass: totalMass)
    }

    /// The filters applied to the merged candidates: which prefix of the global order survives.
    struct Filtering: Equatable, Sendable {
        var entries: ArraySlice<Candidate>
        /// The weights of `entries`, the known prefix of the global order.
        var weights: [ExactMass]
        /// Survivors of the top-k filter (the whole vocabulary when it is off); `entries` may hold fewer.
        var survivorCount: Int
        var survivorMass: ExactMass
        /// The kept prefix after top-p, or nil when the nucleus reaches past the known prefix.
        var keptCount: Int?
        var keptMass: ExactMass?

        var known: Int { entries.count }
        var knownMass: ExactMass { weights.reduce(ExactMass(), +) }
    }

    /// The official filters: top-k keeps the entries at or above the k-th value; top-p then drops an entry when
    /// the survivors' probability mass before it exceeds p, never the first.
    static func filter(_ merged: MergedCandidates, parameters: SamplingParameters) -> Filtering {
        let entries = merged.entries
        let maximum = entries[0].value
        let survivorCount: Int
        let known: ArraySlice<Candidate>
        if usesTopK(parameters) && parameters.topK < merged.vocabularySize {
            let threshold = entries[parameters.topK - 1].value
            survivorCount = entries.firstIndex { $0.value < threshold } ?? entries.count
            known = entries[..<survivorCount]
        } else {
            survivorCount = merged.vocabularySize
            known = entries[..<merged.completePrefix]
        }
        let weights = known.map { ExactMass(weight: weight($0.value, maximum: maximum)) }
        var survivorMass = weights.reduce(ExactMass(), +)
        if survivorCount > known.count {
            guard let totalMass = merged.totalMass else { preconditionFailure("an incomplete list without its mass") }
            survivorMass = totalMass
        }
        var filtering = Filtering(
            entries: known, weights: weights, survivorCount: survivorCount, survivorMass: survivorMass,
            keptCount: survivorCount, keptMass: survivorMass)
        guard parameters.topP > 0 else { return filtering }
        filtering.keptCount = nil
        filtering.keptMass = nil
        let limit = Double(parameters.topP) * survivorMass.value
        var before = ExactMass()
        for i in 0...known.count {
            if i == survivorCount {
                filtering.keptCount = i
                filtering.keptMass = survivorMass
                break
            }
            if i > 0 && before.value > limit {
                filtering.keptCount = i
                filtering.keptMass = before
                break
            }
            if i == known.count { break }
            before += weights[i]
        }
        return filtering
    }

    /// The kept tokens with their probabilities (renormalised over the kept set) in the global order, or nil
    /// when the candidates do not settle the kept set.
    static func keptDistribution(_ filtering: Filtering) -> [(id: Int, probability: Double)]? {
        guard let keptCount = filtering.keptCount, let keptMass = filtering.keptMass, keptCount <= filtering.known
        else { return nil }
        let base = filtering.entries.startIndex
        return (0..<keptCount).map {
            (filtering.entries[base + $0].id, filtering.weights[$0].value / keptMass.value)
        }
    }

    /// What rank 0 tells the others.
    enum Decision: Equatable, Sendable {
        case token(Int)
        case fallback
    }

    /// The token for `u` in [0, 1): the first kept entry, in the global order, whose cumulative mass exceeds
    /// `u` times the kept mass. When the kept mass is unknown (the nucleus reaches past the known prefix) it lies
    /// between the known prefix's mass and the survivors' mass; if both ends give the same known entry, so does
    /// the true mass (the walk is monotone in it), otherwise the answer is a fallback.
    static func decide(_ filtering: Filtering, u: Double) -> Decision {
        let entries = filtering.entries
        let base = entries.startIndex
        if let keptCount = filtering.keptCount, let keptMass = filtering.keptMass {
            let target = u * keptMass.value
            var cumulative = ExactMass()
            var lastPositive = 0
            for i in 0..<min(keptCount, filtering.known) {
                cumulative += filtering.weights[i]
                if filtering.weights[i] != ExactMass() { lastPositive = i }
                if target < cumulative.value { return .token(entries[base + i].id) }
            }
            // Rounding can leave u * mass at the total: the last kept token with a weight takes it.
            return keptCount <= filtering.known ? .token(entries[base + lastPositive].id) : .fallback
        }
        let high = u * filtering.survivorMass.value
        var cumulative = ExactMass()
        for i in 0..<filtering.known {
            let before = cumulative
            cumulative += filtering.weights[i]
            if high < cumulative.value {
                let low = u * filtering.knownMass.value
                return low >= before.value ? .token(entries[base + i].id) : .fallback
            }
        }
        return .fallback
    }
}

// MARK: - Exact mass

/// A sum of weights in [0, 1] in fixed point: 128 bits with 62 fraction bits. Each weight is rounded once (to
/// 2^-63); the sums are integer additions, so they are exact and independent of the order and grouping, which
/// makes the total mass the same bits at every tensor-parallel degree. Room for 2^66 tokens of weight 1.
struct ExactMass: Equatable, Sendable {
    var high: UInt64 = 0
    var low: UInt64 = 0

    init() {}

    init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// `weight` in [0, 1].
    init(weight: Double) {
        low = Self.fixedPoint(weight)
    }

    /// `weight` in [0, 1] in units of 2^-62, rounded to nearest with halves away from zero (as `rounded()`), without
    /// a call to libm's `round`: truncation to Int64 (the value is below 2^63) leaves an exact fraction.
    @inline(__always)
    static func fixedPoint(_ weight: Double) -> UInt64 {
        let scaled = weight * 0x1p62
        let whole = Int64(scaled)
        return UInt64(whole) + (scaled - Double(whole) >= 0.5 ? 1 : 0)
    }

    static func + (a: ExactMass, b: ExactMass) -> ExactMass {
        let (low, carry) = a.low.addingReportingOverflow(b.low)
        return ExactMass(high: a.high &+ b.high &+ (carry ? 1 : 0), low: low)
    }

    static func += (a: inout ExactMass, b: ExactMass) { a = a + b }

    /// The sum as a Double (monotone in the sum).
    var value: Double { Double(high) * 4 + Double(low) * 0x1p-62 }
}

// MARK: - Wire formats

extension DistributedSampler.RankReport: WireMessage {
    /// localCount, the mass (a flag, then high and low), then the candidates: count, and per candidate the
    /// value's bits and the id as UInt32 (8 bytes each: a rank sends 256 of them per sampled token).
    func write(to writer: inout WireWriter) {
        writer.write(localCount)
        writer.write(mass != nil)
        if let mass {
            writer.write(mass.high)
            writer.write(mass.low)
        }
        writer.write(count: candidates.count)
        for candidate in candidates {
            precondition(candidate.id >= 0 && candidate.id <= Int(UInt32.max), "token id \(candidate.id) out of range")
            writer.write(candidate.value)
            writer.write(UInt32(candidate.id))
        }
    }

    init(reading reader: inout WireReader) throws(WireError) {
        localCount = try reader.read(Int.self)
        mass = try reader.read(Bool.self) ? ExactMass(high: try reader.read(), low: try reader.read()) : nil
        let count = try reader.readCount(elementSize: 8)
        candidates = []
        candidates.reserveCapacity(count)
        for _ in 0..<count {
            let value = try reader.read(Float.self)
            candidates.append(DistributedSampler.Candidate(value: value, id: Int(try reader.read(UInt32.self))))
        }
    }
}

extension DistributedSampler.Decision: WireMessage {
    /// A kind byte (0 token, 1 fallback), then the token id.
    func write(to writer: inout WireWriter) {
        switch self {
        case .token(let token):
            writer.write(UInt8(0))
            writer.write(token)
        case .fallback:
            writer.write(UInt8(1))
        }
    }

    init(reading reader: inout WireReader) throws(WireError) {
        switch try reader.read(UInt8.self) {
        case 0: self = .token(try reader.read(Int.self))
        case 1: self = .fallback
        case let kind: throw .invalid("unknown sampler decision \(kind)")
        }
    }
}

extension DistributedSampler {
    /// A rank's whole slice after the temperature, sent when the candidates cannot settle the draw.
    struct VocabularySlice: WireMessage, Equatable {
        var offset: Int
        var values: [Float]

        func write(to writer: inout WireWriter) {
            writer.write(offset)
            writer.write(floats: values)
        }

        init(offset: Int, values: [Float]) {
            self.offset = offset
            self.values = values
        }

        init(reading reader: inout WireReader) throws(WireError) {
            offset = try reader.read(Int.self)
            values = try reader.read(floats: [Float].self)
        }
    }
}

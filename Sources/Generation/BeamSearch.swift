import Coordination
import GLM
import Glibc
import Tokenization

/// Beam search settings (spec section 8; official defaults in the GLM-130B scripts: 4 beams, length penalty 1,
/// no-repeat n-gram 3, minimum length 0).
public struct BeamSearchParameters: Sendable, Equatable, Codable {
    public var beams: Int
    /// Finished beams rank by `score / ((5 + length) / 6)^lengthPenalty`, length counting the whole sequence.
    public var lengthPenalty: Double
    /// A token that would repeat an n-gram generated so far is banned (0: off).
    public var noRepeatNgramSize: Int
    /// End tokens are banned until this many tokens of the blank are generated.
    public var minGenLength: Int

    public init(beams: Int = 4, lengthPenalty: Double = 1, noRepeatNgramSize: Int = 0, minGenLength: Int = 0) {
        self.beams = beams
        self.lengthPenalty = lengthPenalty
        self.noRepeatNgramSize = noRepeatNgramSize
        self.minGenLength = minGenLength
    }
}

/// The official `BeamSearchStrategy` (GLM-130B `generation/strategies.py`, deterministic mode, `consider_end`)
/// for one request, as a `GenerationTask` whose live beams are decoded as one batch.
///
/// Each step: every beam's logits get the bans (end tokens below `minGenLength`, n-gram repeats), scores are
/// `log_softmax + the beam's cumulative score`, and the top `(max(1, #end tokens) + 1) · beams` (beam, token)
/// pairs by score (ties: lower beam, then lower token id) are walked in order: an end token closes a finished beam
/// (kept if among the `beams` best by penalised score), any other pair continues as a live beam until `beams` are
/// live. The blank is done when `beams` beams have finished and none of the live ones could still beat the worst
/// of them, or at the length budget; then, as the official code does, only the best live beam joins the finished
/// ones. With several blanks, the next blank continues from the best beam (official `fill_blanks`).
///
/// Under tensor parallelism each rank holds a vocabulary slice: every rank reports its log-sum-exp parts and local
/// top candidates, rank 0 picks the global candidates (`Coordinator.decide`) and every rank receives them, so
/// every rank updates the same beams. Scores are computed in fp64.
public final class BeamSearchTask: GenerationTask {
    public let model: GLMModel
    public let prompt: BlankPrompt
    public let options: GenerationOptions
    public let parameters: BeamSearchParameters
    private let collectives: SamplingCollectives
    private let special: SpecialTokenIds
    private let tokenizer: (any PromptTokenizer)?
    private let endTokens: [Int]
    private var assembler: AnswerAssembler
    private var blanks: [BlankResult] = []
    private var cacheBytes = 0
    private var current: Blank?
    public private(set) var result: GenerationResult?
    public private(set) var tokenTimes: [ContinuousClock.Instant] = []
    public let reservedCacheBytes: Int
    public var batchSlots: Int { parameters.beams }

    /// A live beam: its tokens of this blank, cumulative log-probability, n-gram bans and cache.
    struct Beam {
        var tokens: [Int]
        var score: Double
        var bans: [[Int]: [Int]]
        var cache: KVCache
    }

    /// A finished beam (its tokens end with the end token, unless it was closed at the length limit).
    struct Finished {
        var tokens: [Int]
        var penalised: Double
        var ended: Bool
    }

    private struct Blank {
        var context: [Int]
        var maskPosition: Int
        var layout: SequenceLayout
        var budget: Int
        /// Before the first step: the context is prefilled into `beams[0]`'s cache.
        var prefilled = false
        var beams: [Beam]
        var finished: [Finished] = []
        var generated = 0
        var done = false
    }

    public init(
        model: GLMModel, prompt: BlankPrompt, options: GenerationOptions, parameters: BeamSearchParameters,
        special: SpecialTokenIds, tokenizer: (any PromptTokenizer)?, collectives: SamplingCollectives
    ) throws {
        guard parameters.beams >= 1 else { throw BeamSearchError.invalid("--num-beams must be at least 1") }
        guard parameters.noRepeatNgramSize >= 0, parameters.minGenLength >= 0 else {
            throw BeamSearchError.invalid("--no-repeat-ngram-size and --min-gen-length must not be negative")
        }
        self.model = model
        self.prompt = prompt
        self.options = options
        self.parameters = parameters
        self.collectives = collectives
        self.special = special
        self.tokenizer = tokenizer
        endTokens = [special.id(of: .eop), special.eos]
        try prompt.checkLength(maxSequenceLength: model.configuration.maxSequenceLength)
        assembler = AnswerAssembler(prompt: prompt, special: special, tokenizer: tokenizer)
        reservedCacheBytes = SamplingTask.cacheBound(
            model: model, prompt: prompt, options: options, special: special, sequences: parameters.beams)
        try advance(previousBest: nil)
    }

    public var isFinished: Bool { result != nil }

    public func nextSegments() -> [ForwardSegment] {
        guard let blank = current else { return [] }
        if !blank.prefilled {
            return [ForwardSegment(tokens: blank.context, layout: blank.layout, cache: blank.beams[0].cache)]
        }
        return blank.beams.map { ForwardSegment(tokens: [$0.tokens.last!], layout: blank.layout, cache: $0.cache) }
    }

    public func consume(_ logits: [[Float]]) throws {
        guard var blank = current else { preconditionFailure("consume on a finished task") }
        blank.prefilled = true
        let candidates = selectCandidates(blank: blank, logits: logits)
        tokenTimes.append(.now)
        step(&blank, candidates: candidates)
        if blank.done || blank.generated >= blank.budget || blank.beams.isEmpty {
            current = nil
            try finishBlank(blank)
        } else {
            current = blank
        }
    }

    // MARK: - One step

    /// The candidate (beam, token, score) triples of this step, best first, identical on every rank.
    private func selectCandidates(blank: Blank, logits: [[Float]]) -> [BeamCandidate] {
        let wanted = (max(1, endTokens.count) + 1) * parameters.beams
        let offset = model.vocabRange.lowerBound
        // Per beam on this rank: max, Σ exp(x - max) and the local top `wanted` (value, global id).
        var report: [BeamSliceSummary] = []
        for (b, beam) in blank.beams.enumerated() where b < logits.count {
            var row = logits[b].map(Double.init)
            for token in bannedTokens(blank: blank, beam: beam) {
                let local = token - offset
                if local >= 0 && local < row.count { row[local] = -65504 }
            }
            let largest = row.max() ?? -Double.infinity
            var sum = 0.0
            for v in row { sum += exp(v - largest) }
            let top = Self.top(row, count: wanted).map { BeamSliceSummary.Entry(value: row[$0], token: $0 + offset) }
            report.append(BeamSliceSummary(maximum: largest, sumOfExponentials: sum, top: top))
        }
        let beams = min(blank.beams.count, logits.count)
        return Coordinator(channel: collectives).decide(report: report) { reports in
            var all: [BeamCandidate] = []
            for b in 0..<beams {
                // log-sum-exp over every rank's slice, then each rank's candidates of this beam.
                let slices = reports.map { $0[b] }
                let largest = slices.map(\.maximum).max() ?? -Double.infinity
                var total = 0.0
                for slice in slices { total += slice.sumOfExponentials * exp(slice.maximum - largest) }
                let logSumExp = largest + log(total)
                for slice in slices {
                    for entry in slice.top {
                        all.append(
                            BeamCandidate(
                                beam: b, token: entry.token, score: blank.beams[b].score + (entry.value - logSumExp)))
                    }
                }
            }
            all.sort { ($0.score, -$0.beam, -$0.token) > ($1.score, -$1.beam, -$1.token) }
            return Array(all.prefix(wanted))
        }
    }

    /// Indices of the `count` largest values, largest first (ties: lower index first).
    static func top(_ values: [Double], count: Int) -> [Int] {
        var best: [Int] = []
        best.reserveCapacity(count + 1)
        for (i, v) in values.enumerated() {
            if best.count == count, let last = best.last, v <= values[last] { continue }
            var at = best.count
            while at > 0 && values[best[at - 1]] < v { at -= 1 }
            best.insert(i, at: at)
            if best.count > count { best.removeLast() }
        }
        return best
    }

    /// Tokens a beam may not take now: end tokens below the minimum length, and n-gram repeats.
    private func bannedTokens(blank: Blank, beam: Beam) -> [Int] {
        var banned: [Int] = []
        if parameters.minGenLength > blank.generated { banned += endTokens }
        let n = parameters.noRepeatNgramSize
        if n > 0 && blank.context.count + blank.generated > n {
            banned += beam.bans[ngramPrefix(blank: blank, tokens: beam.tokens)] ?? []
        }
        return banned
    }

    /// The last n - 1 tokens of the beam's whole sequence (context included); empty for n = 1, so that n = 1
    /// bans every token generated before (the official code leaves n = 1 as a TODO).
    private func ngramPrefix(blank: Blank, tokens: [Int]) -> [Int] {
        let n = parameters.noRepeatNgramSize
        guard n > 1 else { return [] }
        let sequence = blank.context + tokens
        return Array(sequence.suffix(n - 1))
    }

    /// Walks the candidates: finished beams and the next live beams, caches reassigned, the done test.
    private func step(_ blank: inout Blank, candidates: [BeamCandidate]) {
        var live: [(parent: Int, beam: Beam)] = []
        for candidate in candidates {
            let parent = blank.beams[candidate.beam]
            let tokens = parent.tokens + [candidate.token]
            if !blank.done && endTokens.contains(candidate.token) {
                addFinished(&blank, tokens: tokens, score: candidate.score, ended: true)
            } else if live.count < parameters.beams {
                var bans = parent.bans
                if parameters.noRepeatNgramSize > 0 {
                    bans[ngramPrefix(blank: blank, tokens: parent.tokens), default: []].append(candidate.token)
                }
                live.append(
                    (candidate.beam, Beam(tokens: tokens, score: candidate.score, bans: bans, cache: parent.cache)))
            } else {
                break
            }
        }
        // Caches: the first live child of a parent takes the parent's cache; other children get a cache that no
        // live beam descends from (or a new one) and copy what differs: the whole context after the first step,
        // afterwards only the generated tokens (every beam shares the context).
        var claimed = Set<Int>()
        var spare = blank.beams.indices.filter { index in !live.contains { $0.parent == index } }.map {
            blank.beams[$0].cache
        }
        for i in live.indices {
            let parent = live[i].parent
            if claimed.insert(parent).inserted { continue }
            let source = blank.beams[parent].cache
            let cache = spare.popLast() ?? model.makeCache(capacity: source.capacity)
            cache.copyTokens(of: source, from: blank.generated == 0 ? 0 : blank.context.count)
            live[i].beam.cache = cache
        }
        blank.beams = live.map(\.beam)
        blank.generated += 1
        cacheBytes = max(cacheBytes, blank.beams.count * (blank.beams.first?.cache.byteCount ?? 0))
        if let best = blank.beams.map(\.score).max() {
            let length = Double(blank.context.count + blank.generated)
            let bound = best / pow((5 + length) / 6, parameters.lengthPenalty)
            if blank.finished.count == parameters.beams, let worst = blank.finished.last, worst.penalised >= bound {
                blank.done = true
            }
        } else {
            blank.done = true
        }
    }

    /// Inserts a finished beam by penalised score (before equal ones, as the official code does), keeping the
    /// best `beams`.
    private func addFinished(_ blank: inout Blank, tokens: [Int], score: Double, ended: Bool) {
        let length = Double(blank.context.count + tokens.count)
        let penalised = score / pow((5 + length) / 6, parameters.lengthPenalty)
        var at = blank.finished.count
        while at > 0 && !(penalised < blank.finished[at - 1].penalised) { at -= 1 }
        blank.finished.insert(Finished(tokens: tokens, penalised: penalised, ended: ended), at: at)
        if blank.finished.count > parameters.beams {
            blank.finished.removeLast(blank.finished.count - parameters.beams)
        }
    }

    // MARK: - Blanks

    /// Starts the next blank (from the best beam of the previous one), or finishes the task.
    private func advance(previousBest: [RankedBeam]?) throws {
        let filled = blanks.count
        let next = try OpenedBlank.next(model: model, options: options, assembler: &assembler, blanks: &blanks)
        // Blanks filled empty on the way would be missing from the previous blank's beam texts.
        let alternatives = blanks.count == filled ? previousBest ?? [] : []
        if let next {
            cacheBytes = max(cacheBytes, next.cache.byteCount)
            current = Blank(
                context: next.context, maskPosition: next.maskPosition, layout: next.layout, budget: next.budget,
                beams: [Beam(tokens: [], score: 0, bans: [:], cache: next.cache)])
            return
        }
        current = nil
        result = GenerationResult(
            prompt: prompt, blanks: blanks, answer: assembler.finish(), outputIds: assembler.sequence,
            cacheBytes: cacheBytes, beams: alternatives)
    }

    private func finishBlank(_ blank: Blank) throws {
        var blank = blank
        // Official finalize (consider_end): if not done, only the best live beam joins the finished ones.
        if !blank.done, let best = blank.beams.max(by: { $0.score < $1.score }) {
            addFinished(&blank, tokens: best.tokens, score: best.score, ended: false)
        }
        let ranked = blank.finished
        // Every finished beam with its own answer texts (the result keeps the last blank's list).
        var beams: [RankedBeam] = []
        for beam in ranked {
            var copy = assembler
            try copy.fill(generated: beam.tokens)
            beams.append(
                RankedBeam(
                    generatedIds: beam.ended ? Array(beam.tokens.dropLast()) : beam.tokens,
                    finishReason: beam.ended ? .endToken : .length, score: beam.penalised, answer: copy.finish()))
        }
        let best = ranked[0]
        let text = try assembler.fill(generated: best.tokens)
        let ended = best.ended
        blanks.append(
            BlankResult(
                contextIds: blank.context, maskPosition: blank.maskPosition,
                generatedIds: ended ? Array(best.tokens.dropLast()) : best.tokens,
                finishReason: ended ? .endToken : .length, text: text))
        try advance(previousBest: beams)
    }
}

/// Invalid beam search settings.
public enum BeamSearchError: Error, CustomStringConvertible, Equatable {
    case invalid(String)

    public var description: String {
        switch self {
        case .invalid(let message): message
        }
    }
}

// MARK: - What the ranks exchange each step

/// One rank's summary of one beam's logits slice: its maximum, the sum of `exp(x - maximum)` over the slice, and
/// its best entries (value, global token id), best first.
struct BeamSliceSummary: WireMessage, Equatable {
    struct Entry: Equatable {
        var value: Double
        var token: Int
    }

    var maximum: Double
    var sumOfExponentials: Double
    var top: [Entry]

    init(maximum: Double, sumOfExponentials: Double, top: [Entry]) {
        self.maximum = maximum
        self.sumOfExponentials = sumOfExponentials
        self.top = top
    }

    func write(to writer: inout WireWriter) {
        writer.write(maximum)
        writer.write(sumOfExponentials)
        writer.write(count: top.count)
        for entry in top {
            writer.write(entry.value)
            writer.write(entry.token)
        }
    }

    init(reading reader: inout WireReader) throws(WireError) {
        maximum = try reader.read(Double.self)
        sumOfExponentials = try reader.read(Double.self)
        let count = try reader.readCount(elementSize: 16)
        top = []
        top.reserveCapacity(count)
        for _ in 0..<count { top.append(Entry(value: try reader.read(Double.self), token: try reader.read(Int.self))) }
    }
}

/// A global candidate of one step, chosen by rank 0: extend `beam` with `token`, reaching `score`.
struct BeamCandidate: WireMessage, Equatable {
    var beam: Int
    var token: Int
    var score: Double

    init(beam: Int, token: Int, score: Double) {
        self.beam = beam
        self.token = token
        self.score = score
    }

    func write(to writer: inout WireWriter) {
        writer.write(beam)
        writer.write(token)
        writer.write(score)
    }

    init(reading reader: inout WireReader) throws(WireError) {
        beam = try reader.read(Int.self)
        token = try reader.read(Int.self)
        score = try reader.read(Double.self)
    }
}

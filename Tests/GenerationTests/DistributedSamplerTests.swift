import Coordination
import Foundation
import Tensors
import TestSupport
import Testing

@testable import Generation

/// The distributed sampler against the full-gather reference (`TokenSampler.filteredProbabilities`), at simulated
/// tensor-parallel degrees 1, 2, 3, 4 and 8: in-process with the pure steps `next` is made of, and through
/// `next` itself with one thread per rank over a barrier-based fake of the collectives.
@Suite struct DistributedSamplerTests {
    typealias Sampler = DistributedSampler

    static let degrees = [1, 2, 3, 4, 8]
    /// Divisible by every degree; 1032 * p is far from an integer for the p used here, so a constant
    /// distribution's nucleus edge is not at the mercy of the reference's fp32 cumulative sum.
    static let vocabularySize = 1032

    // MARK: Logits

    enum Shape: String, CaseIterable, CustomTestStringConvertible {
        case gaussian, peaked, flat, ties, constant, banned

        var testDescription: String { rawValue }

        func logits(count: Int = DistributedSamplerTests.vocabularySize, seed: UInt64) -> [Float] {
            var random = SeededRandomSource(seed: seed)
            switch self {
            case .gaussian:
                return (0..<count).map { _ in 2 * random.nextGaussian() }
            case .peaked:
                var logits = (0..<count).map { _ in random.nextGaussian() }
                for i in stride(from: 7, to: count, by: count / 5) { logits[i] += 9 }
                return logits
            case .flat:
                return (0..<count).map { _ in 0.05 * random.nextGaussian() }
            case .ties:
                // Few distinct values, so the k-th value and the nucleus edge fall inside runs of exact ties that
                // straddle slice boundaries.
                return (0..<count).map { _ in (1.5 * random.nextGaussian()).rounded() }
            case .constant:
                return [Float](repeating: 0.25, count: count)
            case .banned:
                return (0..<count).map { i in i % 3 == 1 ? -.infinity : 2 * random.nextGaussian() }
            }
        }
    }

    /// (temperature, top-k, top-p): top-k only, top-p only, both, plain sampling, top-k past the vocabulary.
    static let settings: [(Float, Int, Float)] = [
        (1, 0, 0.7), (0.7, 5, 0), (1.3, 10, 0.9), (1, 0, 0), (0.6, 3, 0.55), (1, 40, 0.95), (0.8, 0, 0.95),
        (2, 0, 0.3), (1, 2000, 0.85), (1.5, 1, 0.7), (0.9, 2, 0),
    ]

    static func parameters(_ setting: (Float, Int, Float), seed: UInt64 = 1) -> SamplingParameters {
        SamplingParameters(temperature: setting.0, topK: setting.1, topP: setting.2, seed: seed)
    }

    // MARK: In-process simulation of the pure steps

    static func slices(_ logits: [Float], ranks: Int) -> [(offset: Int, values: [Float])] {
        let width = logits.count / ranks
        return (0..<ranks).map { ($0 * width, Array(logits[$0 * width..<($0 + 1) * width])) }
    }

    /// What rank 0 holds after the candidate gather, and after a fallback gather, exactly as `next` builds them
    /// (through the wire formats).
    struct Coordinator {
        var merged: Sampler.MergedCandidates
        var complete: Sampler.MergedCandidates
        var parameters: SamplingParameters

        init(logits: [Float], ranks: Int, parameters: SamplingParameters, candidateCount: Int) {
            self.parameters = parameters
            let parts = DistributedSamplerTests.slices(logits, ranks: ranks).map {
                (offset: $0.offset, values: Sampler.scaled($0.values, temperature: parameters.temperature))
            }
            var globalMaximum: Float?
            if !Sampler.usesTopK(parameters) {
                globalMaximum = parts.map { $0.values.max() ?? -.infinity }.max()
            }
            let reports = parts.map {
                Sampler.rankReport(
                    scaled: $0.values, vocabularyOffset: $0.offset, parameters: parameters,
                    candidateCount: candidateCount, globalMaximum: globalMaximum
                ).wireBytes()
            }
            merged = Sampler.merge(reports.map { try! Sampler.RankReport(wireBytes: $0) })
            complete = Sampler.completeCandidates(
                slices: parts.map {
                    let slice = try! Sampler.VocabularySlice(
                        wireBytes: Sampler.VocabularySlice(offset: $0.offset, values: $0.values).wireBytes())
                    return (slice.offset, slice.values)
                },
                totalMass: merged.totalMass)
        }

        var filtering: Sampler.Filtering { Sampler.filter(merged, parameters: parameters) }
        var completeFiltering: Sampler.Filtering { Sampler.filter(complete, parameters: parameters) }

        /// The token for `u` and whether it needed the fallback.
        func draw(_ u: Double) -> (token: Int, fellBack: Bool) {
            if case .token(let token) = Sampler.decide(filtering, u: u) { return (token, false) }
            guard case .token(let token) = Sampler.decide(completeFiltering, u: u) else {
                Issue.record("the complete vocabulary did not settle the draw")
                return (-1, true)
            }
            return (token, true)
        }
    }

    /// Probabilities by id from the kept distribution.
    static func dense(_ kept: [(id: Int, probability: Double)], count: Int) -> [Double] {
        var result = [Double](repeating: 0, count: count)
        for entry in kept { result[entry.id] = entry.probability }
        return result
    }

    // MARK: (a) the kept set and its probabilities

    @Test(arguments: Shape.allCases)
    func keptDistributionMatchesTheFullGatherReference(shape: Shape) {
        var fallbacks = 0
        for (index, setting) in Self.settings.enumerated() where setting.1 != 1 {
            let logits = shape.logits(seed: UInt64(100 + index))
            let parameters = Self.parameters(setting)
            let reference = TokenSampler.filteredProbabilities(logits, parameters: parameters).map(Double.init)
            for ranks in Self.degrees {
                for candidateCount in [256, 16] {
                    let coordinator = Coordinator(
                        logits: logits, ranks: ranks, parameters: parameters, candidateCount: candidateCount)
                    var kept = Sampler.keptDistribution(coordinator.filtering)
                    if kept == nil {
                        fallbacks += 1
                        #expect(!Sampler.usesTopK(parameters), "top-k survivors are always in the lists")
                        kept = Sampler.keptDistribution(coordinator.completeFiltering)
                    }
                    guard let kept else {
                        Issue.record("no kept distribution from the whole vocabulary")
                        continue
                    }
                    let ours = Self.dense(kept, count: logits.count)
                    let label = "\(shape) \(setting) N=\(ranks) C=\(candidateCount)"
                    #expect(
                        Set(ours.indices.filter { ours[$0] > 1e-15 })
                            == Set(reference.indices.filter { reference[$0] > 1e-15 }), "kept set, \(label)")
                    let worst = zip(ours, reference).map { abs($0 - $1) }.max() ?? 0
                    #expect(worst < 1e-6, "largest probability error \(worst), \(label)")
                    #expect(abs(kept.reduce(0) { $0 + $1.probability } - 1) < 1e-12)
                }
            }
        }
        if shape == .flat { #expect(fallbacks > 0, "the flat nucleus is wider than 16 candidates") }
    }

    // MARK: (b) the same token for a given u at every degree

    @Test(arguments: Shape.allCases)
    func tokenForAGivenUIsTheSameAtEveryDegree(shape: Shape) {
        var random = SeededRandomSource(seed: 77)
        let us = [0, 0.5, 1 - 0x1p-53] + (0..<40).map { _ in random.nextUnit() }
        for (index, setting) in Self.settings.enumerated() where setting.1 != 1 {
            let logits = shape.logits(seed: UInt64(300 + index))
            let parameters = Self.parameters(setting)
            let coordinators = Self.degrees.flatMap { ranks in
                [256, 16, 1].map {
                    Coordinator(logits: logits, ranks: ranks, parameters: parameters, candidateCount: $0)
                }
            }
            // An independent walk: the reference probabilities in the global order.
            let reference = TokenSampler.filteredProbabilities(logits, parameters: parameters).map(Double.init)
            let order = reference.indices.filter { reference[$0] > 0 }.sorted {
                let a = logits[$0] / parameters.temperature
                let b = logits[$1] / parameters.temperature
                return a > b || (a == b && $0 < $1)
            }
            for u in us {
                let tokens = coordinators.map { $0.draw(u).token }
                #expect(Set(tokens).count == 1, "\(shape) \(setting) u=\(u): \(tokens)")
                var cumulative = 0.0
                var expected: Int?
                var nearEdge = false
                for id in order {
                    cumulative += reference[id]
                    if abs(cumulative - u) < 1e-5 { nearEdge = true }
                    if expected == nil && u < cumulative { expected = id }
                }
                if !nearEdge, let expected {
                    #expect(tokens[0] == expected, "\(shape) \(setting) u=\(u)")
                }
            }
        }
    }

    // MARK: (c) greedy

    @Test func greedyIsTheArgmaxOfTheConcatenatedLogits() {
        var cases = Shape.allCases.map { $0.logits(seed: 5) }
        var tied = Shape.gaussian.logits(seed: 6)
        for i in [200, 600, 601, 1000] { tied[i] = 50 }  // ties across slices: the first id wins
        cases.append(tied)
        var late = [Float](repeating: -1, count: Self.vocabularySize)
        late[Self.vocabularySize - 1] = 0  // the maximum on the last rank
        cases.append(late)
        let allCases = cases
        for ranks in Self.degrees {
            let tokens = SimulatedWorld.run(ranks: ranks) { group in
                var sampler = DistributedSampler(parameters: .greedy, collectives: group)
                return allCases.map { logits in
                    let slice = Self.slices(logits, ranks: ranks)[group.rank]
                    return sampler.next(localLogits: slice.values, vocabularyOffset: slice.offset)
                }
            }
            for rankTokens in tokens {
                #expect(rankTokens == allCases.map(TokenSampler.argmax), "N=\(ranks)")
            }
        }
    }

    /// ChatGLM's `InvalidScoreLogitsProcessor`: a NaN or infinity anywhere (on any rank's slice) makes every score
    /// 0 and token 5's 5e4, so greedy and sampled draws alike give 5, whichever rank holds it; finite logits are
    /// untouched (the same tokens as without the processor).
    @Test func invalidScoresDrawTheProcessorsToken() {
        var withNaN = Shape.gaussian.logits(seed: 9)
        withNaN[1000] = .nan
        var withInfinity = Shape.peaked.logits(seed: 10)
        withInfinity[3] = .infinity
        let finite = Shape.peaked.logits(seed: 11)
        let invalid = [withNaN, withInfinity]
        let settings: [SamplingParameters] = [
            .greedy, SamplingParameters(temperature: 0.95, topK: 0, topP: 0.7, seed: 3),
            SamplingParameters(temperature: 1, topK: 40, topP: 0, seed: 4),
        ]
        for ranks in Self.degrees {
            for parameters in settings {
                let tokens = SimulatedWorld.run(ranks: ranks) { group in
                    var processed = DistributedSampler(parameters: parameters, collectives: group, invalidScoreToken: 5)
                    var plain = DistributedSampler(parameters: parameters, collectives: group)
                    return (invalid + [finite]).map { logits in
                        let slice = Self.slices(logits, ranks: ranks)[group.rank]
                        return processed.next(localLogits: slice.values, vocabularyOffset: slice.offset)
                    }
                        + [finite].map { logits in
                            let slice = Self.slices(logits, ranks: ranks)[group.rank]
                            return plain.next(localLogits: slice.values, vocabularyOffset: slice.offset)
                        }
                }
                for rankTokens in tokens {
                    #expect(rankTokens[0] == 5 && rankTokens[1] == 5, "N=\(ranks) \(parameters)")
                    if parameters.isGreedy { #expect(rankTokens[2] == rankTokens[3] && rankTokens[2] != 5) }
                }
            }
        }
    }

    // MARK: (d) the fallback only when needed, and right

    @Test(arguments: Shape.allCases)
    func fallbackOnlyWhenTheListsCannotSettleTheDraw(shape: Shape) {
        var random = SeededRandomSource(seed: 11)
        let us = (0..<20).map { _ in random.nextUnit() }
        var taken = 0
        for (index, setting) in Self.settings.enumerated() where setting.1 != 1 {
            let logits = shape.logits(seed: UInt64(500 + index))
            let parameters = Self.parameters(setting)
            let exact = Coordinator(logits: logits, ranks: 1, parameters: parameters, candidateCount: logits.count)
            #expect(Sampler.keptDistribution(exact.filtering) != nil, "every rank sent its whole slice")
            let full = exact.completeFiltering
            guard let keptCount = full.keptCount else {
                Issue.record("the whole vocabulary left the nucleus open")
                continue
            }
            for ranks in Self.degrees {
                for candidateCount in [64, 16, 4] {
                    let coordinator = Coordinator(
                        logits: logits, ranks: ranks, parameters: parameters, candidateCount: candidateCount)
                    let known = coordinator.filtering.known
                    for u in us {
                        let (token, fellBack) = coordinator.draw(u)
                        #expect(token == exact.draw(u).token)
                        guard fellBack else { continue }
                        taken += 1
                        let label = "\(shape) \(setting) N=\(ranks) C=\(candidateCount)"
                        #expect(!Sampler.usesTopK(parameters), "top-k never needs the fallback, \(label)")
                        let position = full.entries.firstIndex { $0.id == token }! - full.entries.startIndex
                        if parameters.topP > 0 {
                            // The nucleus edge was visible: the lists settle it.
                            #expect(keptCount > known, "nucleus \(keptCount) within \(known), \(label)")
                        } else {
                            // Plain sampling: the walk ended inside the known prefix.
                            #expect(position >= known, "token at \(position) within \(known), \(label)")
                        }
                    }
                }
            }
        }
        if shape == .flat || shape == .constant { #expect(taken > 0, "wide nuclei need the fallback") }
    }

    // MARK: (e) seeded sequences through `next`, one thread per rank

    static let sequenceSettings: [(setting: (Float, Int, Float), candidateCount: Int)] = [
        ((1, 0, 0.7), 256), ((0.8, 40, 0.9), 256), ((1, 0, 0), 256), ((1.2, 0, 0.95), 8), ((0.7, 3, 0), 1),
    ]

    @Test(arguments: 0..<sequenceSettings.count)
    func seededSequenceIsTheSameAtEveryDegree(settingIndex: Int) {
        let (setting, candidateCount) = Self.sequenceSettings[settingIndex]
        let parameters = Self.parameters(setting, seed: 42)
        let steps = (0..<200).map { step in
            Shape.allCases[step % Shape.allCases.count].logits(seed: UInt64(1000 + step))
        }
        var single = DistributedSampler(
            parameters: parameters, collectives: SingleRankCollectives(), candidateCount: candidateCount)
        let expected = steps.map { single.next(localLogits: $0, vocabularyOffset: 0) }
        var exactSampler = DistributedSampler(
            parameters: parameters, collectives: SingleRankCollectives(), candidateCount: Self.vocabularySize)
        #expect(steps.map { exactSampler.next(localLogits: $0, vocabularyOffset: 0) } == expected)
        #expect(exactSampler.fallbackCount == 0)
        if candidateCount < 16 && !Sampler.usesTopK(parameters) { #expect(single.fallbackCount > 0) }
        if Sampler.usesTopK(parameters) { #expect(single.fallbackCount == 0) }

        for ranks in Self.degrees {
            let results = SimulatedWorld.run(ranks: ranks) { group in
                var sampler = DistributedSampler(
                    parameters: parameters, collectives: group, candidateCount: candidateCount)
                let tokens = steps.map { logits in
                    let slice = Self.slices(logits, ranks: ranks)[group.rank]
                    return sampler.next(localLogits: slice.values, vocabularyOffset: slice.offset)
                }
                return (tokens: tokens, fallbacks: sampler.fallbackCount)
            }
            for (rank, result) in results.enumerated() {
                #expect(result.tokens == expected, "\(setting) C=\(candidateCount) N=\(ranks) rank \(rank)")
                #expect(result.fallbacks == results[0].fallbacks)
            }
        }
    }

    // MARK: Statistics

    @Test func drawsFollowTheReferenceDistribution() {
        let logits: [Float] = [2, 1, 0, -1, 3, 0.5, -2, 1.5]
        let draws = 20000
        for setting in [(Float(1), 0, Float(0)), (1, 0, 0.9), (0.8, 3, 0), (1.2, 5, 0.8)] {
            let parameters = Self.parameters(setting, seed: 5)
            let reference = TokenSampler.filteredProbabilities(logits, parameters: parameters).map(Double.init)
            // Through `next` at TP = 1, with two candidates so the fallback is exercised too.
            var sampler = DistributedSampler(
                parameters: parameters, collectives: SingleRankCollectives(), candidateCount: 2)
            var counts = [Int](repeating: 0, count: logits.count)
            for _ in 0..<draws { counts[sampler.next(localLogits: logits, vocabularyOffset: 0)] += 1 }
            // The pure steps at TP = 4 with their own stream.
            let coordinator = Coordinator(logits: logits, ranks: 4, parameters: parameters, candidateCount: 1)
            var random = SeededRandomSource(seed: 6)
            var simulated = [Int](repeating: 0, count: logits.count)
            for _ in 0..<draws { simulated[coordinator.draw(random.nextUnit()).token] += 1 }
            for i in logits.indices {
                // Four standard deviations of a binomial frequency.
                let tolerance = 4 * (reference[i] * (1 - reference[i]) / Double(draws)).squareRoot() + 1e-9
                #expect(abs(Double(counts[i]) / Double(draws) - reference[i]) <= tolerance, "\(setting) token \(i)")
                #expect(abs(Double(simulated[i]) / Double(draws) - reference[i]) <= tolerance, "\(setting) token \(i)")
            }
        }
    }

    // MARK: Pieces

    @Test(arguments: Shape.allCases)
    func localCandidatesAreThePrefixOfTheSliceOrder(shape: Shape) {
        let scaled = Sampler.scaled(shape.logits(count: 500, seed: 3), temperature: 0.9)
        let order = scaled.indices.map { Sampler.Candidate(value: scaled[$0], id: 1000 + $0) }
            .sorted(by: Sampler.precedes)
        for count in [1, 2, 7, 64, 499, 500, 600] {
            let plain = Sampler.localCandidates(
                scaled: scaled, vocabularyOffset: 1000, count: count, includingTies: false)
            #expect(plain == Array(order.prefix(count)))
            let withTies = Sampler.localCandidates(
                scaled: scaled, vocabularyOffset: 1000, count: count, includingTies: true)
            let kth = order[min(count, order.count) - 1].value
            #expect(withTies == order.filter { $0.value >= kth })
        }
    }

    @Test func exactMassDoesNotDependOnTheGrouping() {
        var random = SeededRandomSource(seed: 8)
        let weights = (0..<5000).map { _ in ExactMass(weight: random.nextUnit()) }
        let sequential = weights.reduce(ExactMass(), +)
        let grouped = stride(from: 0, to: weights.count, by: 7).map {
            weights[$0..<min($0 + 7, weights.count)].reduce(ExactMass(), +)
        }.reversed().reduce(ExactMass(), +)
        #expect(sequential == grouped)
        let many = (0..<70).reduce(ExactMass()) { total, _ in total + ExactMass(weight: 1) }
        #expect(many.high == 17 && many.value == 70)
    }

    /// A weight rounds to the nearest multiple of 2^-62, halves away from zero, as `Double.rounded()` does.
    @Test func exactMassRoundsWeightsToNearestHalvesAway() {
        var random = SeededRandomSource(seed: 9)
        var weights: [Double] = [
            0, 1, 0x1p-62, 0x1p-63, 0x1.8p-62, 2.5 * 0x1p-62, 3.5 * 0x1p-62, 0x1p-70, 0x1p-9, 0x1p-10,
        ]
        weights += (0..<2000).map { _ in random.nextUnit() }
        weights += (0..<2000).map { _ in Foundation.exp(-40 * random.nextUnit()) }
        weights += (0..<200).map { _ in (Double(random.nextUnit() * 1e6).rounded() + 0.5) * 0x1p-62 }
        for weight in weights {
            #expect(ExactMass(weight: weight).low == UInt64((weight * 0x1p62).rounded()), "weight \(weight)")
        }
        #expect(ExactMass(weight: 2.5 * 0x1p-62).low == 3 && ExactMass(weight: 0x1p-63).low == 1)
    }

    /// The slice's mass is the same sum whichever way the threads split it.
    @Test func sliceMassIsTheSequentialSum() {
        var random = SeededRandomSource(seed: 10)
        let scaled = (0..<50_000).map { _ in Float(random.nextUnit() * 60 - 50) }
        let maximum = scaled.max()!
        let sequential = scaled.reduce(ExactMass()) { $0 + ExactMass(weight: Sampler.weight($1, maximum: maximum)) }
        let saved = ComputeThreads.count
        defer { ComputeThreads.count = saved }
        for threads in [1, 2, 3] {
            ComputeThreads.count = threads
            #expect(Sampler.mass(of: scaled, maximum: maximum) == sequential, "\(threads) threads")
        }
    }
}

import Foundation
import Generation
import Tensors
import TestSupport
import Testing

/// The sampler against a naive transcription of the official `BaseStrategy` + `top_k_logits`.
@Suite struct SamplerTests {
    /// Naive reference: temperature, then top-k (values below the k-th largest removed), then top-p over the
    /// descending sort (remove a token when the mass before it exceeds p), then softmax in Double.
    static func reference(_ logits: [Float], temperature: Float, topK: Int, topP: Float) -> [Double] {
        var l = logits.map { Double($0) / Double(temperature) }
        if topK > 0 {
            let kth = l.sorted(by: >)[topK - 1]
            l = l.map { $0 < kth ? -65504 : $0 }
        }
        if topP > 0 {
            let order = l.indices.sorted { l[$0] > l[$1] }
            let m = l.max()!
            let e = order.map { exp(l[$0] - m) }
            let z = e.reduce(0, +)
            var before = 0.0
            var removed = Set<Int>()
            for (rank, index) in order.enumerated() {
                if rank > 0 && before > Double(topP) { removed.insert(index) }
                before += e[rank] / z
            }
            for i in removed { l[i] = -65504 }
        }
        let m = l.max()!
        let e = l.map { exp($0 - m) }
        let z = e.reduce(0, +)
        return e.map { $0 / z }
    }

    @Test(arguments: [(Float(1), 0, Float(0.7)), (0.7, 5, 0), (1.3, 10, 0.9), (1, 0, 0), (0.5, 3, 0.5)])
    func distributionMatchesOfficialOrder(temperature: Float, topK: Int, topP: Float) {
        var random = SeededRandomSource(seed: 9)
        let logits = (0..<50).map { _ in 2 * random.nextGaussian() }
        let ours = TokenSampler.filteredProbabilities(
            logits, parameters: SamplingParameters(temperature: temperature, topK: topK, topP: topP, seed: 1))
        let expected = Self.reference(logits, temperature: temperature, topK: topK, topP: topP)
        for i in logits.indices { #expect(abs(Double(ours[i]) - expected[i]) < 1e-5, "token \(i)") }
    }

    @Test func drawsFollowTheDistributionAndRepeatWithTheSeed() {
        let logits: [Float] = [2, 1, 0, -1, 3]
        let parameters = SamplingParameters(temperature: 1, topK: 0, topP: 0, seed: 5)
        var sampler = TokenSampler(parameters: parameters)
        var counts = [Int](repeating: 0, count: 5)
        let draws = (0..<20000).map { _ in sampler.next(logits: logits) }
        for d in draws { counts[d] += 1 }
        let expected = Self.reference(logits, temperature: 1, topK: 0, topP: 0)
        for i in 0..<5 { #expect(abs(Double(counts[i]) / 20000 - expected[i]) < 0.015) }
        var again = TokenSampler(parameters: parameters)
        #expect((0..<200).map { _ in again.next(logits: logits) } == Array(draws.prefix(200)))
    }

    @Test func greedyIsArgmaxAndTopPKeepsTheFirstToken() {
        var greedy = TokenSampler(parameters: .greedy)
        #expect(greedy.next(logits: [0.1, 5, 4.9, -3]) == 1)
        // A top-p below the top token's own mass keeps that token alone.
        var nucleus = TokenSampler(parameters: SamplingParameters(temperature: 1, topK: 0, topP: 0.01, seed: 3))
        #expect((0..<50).allSatisfy { _ in nucleus.next(logits: [0.1, 5, 4.9, -3]) == 1 })
    }
}

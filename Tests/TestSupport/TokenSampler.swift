import Generation
import Glibc
import Tensors

/// Draws tokens as the official `BaseStrategy` does: divide by the temperature, then the top-k filter, then the
/// top-p filter, then softmax and a draw. Filtered logits become -65504 as in SwissArmyTransformer 0.2.12, which
/// gives them zero probability after the softmax's max shift.
public struct TokenSampler: Sendable {
    public let parameters: SamplingParameters
    private var random: SeededRandomSource

    public init(parameters: SamplingParameters) {
        self.parameters = parameters
        random = SeededRandomSource(seed: parameters.seed)
    }

    static let filteredLogit: Float = -65504

    /// The next token id; `logits` covers the whole vocabulary.
    public mutating func next(logits: [Float]) -> Int {
        if parameters.isGreedy { return Self.argmax(logits) }
        let probabilities = Self.filteredProbabilities(logits, parameters: parameters)
        let u = random.nextUnit()
        var cumulative = 0.0
        var lastCandidate = 0
        for (index, p) in probabilities.enumerated() where p > 0 {
            cumulative += Double(p)
            lastCandidate = index
            if u < cumulative { return index }
        }
        return lastCandidate
    }

    /// The first index of the largest logit.
    public static func argmax(_ logits: [Float]) -> Int {
        var best = 0
        for i in logits.indices where logits[i] > logits[best] { best = i }
        return best
    }

    /// The sampling distribution after temperature, top-k and top-p, in the official order.
    public static func filteredProbabilities(_ logits: [Float], parameters: SamplingParameters) -> [Float] {
        var scaled = logits.map { $0 / parameters.temperature }
        if parameters.topK > 0 && parameters.topK < scaled.count {
            let threshold = kthLargest(scaled, k: parameters.topK)
            for i in scaled.indices where scaled[i] < threshold { scaled[i] = filteredLogit }
        }
        if parameters.topP > 0 {
            let order = scaled.indices.sorted { scaled[$0] > scaled[$1] || (scaled[$0] == scaled[$1] && $0 < $1) }
            let sortedProbabilities = softmax(order.map { scaled[$0] })
            var cumulative: Float = 0
            for (rank, index) in order.enumerated() {
                // A token is dropped when the mass BEFORE it already crosses p, so the first always stays.
                if rank > 0 && cumulative > parameters.topP { scaled[index] = filteredLogit }
                cumulative += sortedProbabilities[rank]
            }
        }
        return softmax(scaled)
    }

    static func softmax(_ values: [Float]) -> [Float] {
        let maximum = values.max() ?? 0
        let exponentials = values.map { expf($0 - maximum) }
        let sum = exponentials.reduce(0, +)
        return exponentials.map { $0 / sum }
    }

    static func kthLargest(_ values: [Float], k: Int) -> Float {
        values.sorted(by: >)[k - 1]
    }
}

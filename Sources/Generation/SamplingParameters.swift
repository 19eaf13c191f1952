/// How the next token is chosen from the logits (the official `BaseStrategy`).
public struct SamplingParameters: Sendable, Equatable, Codable {
    public var temperature: Float
    /// Keep the k largest logits (ties with the k-th survive); 0 disables.
    public var topK: Int
    /// Keep the smallest prefix of the sorted distribution whose mass crosses p (the first token always); 0 disables.
    public var topP: Float
    public var seed: UInt64

    public init(temperature: Float = 1, topK: Int = 0, topP: Float = 0.7, seed: UInt64 = 1234) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
    }

    /// Greedy decoding: the official script's `top_k = 1`, i.e. argmax.
    public static let greedy = SamplingParameters(temperature: 1, topK: 1, topP: 0, seed: 0)

    public var isGreedy: Bool { topK == 1 }
}

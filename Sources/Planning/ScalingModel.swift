import Configuration
import GLM
import Partitioning

/// One node of a cluster as the predictor sees it: what its memory streams, what its matrix units compute, how much
/// memory it has.
public struct NodeHardware: Codable, Sendable, Equatable {
    /// STREAM triad bandwidth of the node, GB/s (what decode's weight reads draw on).
    public var memoryBandwidthGBPerSecond: Double
    /// sgemm rate of the node, GFLOP/s (what prefill's products draw on).
    public var matrixGFLOPS: Double
    public var cores: Int
    /// Memory a rank may use, bytes.
    public var memoryBytes: Int

    public init(memoryBandwidthGBPerSecond: Double, matrixGFLOPS: Double, cores: Int, memoryBytes: Int) {
        self.memoryBandwidthGBPerSecond = memoryBandwidthGBPerSecond
        self.matrixGFLOPS = matrixGFLOPS
        self.cores = cores
        self.memoryBytes = memoryBytes
    }
}

/// The network between nodes: one message's latency and the bandwidth of one node's link.
public struct LinkHardware: Codable, Sendable, Equatable {
    /// One-way latency of a small message between two ranks, seconds (software included).
    public var latencySeconds: Double
    /// Bytes per second one node sends (and receives) at once.
    public var bytesPerSecond: Double

    public init(latencySeconds: Double, bytesPerSecond: Double) {
        self.latencySeconds = latencySeconds
        self.bytesPerSecond = bytesPerSecond
    }

    /// Seconds an allreduce of `bytes` per rank takes on `ranks` ranks: the faster of a ring (reduce-scatter and
    /// allgather, 2(p-1) steps of 1/p of the data each) and recursive doubling (log2 p steps of all of it), the two
    /// algorithms MPI libraries choose between by message size. The reduction's own additions are not counted.
    public func allreduceSeconds(bytes: Int, ranks: Int) -> Double {
        guard ranks > 1 else { return 0 }
        let p = Double(ranks)
        let m = Double(bytes)
        let ring = 2 * (p - 1) * (latencySeconds + m / p / bytesPerSecond)
        let steps = Double(Int.bitWidth - (ranks - 1).leadingZeroBitCount)  // ceil(log2 p)
        let doubling = steps * (latencySeconds + m / bytesPerSecond)
        return min(ring, doubling)
    }
}

/// How close GLMCluster's kernels come to the node's limits: decode's effective bandwidth over the triad and
/// prefill's FLOP rate over sgemm, as `glmcluster bench` measures them (docs/BENCHMARKS.md, "Scaling predictor").
public struct EngineEfficiency: Codable, Sendable, Equatable {
    public var decodeOfTriad: Double
    public var prefillOfMatrixRate: Double

    public init(decodeOfTriad: Double = 0.83, prefillOfMatrixRate: Double = 0.75) {
        self.decodeOfTriad = decodeOfTriad
        self.prefillOfMatrixRate = prefillOfMatrixRate
    }
}

/// The work one prediction is for: the prompt that is prefilled, the context the KV cache holds, the weight format.
public struct Workload: Codable, Sendable, Equatable {
    public var promptTokens: Int
    /// Tokens of context per sequence the KV cache must hold (prompt and generated).
    public var contextTokens: Int
    public var weightFormat: PlannedWeightFormat
    /// Bytes per KV-cache element: 4 (fp32, the default cache) or 2 (`--kv-cache fp16`).
    public var cacheElementBytes: Int

    public init(
        promptTokens: Int, contextTokens: Int, weightFormat: PlannedWeightFormat, cacheElementBytes: Int = 4
    ) {
        self.promptTokens = promptTokens
        self.contextTokens = contextTokens
        self.weightFormat = weightFormat
        self.cacheElementBytes = cacheElementBytes
    }
}

/// The weight formats the engine holds matrices in.
public enum PlannedWeightFormat: String, Codable, Sendable, CaseIterable {
    case fp16, int8, int4

    /// Bytes of one weight of a quantizable matrix (the per-row fp16 scales are counted apart).
    var bytesPerWeight: Double {
        switch self {
        case .fp16: 2
        case .int8: 1
        case .int4: 0.5
        }
    }
}

/// What one tensor-parallel degree gives: time per decoded token and its parts, prefill rate, memory per rank.
public struct DegreePrediction: Codable, Sendable, Equatable {
    public var tp: Int
    public var decodeMilliseconds: Double
    public var decodeComputeMilliseconds: Double
    public var decodeCommunicationMilliseconds: Double
    public var prefillTokensPerSecond: Double
    public var prefillCommunicationMilliseconds: Double
    public var weightBytesPerRank: Int
    public var cacheBytesPerRank: Int
    public var memoryBytesPerRank: Int
    public var fits: Bool
}

/// Predicts decode and prefill speed and memory per rank for every tensor-parallel degree a model allows, one rank
/// per node. Decode reads every layer matrix and the output layer once per token, split evenly over the ranks, at
/// the node's bandwidth times the engine's measured efficiency, and makes 2 allreduces per layer plus the
/// embedding's of one hidden row each (and two small ones of the sampler). Prefill computes 2 FLOPs per weight per
/// prompt token plus attention's products at the node's matrix rate times the engine's efficiency, with the same
/// allreduces of a hidden row per prompt token. Waiting between ranks is not modelled: equal shares run equally
/// long.
public struct ScalingModel: Sendable {
    public var configuration: ModelConfiguration
    public var node: NodeHardware
    public var link: LinkHardware
    public var efficiency: EngineEfficiency
    public var workload: Workload

    public init(
        configuration: ModelConfiguration, node: NodeHardware, link: LinkHardware, efficiency: EngineEfficiency,
        workload: Workload
    ) {
        self.configuration = configuration
        self.node = node
        self.link = link
        self.efficiency = efficiency
        self.workload = workload
    }

    /// Runtime memory beside weights and cache: code, MPI buffers, activations of a prefill chunk.
    static let overheadBytes = 256 << 20

    /// Every degree from 1 to `maximum` that gives each rank an equal share (`fieldNotDivided`).
    public func validDegrees(upTo maximum: Int) -> [Int] {
        (1...max(1, maximum)).filter { configuration.fieldNotDivided(by: $0) == nil }
    }

    public func predict(tp: Int) -> DegreePrediction {
        let c = configuration
        let specs = WeightSpec.all(for: c)
        // GLM-130B and ChatGLM-6B use the input embedding again as their output layer; ChatGLM2 has its own.
        let embedding = specs.first { $0.key.hasSuffix("word_embeddings.weight") }?.key
        let output = specs.first { $0.key.hasSuffix("output_layer.weight") }?.key ?? embedding
        var held = 0.0
        var decodeRead = 0.0
        var layerParameters = 0.0
        var outputParameters = 0.0
        for spec in specs {
            let elements = Double(spec.shape.reduce(1, *))
            let share = spec.layout == .replicated ? elements : elements / Double(tp)
            let quantized = spec.isQuantizable && workload.weightFormat != .fp16
            // Quantized matrices carry one fp16 scale per output row: a share of the rows where the split is by
            // rows, all of them where it is by columns.
            let splitsRows = spec.layout != .columns && spec.layout != .replicated
            let rows = Double(spec.shape.first ?? 0) / (splitsRows ? Double(tp) : 1)
            let bytes = quantized ? share * workload.weightFormat.bytesPerWeight + rows * 2 : share * 2
            held += bytes
            guard spec.shape.count == 2 else { continue }
            // A decoded token reads every layer matrix and the output layer whole, and one row of the embedding.
            if spec.key == output {
                decodeRead += bytes
                outputParameters = elements
            } else if spec.key != embedding {
                decodeRead += bytes
                layerParameters += elements
            }
        }
        let cache =
            2 * c.numLayers * max(1, c.keyValueHeads / tp) * c.headDimension * workload.contextTokens
            * workload.cacheElementBytes
        let memory = Int(held) + cache + Self.overheadBytes

        let hiddenRow = c.hiddenSize * 4
        let sums = 2 * c.numLayers + 1
        let decodeCompute = decodeRead / (node.memoryBandwidthGBPerSecond * 1e9 * efficiency.decodeOfTriad)
        let decodeCommunication =
            Double(sums) * link.allreduceSeconds(bytes: hiddenRow, ranks: tp)
            + 2 * link.allreduceSeconds(bytes: 8, ranks: tp)
        let p = Double(workload.promptTokens)
        // As bench counts them: every layer matrix for each prompt token, the output layer for the last one, and
        // attention's two products over the whole prompt.
        let flops =
            (2 * p * layerParameters + 2 * outputParameters + 4 * p * p * Double(c.headDimension)
                * Double(c.numAttentionHeads * c.numLayers)) / Double(tp)
        let prefillCompute = flops / (node.matrixGFLOPS * 1e9 * efficiency.prefillOfMatrixRate)
        let prefillCommunication =
            Double(sums) * link.allreduceSeconds(bytes: hiddenRow * workload.promptTokens, ranks: tp)
        return DegreePrediction(
            tp: tp, decodeMilliseconds: (decodeCompute + decodeCommunication) * 1e3,
            decodeComputeMilliseconds: decodeCompute * 1e3, decodeCommunicationMilliseconds: decodeCommunication * 1e3,
            prefillTokensPerSecond: p / (prefillCompute + prefillCommunication),
            prefillCommunicationMilliseconds: prefillCommunication * 1e3, weightBytesPerRank: Int(held),
            cacheBytesPerRank: cache, memoryBytesPerRank: memory, fits: memory <= node.memoryBytes)
    }
}

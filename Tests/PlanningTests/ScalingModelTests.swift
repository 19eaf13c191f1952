import Configuration
import Planning
import Testing

/// The predictor's parts against hand-computed values: the allreduce cost of both algorithms, the degrees each
/// released shape allows, GLM-130B's weight bytes from its published shapes, and decode time as bytes over
/// bandwidth plus the sums' latency.
@Suite struct ScalingModelTests {
    static let node = NodeHardware(
        memoryBandwidthGBPerSecond: 100, matrixGFLOPS: 1000, cores: 32, memoryBytes: 512 << 30)
    static let link = LinkHardware(latencySeconds: 20e-6, bytesPerSecond: 1.25e9)

    static func model(_ preset: String, format: PlannedWeightFormat = .fp16, context: Int = 2048) -> ScalingModel {
        ScalingModel(
            configuration: PlanPresets.all[preset]!, node: node, link: link,
            efficiency: EngineEfficiency(decodeOfTriad: 1, prefillOfMatrixRate: 1),
            workload: Workload(promptTokens: 512, contextTokens: context, weightFormat: format))
    }

    @Test func allreduceTakesTheFasterOfRingAndRecursiveDoubling() {
        #expect(Self.link.allreduceSeconds(bytes: 1 << 20, ranks: 1) == 0)
        // Two ranks: doubling, one step of the whole message (the ring takes two latencies for the same bytes).
        let two = Self.link.allreduceSeconds(bytes: 8192, ranks: 2)
        #expect(abs(two - (20e-6 + 8192 / 1.25e9)) < 1e-12)
        // Eight ranks, 8 KiB: doubling's 3 steps beat the ring's 14 latencies.
        let small = Self.link.allreduceSeconds(bytes: 8192, ranks: 8)
        #expect(abs(small - 3 * (20e-6 + 8192 / 1.25e9)) < 1e-12)
        // Eight ranks, 64 MiB: the ring's 2 (p - 1) / p of the bytes beat doubling's 3 times all of them.
        let m = Double(64 << 20)
        let large = Self.link.allreduceSeconds(bytes: 64 << 20, ranks: 8)
        #expect(abs(large - 14 * (20e-6 + m / 8 / 1.25e9)) < 1e-9)
        // Six ranks: ceil(log2 6) = 3 doubling steps.
        #expect(abs(Self.link.allreduceSeconds(bytes: 8, ranks: 6) - 3 * (20e-6 + 8 / 1.25e9)) < 1e-12)
    }

    @Test func validDegreesDivideHeadsFFNVocabularyAndGroups() {
        #expect(Self.model("glm-130b").validDegrees(upTo: 64) == [1, 2, 4, 8, 16, 32])
        #expect(Self.model("glm-4-9b").validDegrees(upTo: 64) == [1, 2, 4, 8, 16, 32])
        // ChatGLM-6B's vocabulary 130528 = 2^5 x 4079.
        #expect(Self.model("chatglm-6b").validDegrees(upTo: 64) == [1, 2, 4, 8, 16, 32])
    }

    /// GLM-130B in fp16 from its published shapes: per layer the fused QKV, the attention output, GeGLU's two
    /// halves in and the projection out, their biases and two LayerNorms; the embedding (also the output layer)
    /// and the final LayerNorm.
    @Test func glm130BWeightBytesFollowItsShapes() {
        let h = 12288
        let f = 32768
        let layer = (3 * h * h + 3 * h) + (h * h + h) + (2 * f * h + 2 * f) + (f * h + h) + 4 * h
        let parameters = 70 * layer + 150528 * h + 2 * h
        #expect(parameters > 128_000_000_000 && parameters < 131_000_000_000)
        let one = Self.model("glm-130b").predict(tp: 1)
        #expect(one.weightBytesPerRank == 2 * parameters)
        // At TP 8 every split tensor is an eighth; LayerNorms and the row-parallel biases stay whole.
        let replicated = 70 * (4 * h + 2 * h) + 2 * h
        let eight = Self.model("glm-130b").predict(tp: 8)
        #expect(eight.weightBytesPerRank == 2 * ((parameters - replicated) / 8 + replicated))
        // int4 holds the layer matrices at half a byte with an fp16 scale per output row.
        let int4 = Self.model("glm-130b", format: .int4).predict(tp: 1)
        let matrices = 70 * (3 * h * h + h * h + 2 * f * h + f * h)
        let rows = 70 * (3 * h + h + 2 * f + h)
        #expect(int4.weightBytesPerRank == one.weightBytesPerRank - 2 * matrices + matrices / 2 + 2 * rows)
    }

    /// Decode reads the layer matrices and the output layer once per token at the node's bandwidth, and makes
    /// 2 sums per layer and the embedding's, of one fp32 hidden row, plus the sampler's two small ones.
    @Test func decodeIsBytesOverBandwidthPlusTheSums() {
        let h = 12288
        let f = 32768
        let read = 2 * (70 * (3 * h * h + h * h + 2 * f * h + f * h) + 150528 * h)
        for tp in [1, 4, 16] {
            let prediction = Self.model("glm-130b").predict(tp: tp)
            let compute = Double(read) / Double(tp) / 100e9
            let sums =
                141 * Self.link.allreduceSeconds(bytes: 4 * h, ranks: tp)
                + 2 * Self.link.allreduceSeconds(bytes: 8, ranks: tp)
            #expect(abs(prediction.decodeComputeMilliseconds - compute * 1e3) < 1e-6 * compute * 1e3)
            #expect(abs(prediction.decodeCommunicationMilliseconds - sums * 1e3) < 1e-9 + 1e-9 * sums)
        }
    }

    /// The KV cache per rank: keys and values of the rank's heads (GLM-4-9B: its share of 2 groups, or one group
    /// shared by several ranks) for the context, and whether it fits the node.
    @Test func cacheAndFit() {
        let glm4 = Self.model("glm-4-9b", context: 8192)
        #expect(glm4.predict(tp: 1).cacheBytesPerRank == 2 * 40 * 2 * 128 * 8192 * 4)
        #expect(glm4.predict(tp: 8).cacheBytesPerRank == 2 * 40 * 1 * 128 * 8192 * 4)
        var small = Self.model("glm-130b")
        small.node.memoryBytes = 48 << 30
        let report = PlanReport(model: "glm-130b", scaling: small, maximumDegree: 64, source: "given")
        // 257 GB of fp16 weights fit 48 GiB nodes from 8 ranks on (32 GB each); the fastest is the widest.
        #expect(report.degrees.filter(\.fits).map(\.tp) == [8, 16, 32])
        #expect(report.fastest == 32)
    }
}

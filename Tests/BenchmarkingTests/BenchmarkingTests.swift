import Configuration
import Coordination
import GLM
import Partitioning
import Tensors
import Testing

@testable import Benchmarking

/// The benchmark's own logic: random weights whose partitions tile one global model, the probes' median, the
/// roofline, the settings' checks, and a rank's report through the wire encoding.
@Suite struct BenchmarkingTests {
    static let configuration = ModelConfiguration(
        numLayers: 2, hiddenSize: 32, numAttentionHeads: 4, innerHiddenSize: 64, vocabSize: 96,
        maxSequenceLength: 64, tokenizer: .icetk)

    static func halves(_ matrix: WeightMatrix) -> [Float] {
        var values = [Float](repeating: 0, count: matrix.rows * matrix.columns)
        values.withUnsafeMutableBufferPointer { matrix.widenRows(0, count: matrix.rows, into: $0.baseAddress!) }
        return values
    }

    @Test func partitionsTileTheWholeModel() throws {
        let c = Self.configuration
        let whole = try PartitionedRandomWeights.generate(
            configuration: c, partition: .whole, seed: 7, quantization: nil)
        let parts = try (0..<2).map {
            try PartitionedRandomWeights.generate(
                configuration: c, partition: Partition(index: $0, count: 2), seed: 7, quantization: nil)
        }
        // Row-parallel layouts stack the parts' rows; column-parallel ones put the parts side by side.
        #expect(parts.flatMap { Self.halves($0.wordEmbeddings) } == Self.halves(whole.wordEmbeddings))
        #expect(parts.flatMap { Self.halves($0.layers[1].queryKeyValue) } == Self.halves(whole.layers[1].queryKeyValue))
        let dense = Self.halves(whole.layers[0].dense4HToH)
        let partDense = parts.map { Self.halves($0.layers[0].dense4HToH) }
        let h = c.hiddenSize, f = c.innerHiddenSize
        for row in 0..<h {
            let joined = partDense[0][row * f / 2..<(row + 1) * f / 2] + partDense[1][row * f / 2..<(row + 1) * f / 2]
            #expect(Array(joined) == Array(dense[row * f..<(row + 1) * f]))
        }
        #expect(parts.allSatisfy { $0.finalLayerNormWeight == whole.finalLayerNormWeight })
        let other = try PartitionedRandomWeights.generate(
            configuration: c, partition: .whole, seed: 8, quantization: nil)
        #expect(Self.halves(other.wordEmbeddings) != Self.halves(whole.wordEmbeddings))
    }

    @Test func medianOfPasses() {
        #expect(MachineProbes.median([]) == 0)
        #expect(MachineProbes.median([3, 1, 2]) == 2)
        #expect(MachineProbes.median([4, 1, 3, 2]) == 2.5)
    }

    @Test func settingsChecksNameTheOptions() {
        var settings = BenchSettings(model: .random(configurationFile: "c.json"), promptTokens: 8, generatedTokens: 1)
        // --greedy applies to the sweep too.
        settings.greedy = true
        settings.batchSizes = [1, 2]
        #expect(throws: Never.self) { try settings.validate() }
        settings.greedy = false
        settings.concurrency = [0]
        do { try settings.validate() } catch { #expect(error.description == "--concurrency must be positive") }
        settings.concurrency = []
        settings.promptTokens = 0
        do { try settings.validate() } catch { #expect(error.description == "--prompt-tokens must be positive, got 0") }
        settings.promptTokens = 8
        #expect(throws: Never.self) { try settings.validate() }
        settings.quantization = .int4
        #expect(settings.weightFormat == .int4)
    }

    @Test func aRanksReportRoundTripsThroughTheWireEncoding() throws {
        let timings = ModelBenchmark.Timings(
            prefillSeconds: [0.5, 0.25], decodeSecondsPerToken: [0.1, 0.125], decodeSplit: ModelBenchmark.Split(),
            prefillSplit: ModelBenchmark.Split(matmul: 1, attention: 2, allreduce: 3, sampling: 4, other: 5))
        let machine = MachineMeasurement(
            triadGBPerSecond: 30, triadBestGBPerSecond: 33, triadPasses: 7, triadArrayMiB: 256, sgemmGFLOPS: 200,
            sgemmSize: 2048, dotUnits: [DotUnitPeak(name: "vfmadd231ps", gigaOpsPerSecond: 100, kind: "fp32")],
            cpuFeatures: "AVX2", blasKernels: "Haswell")
        let report = RankBenchResult(
            rank: 1, host: "node-1", threads: 2, timings: timings, machine: machine, triadBesideDecode: [29, 31],
            weightBytesPerToken: 1 << 30, prefillFLOPs: 1e12, weightBytes: 1 << 31, kvCacheBytes: 1 << 20,
            peakResidentBytes: 1 << 32)
        let decoded = try RankBenchResult(wireBytes: report.wireBytes())
        #expect(decoded.timings.prefillSplit.other == 5 && decoded.machine == machine)
        #expect(decoded.wireBytes() == report.wireBytes())
    }
}

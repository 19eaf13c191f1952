import Partitioning
import Testing

/// The shape of each layout's partition (spec section 3): what every rank must hold.
@Suite struct WeightSpecTests {
    static let half = Partition(index: 1, count: 2)

    @Test func rowsAndGLURowsSplitTheFirstDimension() {
        #expect(WeightSpec(key: "qkv", shape: [96, 32], layout: .rows).shape(of: Self.half) == [48, 32])
        #expect(WeightSpec(key: "h_to_4h", shape: [128, 32], layout: .rowsGLU).shape(of: Self.half) == [64, 32])
        #expect(WeightSpec(key: "qkv.bias", shape: [96], layout: .rows).shape(of: Self.half) == [48])
    }

    @Test func columnsSplitTheSecondDimensionOrTheOnlyOne() {
        #expect(WeightSpec(key: "dense", shape: [32, 64], layout: .columns).shape(of: Self.half) == [32, 32])
        #expect(WeightSpec(key: "vector", shape: [64], layout: .columns).shape(of: Self.half) == [32])
    }

    @Test func replicatedTensorsAndTheWholePartitionKeepTheirShape() {
        #expect(WeightSpec(key: "ln", shape: [32], layout: .replicated).shape(of: Self.half) == [32])
        #expect(WeightSpec(key: "qkv", shape: [96, 32], layout: .rows).shape(of: .whole) == [96, 32])
        #expect(WeightSpec(key: "scalar", shape: [], layout: .rows).shape(of: Self.half) == [])
    }

    @Test func quantizableIsOffUnlessTheModelSaysSo() {
        #expect(!WeightSpec(key: "w", shape: [4, 4], layout: .rows).isQuantizable)
        #expect(WeightSpec(key: "w", shape: [4, 4], layout: .rows, isQuantizable: true).isQuantizable)
        #expect(Partition(index: 1, count: 4).description == "partition 1 of 4")
    }
}

import Foundation
import Testing

@testable import Checkpoint

/// `.safetensors` files: the GLM-4 fixture (bf16, transformers' native layout) read as Python's json + struct +
/// numpy read it, boxes of a tensor equal to the same slices of the whole, and every inconsistent header refused
/// with the file and the tensor named.
@Suite struct SafetensorsFileTests {
    static let fixture = Support.mp1.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("glm-4-9b-chat-hf-tiny/model.safetensors")

    @Test func everyTensorReadsAsPythonReadsIt() throws {
        let file = try SafetensorsFile(path: Self.fixture.path)
        let folder = try Support.temporaryFolder()
        defer { Support.cleanUp(folder) }
        try Support.python(["safetensors", Self.fixture.path, folder.path])
        let keys = try String(contentsOf: folder.appendingPathComponent("keys.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        #expect(file.tensors.map(\.name) == keys && keys.count == 36)
        #expect(file.metadata["format"] == "pt")
        for key in keys {
            let expected = try Data(contentsOf: folder.appendingPathComponent("\(key).bin"))
            let values = try file.float32(key)
            #expect(values.withUnsafeBytes { Data($0) } == expected, "\(key)")
            #expect(try file.tensor(named: key).dtype == .bfloat16)
        }
    }

    @Test func boxesAreSlicesOfTheWhole() throws {
        let file = try SafetensorsFile(path: Self.fixture.path)
        let key = "model.layers.0.mlp.down_proj.weight"
        let tensor = try file.tensor(named: key)
        let (rows, columns) = (tensor.shape[0], tensor.shape[1])
        let whole = try file.float16(key)
        let box = [3..<(rows - 5), 16..<(columns - 8)]
        var expected: [Float16] = []
        for row in box[0] {
            expected += whole[(row * columns + box[1].lowerBound)..<(row * columns + box[1].upperBound)]
        }
        #expect(try file.float16(key, region: box) == expected)
        #expect(throws: CheckpointError.self) { _ = try file.float16(key, region: [0..<(rows + 1), 0..<columns]) }
    }

    /// Headers that do not describe their file.
    @Test(arguments: [
        ("length", "does not fit"), ("json", "not a JSON object"), ("dtype", "dtype F8 is not supported"),
        ("size", "needs"), ("past", "within the"), ("overlap", "overlap"), ("duplicate", "appears twice"),
    ])
    func inconsistentHeadersAreRefused(damage: String, fragment: String) throws {
        let folder = try Support.temporaryFolder()
        defer { Support.cleanUp(folder) }
        let url = folder.appendingPathComponent("bad.safetensors")
        func file(_ header: String, data: Int = 16, length: UInt64? = nil) throws {
            var bytes = Data()
            withUnsafeBytes(of: (length ?? UInt64(header.utf8.count)).littleEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: Array(header.utf8))
            bytes.append(Data(repeating: 0, count: data))
            try bytes.write(to: url)
        }
        let a = #""a": {"dtype": "F16", "shape": [4], "data_offsets": [0, 8]}"#
        switch damage {
        case "length": try file("{\(a)}", length: 1 << 40)
        case "json": try file("[1, 2]")
        case "dtype": try file(#"{"a": {"dtype": "F8", "shape": [4], "data_offsets": [0, 4]}}"#)
        case "size": try file(#"{"a": {"dtype": "F16", "shape": [3], "data_offsets": [0, 8]}}"#)
        case "past": try file(#"{"a": {"dtype": "F16", "shape": [16], "data_offsets": [0, 32]}}"#)
        case "overlap": try file(#"{\#(a), "b": {"dtype": "F16", "shape": [4], "data_offsets": [4, 12]}}"#)
        default: try file(#"{\#(a), \#(a)}"#)
        }
        let error = Support.error { _ = try SafetensorsFile(path: url.path) }
        #expect(error?.description.contains(url.path) == true, "\(String(describing: error))")
        #expect(error?.description.contains(fragment) == true, "\(damage): \(String(describing: error))")
    }
}

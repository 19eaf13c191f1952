import Checkpoint
import Foundation
import Testing

/// A release's weights written as its official quantized release would hold them: each layer matrix `isLayerMatrix`
/// picks quantized by the independent NumPy reference of the official quantization
/// (`Tests/Reference/quantize_reference.py`: int8 levels, or two per byte at 4 bits, and a fp16 `<key>_scale`),
/// every other tensor kept as fp16, all in one `pytorch_model.bin`.
enum OfficialQuantization {
    static func writeRelease(
        _ tensors: [(key: String, shape: [Int], values: [Float16])], bits: Int, isLayerMatrix: (String) -> Bool,
        scratch: URL, to file: URL
    ) throws {
        var written: [(String, CheckpointTensor)] = []
        for (key, shape, values) in tensors {
            guard isLayerMatrix(key) else {
                written.append((key, .float16(HalfTensor(shape: shape, values: values))))
                continue
            }
            let input = scratch.appendingPathComponent("w.f16")
            try values.withUnsafeBytes { try Data($0).write(to: input) }
            let prefix = scratch.appendingPathComponent("q").path
            let run = try CommandRunner.python([
                CommandRunner.packageRoot.appendingPathComponent("Tests/Reference/quantize_reference.py").path,
                "\(bits)", "\(shape[0])", "\(shape[1])", input.path, prefix,
            ])
            try #require(run.status == 0, "\(run.stderr)")
            let levels = try Data(contentsOf: URL(fileURLWithPath: prefix + (bits == 4 ? ".packed" : ".levels")))
            let scales = try Data(contentsOf: URL(fileURLWithPath: prefix + ".scales"))
            written.append(
                (
                    key,
                    .int8(
                        Int8Tensor(shape: [shape[0], shape[1] * bits / 8], values: levels.map { Int8(bitPattern: $0) }))
                ))
            let scaleValues = scales.withUnsafeBytes { Array($0.bindMemory(to: Float16.self)) }
            written.append((key + "_scale", .float16(HalfTensor(shape: [shape[0]], values: scaleValues))))
        }
        try TorchCheckpointWriter.write(written, to: file)
    }
}

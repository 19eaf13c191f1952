import Checkpoint

/// A whole checkpoint shard: opened as `TorchCheckpointFile` opens a file, then every tensor small enough to copy
/// quickly is read in each element type the loaders ask for, whole and as a box of its leading rows.
enum CheckpointFileTarget {
    static let largestCopiedTensor = 1 << 16

    static func run(_ bytes: UnsafeRawBufferPointer) {
        let file: TorchCheckpointFile
        do { file = try TorchCheckpointFile(file: MappedFile(copying: bytes, name: "fuzz.pt")) } catch { return }
        for tensor in file.tensors where tensor.elementCount <= largestCopiedTensor {
            _ = try? file.float16(tensor.name)
            _ = try? file.float32(tensor.name)
            _ = try? file.int8(tensor.name)
            if let rows = tensor.shape.first, rows > 1 {
                let box = [0..<rows / 2] + tensor.shape.dropFirst().map { 0..<$0 }
                _ = try? file.float16(tensor.name, region: box)
                _ = try? file.int8(tensor.name, region: box)
            }
        }
    }
}

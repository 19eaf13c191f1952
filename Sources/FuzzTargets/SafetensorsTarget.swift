import Checkpoint

/// A `.safetensors` file (GLM-4's weights): its header checked against the file, then every tensor small enough to
/// copy quickly read whole and as a box of its leading rows, in both element types the loaders ask for.
enum SafetensorsTarget {
    static let largestCopiedTensor = 1 << 16

    static func run(_ bytes: UnsafeRawBufferPointer) {
        let file: SafetensorsFile
        do { file = try SafetensorsFile(file: MappedFile(copying: bytes, name: "fuzz.safetensors")) } catch { return }
        for tensor in file.tensors where tensor.shape.reduce(1, { $0.multipliedReportingOverflow(by: $1).partialValue })
            <= largestCopiedTensor
        {
            _ = try? file.float16(tensor.name)
            _ = try? file.float32(tensor.name)
            if let rows = tensor.shape.first, rows > 1 {
                let box = [0..<rows / 2] + tensor.shape.dropFirst().map { 0..<$0 }
                _ = try? file.float16(tensor.name, region: box)
            }
        }
    }
}

import FoundationEssentials
import Partitioning

/// One weight file of a Hugging Face release, whatever its format (`TorchCheckpointFile`, `SafetensorsFile`): the
/// stored type and shape of each tensor, and copies of boxes of them.
public protocol ReleaseWeightFile: AnyObject, Sendable {
    var path: String { get }
    /// The element type and shape tensor `name` is stored with.
    func stored(_ name: String) throws(CheckpointError) -> (dtype: ScalarType, shape: [Int])
    /// A row-major fp16 copy of the box `region` of a float tensor (nil: all of it).
    func float16(_ name: String, region: [Range<Int>]?) throws(CheckpointError) -> [Float16]
    /// A row-major copy of the box `region` of an int8 tensor (nil: all of it).
    func int8(_ name: String, region: [Range<Int>]?) throws(CheckpointError) -> [Int8]
}

/// A release's weight files by tensor key (`ReleaseCheckpoint` for PyTorch files, `SafetensorsRelease`): a
/// partition of a float tensor, and of a weight in the official quantized layout, is read the same way from either.
public protocol ReleaseWeights: AnyObject, Sendable {
    var directory: URL { get }
    /// The weight files, each once, in name order.
    var files: [URL] { get }
    func contains(_ key: String) -> Bool
    /// The file holding `key`, opened on first use.
    func weightFile(holding key: String) throws(CheckpointError) -> any ReleaseWeightFile
    /// Every key in the files' own order: by file, then as stored.
    func keysInFileOrder() throws(CheckpointError) -> [String]
}

extension TorchCheckpointFile: ReleaseWeightFile {
    public func stored(_ name: String) throws(CheckpointError) -> (dtype: ScalarType, shape: [Int]) {
        let tensor = try tensor(named: name)
        return (tensor.dtype, tensor.shape)
    }
}

extension SafetensorsFile: ReleaseWeightFile {
    public func stored(_ name: String) throws(CheckpointError) -> (dtype: ScalarType, shape: [Int]) {
        let tensor = try tensor(named: name)
        return (tensor.dtype, tensor.shape)
    }
}

extension ReleaseWeights {
    /// `partition` of tensor `key`, row-major fp16 (converted from bf16 or fp32 if stored so). The stored shape
    /// must be `globalShape`; the partition count must divide the split dimension (each half for `rowsGLU`).
    public func tensor(
        _ key: String, globalShape: [Int], layout: ShardLayout, partition: Partition = .whole
    ) throws(CheckpointError) -> HalfTensor {
        let file = try weightFile(holding: key)
        let stored = try file.stored(key).shape
        guard stored == globalShape else {
            throw .shapeMismatch(path: file.path, key: key, expected: globalShape, found: stored)
        }
        let part = WeightSpec(key: key, shape: globalShape, layout: partition.count == 1 ? .replicated : layout)
        var values: [Float16] = []
        for box in try ReleaseCheckpoint.boxes(of: part, partition: partition) {
            values += try file.float16(key, region: box)
        }
        return HalfTensor(shape: part.shape(of: partition), values: values)
    }
}

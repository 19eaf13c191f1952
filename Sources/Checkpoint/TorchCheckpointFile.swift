import Basics
import FoundationEssentials
import Synchronization

/// One `torch.save` zip file (`mp_rank_XX_model_states.pt`), opened without running any of its code: the zip is
/// mapped, `<prefix>/data.pkl` is run through the restricted `Unpickler`, and tensors are copied out of their
/// storage entries only when asked for.
///
/// Every entry's zip CRC-32 is checked before its bytes are used: the pickle's at open, a storage's when a tensor
/// of it is first read. A flipped bit anywhere in what a rank reads is therefore an error naming the file and the
/// entry, never different answers. A storage is summed whole even when only a slice of it is copied, since the
/// checksum covers the whole entry; libdeflate's CRC-32 runs near memory speed (docs/BENCHMARKS.md, "Memory and start-up").
public final class TorchCheckpointFile: Sendable {
    public let path: String
    public let archive: ZipArchive
    /// The archive's top-level folder (torch uses the file stem, e.g. `mp_rank_00_model_states`, or `archive`).
    public let prefix: String
    /// The state dict's tensors in the checkpoint's order. Non-tensor values (ints, strings) are skipped.
    public let tensors: [StoredTensor]
    private let tensorIndex: [String: Int]
    /// Storage entries whose checksum has been verified.
    private let verifiedStorages = Mutex<Set<String>>([])

    /// Opens `path`. Reads the central directory and the pickle (a few KB), validates every tensor's view against
    /// its storage, and returns; no tensor data is touched.
    public convenience init(path: String) throws(CheckpointError) {
        try self.init(file: MappedFile(path: path))
    }

    /// Opens a mapped file, as `init(path:)` does.
    public init(file: MappedFile) throws(CheckpointError) {
        let path = file.path
        self.path = path
        let archive = try ZipArchive(file: file)
        self.archive = archive

        let pickles = archive.entries.filter { entry in
            entry.name.hasSuffix("/data.pkl")
                && entry.name.split(separator: "/", omittingEmptySubsequences: false).count == 2
        }
        guard pickles.count == 1, let pickle = pickles.first else {
            throw pickles.isEmpty
                ? .missingEntry(path: path, entry: "<prefix>/data.pkl")
                : .malformedZip(path: path, detail: "more than one top-level data.pkl")
        }
        let prefix = String(pickle.name.dropLast("/data.pkl".count))
        self.prefix = prefix

        if let order = archive.entry(named: "\(prefix)/byteorder") {
            try archive.verifyChecksum(of: order)
            let text = try archive.withContents(of: order) { String(decoding: $0, as: UTF8.self) }
            guard text.trimmingWhitespace(newlines: true) == "little" else {
                throw .notAStateDict(path: path, detail: "byteorder is '\(text)'; only little-endian is supported")
            }
        }

        try archive.verifyChecksum(of: pickle)
        let views = try archive.withContents(of: pickle) { (bytes) throws(CheckpointError) in
            try Self.tensorViews(pickle: bytes, path: path)
        }
        var tensors: [StoredTensor] = []
        var tensorIndex: [String: Int] = [:]
        for (tensor, storageElements) in views {
            try Self.validate(tensor, storageElements: storageElements, archive: archive, prefix: prefix)
            tensorIndex[tensor.name] = tensors.count
            tensors.append(tensor)
        }
        self.tensors = tensors
        self.tensorIndex = tensorIndex
    }

    /// Runs a checkpoint's `data.pkl` through the restricted unpickler and returns the tensors of its state dict in
    /// order, each with the element count of its storage (not yet checked against any archive); other values are
    /// skipped. `path` names the file in errors.
    public static func tensorViews(
        pickle bytes: UnsafeRawBufferPointer, path: String
    ) throws(CheckpointError) -> [(tensor: StoredTensor, storageElements: Int)] {
        // The state dict's entries are read out before the machine drops everything it built (`releaseAll`).
        var machine = Unpickler(bytes: bytes, path: path)
        defer { machine.releaseAll() }
        var views: [(tensor: StoredTensor, storageElements: Int)] = []
        for (key, value) in try Self.stateDict(machine.load(), path: path).entries {
            guard case .string(let name) = key else {
                throw .notAStateDict(path: path, detail: "a key is a \(key.kindName), not a string")
            }
            guard case .tensor(let reference) = value else { continue }
            let tensor = StoredTensor(
                name: name, dtype: reference.storage.scalarType, shape: reference.shape, strides: reference.strides,
                storageOffset: reference.storageOffset, storageKey: reference.storage.key)
            views.append((tensor, reference.storage.elementCount))
        }
        return views
    }

    public convenience init(url: URL) throws(CheckpointError) {
        try self.init(path: url.path)
    }

    /// Tensor names in checkpoint order.
    public var names: [String] { tensors.map(\.name) }

    public func contains(_ name: String) -> Bool { tensorIndex[name] != nil }

    public func tensor(named name: String) throws(CheckpointError) -> StoredTensor {
        guard let position = tensorIndex[name] else { throw .missingKey(path: path, key: name) }
        return tensors[position]
    }

    /// Calls `body` with the raw little-endian bytes of the whole storage behind `name` (which may be larger than
    /// the tensor's view). The pointer points into the mapping: do not let it escape `body`.
    public func withStorageBytes<R>(
        of name: String, _ body: (UnsafeRawBufferPointer) throws(CheckpointError) -> R
    ) throws(CheckpointError) -> R {
        let tensor = try tensor(named: name)
        try verifyStorage(of: tensor)
        return try archive.withContents(of: storageEntryName(tensor), body)
    }

    /// The whole tensor as a row-major fp16 copy, converted from bf16, fp32 or fp64 if stored that way.
    public func float16(_ name: String) throws(CheckpointError) -> [Float16] {
        try float16(name, region: nil)
    }

    /// A row-major fp16 copy of the box `region` (one range per dimension) of the tensor; `nil` means the whole
    /// tensor. Only the bytes of that box are read, which is what lets a shard be split without reading it all.
    public func float16(_ name: String, region: [Range<Int>]?) throws(CheckpointError) -> [Float16] {
        let tensor = try tensor(named: name)
        let copy: RunCopy<Float16>
        switch tensor.dtype {
        case .float16: copy = Self.copyRun(Float16.self) { $0 }
        case .bfloat16: copy = Self.copyRun(UInt16.self) { Float16(Self.bfloat16ToFloat($0)) }
        case .float32: copy = Self.copyRun(Float.self) { Float16($0) }
        case .float64: copy = Self.copyRun(Double.self) { Float16($0) }
        default:
            throw .dtypeMismatch(path: path, key: name, expected: "a floating-point type", found: tensor.dtype.rawValue)
        }
        return try gather(tensor, region: region, copy: copy)
    }

    /// The whole tensor as a row-major fp32 copy, converted from fp16, bf16 or fp64 if stored that way.
    public func float32(_ name: String) throws(CheckpointError) -> [Float] {
        let tensor = try tensor(named: name)
        let copy: RunCopy<Float>
        switch tensor.dtype {
        case .float16: copy = Self.copyRun(Float16.self) { Float($0) }
        case .bfloat16: copy = Self.copyRun(UInt16.self) { Self.bfloat16ToFloat($0) }
        case .float32: copy = Self.copyRun(Float.self) { $0 }
        case .float64: copy = Self.copyRun(Double.self) { Float($0) }
        default:
            throw .dtypeMismatch(path: path, key: name, expected: "a floating-point type", found: tensor.dtype.rawValue)
        }
        return try gather(tensor, region: nil, copy: copy)
    }

    /// The whole tensor as a row-major int8 copy (quantized weights). No conversion: the tensor must be int8.
    public func int8(_ name: String) throws(CheckpointError) -> [Int8] {
        try int8(name, region: nil)
    }

    /// A row-major int8 copy of the box `region` of an int8 tensor; `nil` means the whole tensor.
    public func int8(_ name: String, region: [Range<Int>]?) throws(CheckpointError) -> [Int8] {
        let tensor = try tensor(named: name)
        guard tensor.dtype == .int8 else {
            throw .dtypeMismatch(path: path, key: name, expected: "int8", found: tensor.dtype.rawValue)
        }
        return try gather(tensor, region: region, copy: Self.copyRun(Int8.self) { $0 })
    }

    // MARK: - Copying strided views

    /// Copies `count` elements starting at a source pointer, `stride` source elements apart, to a destination.
    typealias RunCopy<Destination> = (UnsafeRawPointer, Int, Int, UnsafeMutablePointer<Destination>) -> Void

    private static func copyRun<Source, Destination>(
        _: Source.Type, _ convert: @escaping (Source) -> Destination
    ) -> RunCopy<Destination> {
        { source, stride, count, destination in
            let step = stride * MemoryLayout<Source>.size
            if stride == 1, Source.self == Destination.self {
                UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: count * step)
                return
            }
            for element in 0..<count {
                destination[element] = convert(source.loadUnaligned(fromByteOffset: element * step, as: Source.self))
            }
        }
    }

    private static func bfloat16ToFloat(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Materialises the box `region` of `tensor` in row-major order, honouring storage offset and strides. The
    /// innermost dimension is copied as a run (one `memcpy` when contiguous and no conversion is needed).
    private func gather<Destination>(
        _ tensor: StoredTensor, region: [Range<Int>]?, copy: RunCopy<Destination>
    ) throws(CheckpointError) -> [Destination] {
        let box = region ?? tensor.shape.map { 0..<$0 }
        guard box.count == tensor.shape.count,
            zip(box, tensor.shape).allSatisfy({ $0.lowerBound >= 0 && $0.upperBound <= $1 })
        else {
            throw .storageOutOfBounds(
                path: path, key: tensor.name, detail: "region \(box) does not fit shape \(tensor.shape)")
        }
        let total = box.reduce(1) { $0 * $1.count }
        if total == 0 { return [] }
        let itemSize = tensor.dtype.byteCount
        let entryName = storageEntryName(tensor)
        try verifyStorage(of: tensor)
        defer {
            if let entry = archive.entry(named: entryName) {
                archive.file.releasePages(entry.dataOffset..<(entry.dataOffset + entry.uncompressedSize))
            }
        }
        return try archive.withContents(of: entryName) { storage in
            let base = storage.baseAddress!
            let rank = box.count
            // A contiguous tensor read whole along every dimension but the first is one block: one copy.
            if tensor.isContiguous, rank > 0,
                zip(box.dropFirst(), tensor.shape.dropFirst()).allSatisfy({ $0.count == $1 })
            {
                let start = tensor.storageOffset + box[0].lowerBound * tensor.strides[0]
                // Copied in chunks, each chunk's source pages released right after, so a large tensor never
                // sits in memory twice (its copy plus its mapped file pages).
                let fileOffset = base - archive.file.bytes.baseAddress!
                let chunk = max(1, (16 << 20) / itemSize)
                return [Destination](unsafeUninitializedCapacity: total) { buffer, initialized in
                    var done = 0
                    while done < total {
                        let count = min(chunk, total - done)
                        let source = (start + done) * itemSize
                        copy(base + source, 1, count, buffer.baseAddress! + done)
                        archive.file.releasePages((fileOffset + source)..<(fileOffset + source + count * itemSize))
                        done += count
                    }
                    initialized = total
                }
            }
            let runLength = rank == 0 ? 1 : box[rank - 1].count
            let runStride = rank == 0 ? 1 : tensor.strides[rank - 1]
            var index = box.map(\.lowerBound)
            return [Destination](unsafeUninitializedCapacity: total) { buffer, initialized in
                var written = 0
                while written < total {
                    var element = tensor.storageOffset
                    for dimension in 0..<rank { element += index[dimension] * tensor.strides[dimension] }
                    copy(base + element * itemSize, runStride, runLength, buffer.baseAddress! + written)
                    written += runLength
                    // Odometer over the outer dimensions.
                    var dimension = rank - 2
                    while dimension >= 0 {
                        index[dimension] += 1
                        if index[dimension] < box[dimension].upperBound { break }
                        index[dimension] = box[dimension].lowerBound
                        dimension -= 1
                    }
                }
                initialized = total
            }
        }
    }

    /// Checks the CRC-32 of `tensor`'s storage entry the first time any tensor of that storage is read.
    private func verifyStorage(of tensor: StoredTensor) throws(CheckpointError) {
        let name = storageEntryName(tensor)
        if verifiedStorages.withLock({ $0.contains(name) }) { return }
        guard let entry = archive.entry(named: name) else { throw .missingEntry(path: path, entry: name) }
        try archive.verifyChecksum(of: entry, holding: tensor.name, releasingPages: true)
        verifiedStorages.withLock { _ = $0.insert(name) }
    }

    private func storageEntryName(_ tensor: StoredTensor) -> String {
        "\(prefix)/data/\(tensor.storageKey)"
    }

    // MARK: - Validation

    /// Finds the state dict: `{"module": state_dict}` as GLM-130B saves it, or a bare state dict.
    private static func stateDict(_ root: PickleValue, path: String) throws(CheckpointError) -> PickleDict {
        guard case .dict(let top) = root else {
            throw .notAStateDict(path: path, detail: "the pickle holds a \(root.kindName), not a dict")
        }
        if let module = top.value(forKey: "module") {
            guard case .dict(let inner) = module else {
                throw .notAStateDict(path: path, detail: "'module' is a \(module.kindName), not a dict")
            }
            return inner
        }
        return top
    }

    /// Checks, once at open time, that every element the view can reach lies inside the storage and that the
    /// storage entry holds the bytes it claims, so later copies need no per-element checks.
    private static func validate(
        _ tensor: StoredTensor, storageElements: Int, archive: ZipArchive, prefix: String
    ) throws(CheckpointError) {
        let path = archive.path
        let entryName = "\(prefix)/data/\(tensor.storageKey)"
        guard let entry = archive.entry(named: entryName) else {
            throw .missingEntry(path: path, entry: entryName)
        }
        let (storageBytes, overflow) = storageElements.multipliedReportingOverflow(by: tensor.dtype.byteCount)
        guard !overflow, entry.uncompressedSize >= storageBytes else {
            throw .storageOutOfBounds(
                path: path, key: tensor.name,
                detail: "storage '\(entryName)' holds \(entry.uncompressedSize) bytes but \(storageElements) "
                    + "\(tensor.dtype.rawValue) elements need \(storageElements &* tensor.dtype.byteCount)")
        }
        if tensor.shape.contains(0) { return }
        var last = tensor.storageOffset
        for (size, stride) in zip(tensor.shape, tensor.strides) {
            let (reach, overflowA) = (size - 1).multipliedReportingOverflow(by: stride)
            let (sum, overflowB) = last.addingReportingOverflow(reach)
            guard !overflowA, !overflowB else {
                throw .storageOutOfBounds(path: path, key: tensor.name, detail: "view arithmetic overflows")
            }
            last = sum
        }
        guard last < storageElements else {
            throw .storageOutOfBounds(
                path: path, key: tensor.name,
                detail: "shape \(tensor.shape), strides \(tensor.strides) and offset \(tensor.storageOffset) reach "
                    + "element \(last) but the storage has \(storageElements) elements")
        }
    }
}

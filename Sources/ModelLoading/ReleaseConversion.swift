import Basics
import Checkpoint
import Configuration
import FoundationEssentials
import GLM
import Partitioning
import Tensors

/// Writes a copy of a Hugging Face release (ChatGLM-6B, ChatGLM2-6B, ChatGLM3-6B, GLM-4) in the release's own layout:
/// its weights re-sharded into `pytorch_model-0000N-of-0000M.bin` files with their `pytorch_model.bin.index.json`
/// (one `pytorch_model.bin` when `shards` is 1), or into `model-0000N-of-0000M.safetensors` for a safetensors
/// release (each tensor's bytes as stored: bf16 stays bf16), and with a quantization scheme the official quantized
/// release (THUDM/chatglm-6b-int8, -int4, chatglm2-6b-int4; the same layout in safetensors for GLM-4):
/// each layer matrix quantized per row on the whole tensor (the release's `quantize`), stored as int8 (int4 packed
/// two per byte, element 2i in the high nibble) with an fp16 `<key>_scale`, and `"quantization_bit"` in
/// config.json. Every other tensor (embeddings, norms, biases, `lm_head.weight`, stored rotary frequencies) and every
/// other file of the folder (tokenizer, code) is copied as it is. Tensor parallelism needs no conversion: every
/// rank reads its slice of a release at load time.
public struct ReleaseConversion: Sendable {
    public var source: String
    public var destination: String
    /// Weight files to write (default: as many as the source has).
    public var shards: Int?
    public var quantization: QuantizationScheme?
    public var force: Bool

    public init(
        source: String, destination: String, shards: Int? = nil, quantization: QuantizationScheme? = nil,
        force: Bool = false
    ) {
        self.source = source
        self.destination = destination
        self.shards = shards
        self.quantization = quantization
        self.force = force
    }

    /// Whether `directory` holds a release in the Hugging Face layout (what this conversion reads).
    public static func isRelease(_ directory: URL) -> Bool {
        ReleaseCheckpoint.isPresent(in: directory) || SafetensorsRelease.isPresent(in: directory)
    }

    /// The release's weights and their format: PyTorch files where there are any (as loading reads them).
    static func open(_ directory: URL) throws -> (weights: any ReleaseWeights, format: ReleaseWriter.Format) {
        if ReleaseCheckpoint.isPresent(in: directory) { return (try ReleaseCheckpoint(directory: directory), .pytorch) }
        return (try SafetensorsRelease(directory: directory), .safetensors)
    }

    public func run(progress: (String) -> Void) throws {
        let sourceURL = URL(fileURLWithPath: source).standardizedFileURL
        let destinationURL = URL(fileURLWithPath: destination).standardizedFileURL
        try ConversionError.checkDistinct(sourceURL, destinationURL, source: source)
        let configFile = sourceURL.appendingPathComponent("config.json")
        let configuration = try ModelConfiguration.load(from: configFile)
        let (release, format) = try Self.open(sourceURL)
        let count = shards ?? release.files.count
        guard count >= 1, count <= 99_999 else {
            throw ConversionError(description: "--shards must be between 1 and 99999, got \(count)", isUsageError: true)
        }
        let keys = try release.keysInFileOrder()
        let tensorCount = keys.count
        guard count <= tensorCount else {
            throw ConversionError(
                description: "--shards \(count) is more than the \(tensorCount) tensors of \(source): every file must "
                    + "hold at least one", isUsageError: true)
        }
        let quantizable = Set(WeightSpec.all(for: configuration).filter(\.isQuantizable).map(\.key))
        if quantization != nil, !quantizable.isSubset(of: keys) {
            throw ConversionError(
                description: "\(source) does not store the layer matrices under the release's keys (transformers' "
                    + "own layout?); --quantize needs the original release layout", isUsageError: true)
        }
        if let quantization, try quantizable.contains(where: { try release.isQuantized($0) }) {
            throw ConversionError(
                description: "\(source) is already a quantized release; --quantize \(quantization.rawValue) needs the "
                    + "fp16 release", isUsageError: true)
        }

        let lock: OutputDirectoryLock
        do {
            lock = try CheckpointDirectory.prepareOutput(
                destinationURL, option: "--to", force: force, existing: ReleaseWriter.weightFiles(in:))
        } catch {
            throw ConversionError(description: error.description, isUsageError: error.isUsageError)
        }
        defer { lock.release() }
        let quantized = quantization.map { ", quantized to \($0.rawValue)" } ?? ""
        progress(
            "converting the release \(source) (\(release.files.count) weight files) to \(destination) with "
                + "\(count)\(quantized)"
        )
        var written: [URL] = []
        do {
            written = try writeWeights(
                release, keys: keys, quantizable: quantizable, count: count, format: format, to: destinationURL,
                progress: progress)
            try copyOtherFiles(from: sourceURL, to: destinationURL, configFile: configFile)
        } catch {
            // Half a release would load as a release with missing tensors: what this run wrote goes.
            for file in written { try? FileManager.default.removeItem(at: file) }
            throw error
        }
    }

    /// Writes the weight files (and the index when there are several); returns what it wrote.
    private func writeWeights(
        _ release: any ReleaseWeights, keys: [String], quantizable: Set<String>, count: Int,
        format: ReleaseWriter.Format, to directory: URL, progress: (String) -> Void
    ) throws -> [URL] {
        // Keys spread over `count` files by stored bytes, in order.
        let sizes = try keys.map { key in
            let stored = try release.weightFile(holding: key).stored(key)
            return stored.shape.reduce(1, *) * stored.dtype.byteCount
        }
        var written: [URL] = []
        var weightMap: [(key: String, file: String)] = []
        var totalSize = 0
        for (index, range) in ReleaseWriter.groups(sizes: sizes, count: count).enumerated() {
            var tensors: [(String, CheckpointTensor)] = []
            for key in keys[range] {
                let file = try release.weightFile(holding: key)
                let stored = try file.stored(key)
                if let quantization, quantizable.contains(key) {
                    let values = try file.float16(key, region: nil)
                    let (rows, columns) = (stored.shape[0], stored.shape[1])
                    let (levels, scales) = values.withUnsafeBufferPointer {
                        Quantization.quantizeRows($0, rows: rows, columns: columns, scheme: quantization)
                    }
                    let bytes =
                        quantization == .int4 ? Quantization.packInt4(levels).map { Int8(bitPattern: $0) } : levels
                    tensors.append((key, .int8(Int8Tensor(shape: [rows, bytes.count / rows], values: bytes))))
                    tensors.append(
                        (ShardedCheckpoint.scaleKey(key), .float16(HalfTensor(shape: [rows], values: scales))))
                } else if stored.dtype == .int8 {
                    tensors.append(
                        (key, .int8(Int8Tensor(shape: stored.shape, values: try file.int8(key, region: nil)))))
                } else if let safetensors = file as? SafetensorsFile {
                    tensors.append(
                        (key, .raw(dtype: stored.dtype, shape: stored.shape, bytes: try safetensors.storedBytes(key))))
                } else {
                    tensors.append(
                        (key, .float16(HalfTensor(shape: stored.shape, values: try file.float16(key, region: nil)))))
                }
            }
            let url = try ReleaseWriter.writeFile(tensors, index: index, of: count, to: directory, format: format)
            written.append(url)
            for (key, tensor) in tensors {
                weightMap.append((key, url.lastPathComponent))
                totalSize += tensor.elementCount * tensor.dtype.byteCount
            }
            progress("  wrote \(url.path) (\(index + 1)/\(count))")
        }
        if count > 1 {
            written.append(try ReleaseWriter.writeIndex(weightMap, totalSize: totalSize, to: directory, format: format))
        }
        return written
    }

    /// config.json (with `quantization_bit` when quantizing) and every other non-weight file of the folder.
    private func copyOtherFiles(from source: URL, to destination: URL, configFile: URL) throws {
        let manager = FileManager.default
        let weights = Set(ReleaseWriter.weightFiles(in: source).map(\.lastPathComponent))
        let names = try manager.contentsOfDirectory(atPath: source.path).sorted()
        do {
            for name in names where !weights.contains(name) {
                let from = source.appendingPathComponent(name)
                var isDirectory = false
                guard manager.fileExists(atPath: from.path, isDirectory: &isDirectory), !isDirectory else { continue }
                let to = destination.appendingPathComponent(name)
                if manager.fileExists(atPath: to.path) { try manager.removeItem(at: to) }
                if name == "config.json", let quantization {
                    let text = try String(contentsOf: from, encoding: .utf8)
                    try Data(Self.settingQuantizationBit(text, bits: quantization.bits).utf8).write(to: to)
                } else {
                    try manager.copyItem(at: from, to: to)
                }
            }
        } catch {
            throw ConversionError(
                description: "cannot copy the release's other files into \(destination.path): \(error.explanation)")
        }
    }

    /// config.json's text with `"quantization_bit": bits` (replacing the field where it is, else first).
    static func settingQuantizationBit(_ text: String, bits: Int) -> String {
        if let range = text.firstRange(of: /"quantization_bit"\s*:\s*-?[0-9]+/) {
            var edited = text
            edited.replaceSubrange(range, with: "\"quantization_bit\": \(bits)")
            return edited
        }
        guard let brace = text.firstIndex(of: "{") else { return text }
        return String(text[...brace]) + "\n  \"quantization_bit\": \(bits)," + String(text[text.index(after: brace)...])
    }
}

import Basics
import FoundationEssentials

/// The file layout of a Hugging Face release's weights, for writers (`convert` of a release, `create-model`): the
/// tensors in order, spread over `pytorch_model-0000N-of-0000M.bin` (or `model-0000N-of-0000M.safetensors`) files
/// of near-equal size with an index naming each tensor's file, or one `pytorch_model.bin` (`model.safetensors`)
/// without an index.
public enum ReleaseWriter {
    /// The two weight formats of Hugging Face releases.
    public enum Format: Sendable {
        /// PyTorch zip files (`TorchCheckpointWriter`): ChatGLM-6B, ChatGLM2-6B, ChatGLM3-6B.
        case pytorch
        /// Safetensors files (`SafetensorsWriter`): GLM-4.
        case safetensors

        var prefix: String { self == .pytorch ? "pytorch_model" : "model" }
        var fileExtension: String { self == .pytorch ? "bin" : "safetensors" }
        var indexName: String { self == .pytorch ? ReleaseCheckpoint.indexName : SafetensorsRelease.indexName }
    }

    /// The weight files and index of a release folder, of either format (what a writer's `--force` replaces).
    public static func weightFiles(in directory: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { name in
            (name.hasPrefix("pytorch_model") && (name.hasSuffix(".bin") || name.hasSuffix(".json")))
                || (name.hasPrefix("model") && (name.hasSuffix(".safetensors") || name == SafetensorsRelease.indexName))
        }.sorted().map { directory.appendingPathComponent($0) }
    }

    /// The file of the `index`-th of `count` weight files.
    public static func fileName(_ index: Int, of count: Int, format: Format = .pytorch) -> String {
        count == 1
            ? "\(format.prefix).\(format.fileExtension)"
            : "\(format.prefix)-\(fiveDigits(index + 1))-of-\(fiveDigits(count)).\(format.fileExtension)"
    }

    /// `count` consecutive groups of the tensors whose sizes in bytes are `sizes`, near-equal in bytes.
    public static func groups(sizes: [Int], count: Int) -> [Range<Int>] {
        let total = max(sizes.reduce(0, +), 1)
        var starts = [Int](repeating: sizes.count, count: count + 1)
        starts[0] = 0
        var sum = 0
        var group = 0
        for (index, size) in sizes.enumerated() {
            let target = min(count - 1, sum * count / total)
            while group < target {
                group += 1
                starts[group] = index
            }
            sum += size
        }
        for next in stride(from: group + 1, through: count, by: 1) { starts[next] = sizes.count }
        return (0..<count).map { starts[$0]..<max(starts[$0], starts[$0 + 1]) }
    }

    /// Writes `tensors` in order as `files` weight files of near-equal size, with the index when there are several.
    public static func writeRelease(
        _ tensors: [(String, CheckpointTensor)], files: Int, to directory: URL, format: Format = .pytorch
    ) throws(CheckpointError) {
        let sizes = tensors.map { $0.1.elementCount * $0.1.dtype.byteCount }
        var weightMap: [(key: String, file: String)] = []
        for (index, range) in groups(sizes: sizes, count: files).enumerated() {
            let url = try writeFile(Array(tensors[range]), index: index, of: files, to: directory, format: format)
            weightMap += tensors[range].map { ($0.0, url.lastPathComponent) }
        }
        if files > 1 {
            _ = try writeIndex(weightMap, totalSize: sizes.reduce(0, +), to: directory, format: format)
        }
    }

    /// Writes one weight file.
    public static func writeFile(
        _ tensors: [(String, CheckpointTensor)], index: Int, of count: Int, to directory: URL,
        format: Format = .pytorch
    ) throws(CheckpointError) -> URL {
        let url = directory.appendingPathComponent(fileName(index, of: count, format: format))
        switch format {
        case .pytorch: try TorchCheckpointWriter.write(tensors, to: url)
        case .safetensors: try SafetensorsWriter.write(tensors, to: url)
        }
        return url
    }

    /// Writes the index (`pytorch_model.bin.index.json`, `model.safetensors.index.json`): `weightMap` pairs a tensor
    /// key with its file; `totalSize` is the bytes of all tensors.
    public static func writeIndex(
        _ weightMap: [(key: String, file: String)], totalSize: Int, to directory: URL, format: Format = .pytorch
    ) throws(CheckpointError) -> URL {
        let index = directory.appendingPathComponent(format.indexName)
        let entries = weightMap.sorted { $0.key < $1.key }.map { "    \(quoted($0.key)): \(quoted($0.file))" }
        let text =
            "{\n  \"metadata\": {\n    \"total_size\": \(totalSize)\n  },\n  \"weight_map\": {\n"
            + entries.joined(separator: ",\n") + "\n  }\n}\n"
        do { try Data(text.utf8).write(to: index) } catch {
            throw .writeFailed(path: index.path, reason: error.explanation)
        }
        return index
    }

    static func fiveDigits(_ value: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, 5 - digits.count)) + digits
    }

    static func quoted(_ text: String) -> String {
        "\"" + text.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\""
    }
}

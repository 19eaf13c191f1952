import Foundation
import Partitioning
import TestSupport
import Testing

@testable import Checkpoint

/// Paths and helpers shared by the checkpoint tests.
enum Support {
    static let testsFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let fixtures = Fixture.root
    static let mp1 = Fixture.checkpointDirectory
    static let mp2 = Fixture.mp2Directory
    static let referenceReader = testsFolder.appendingPathComponent("reference_reader.py")

    static func shardPath(_ root: URL, _ rank: Int) -> String {
        root.appendingPathComponent("49300").appendingPathComponent(CheckpointDirectory.shardName(rank: rank)).path
    }

    /// A fresh temporary folder, removed by the caller with `cleanUp`.
    static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("checkpoint-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func cleanUp(_ url: URL) {
        try? FileManager.default.removeItem(at: url)
    }

    /// Runs the independent Python reader (zipfile + restricted pickle + numpy) and returns its stdout.
    @discardableResult
    static func python(_ arguments: [String]) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", referenceReader.path] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw PythonFailure(message: String(decoding: message, as: UTF8.self))
        }
        return data
    }

    struct PythonFailure: Error, CustomStringConvertible {
        var message: String
        var description: String { "reference_reader.py failed: \(message)" }
    }

    /// Every tensor of `file` as Python reads it: key order and contiguous row-major bytes.
    static func pythonTensors(_ file: String) throws -> (keys: [String], bytes: [String: Data]) {
        let folder = try temporaryFolder()
        defer { cleanUp(folder) }
        try python(["rawall", file, folder.path])
        let keys = try String(contentsOf: folder.appendingPathComponent("keys.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        var bytes: [String: Data] = [:]
        for key in keys { bytes[key] = try Data(contentsOf: folder.appendingPathComponent("\(key).bin")) }
        return (keys, bytes)
    }

    /// The error thrown by `body`, or nil.
    static func error(_ body: () throws -> Void) -> CheckpointError? {
        do {
            try body()
            return nil
        } catch let error as CheckpointError {
            return error
        } catch {
            Issue.record("unexpected error type: \(error)")
            return nil
        }
    }
}

extension Array where Element == Float16 {
    var bytes: Data { withUnsafeBytes { Data($0) } }
}

/// The tiny fixture model (spec section 4: hidden 32, heads 4, inner 96, vocab 150528, 2 layers).
enum TinyModel {
    static let hidden = 32, inner = 96, vocab = 150528, layers = 2, headDim = 8

    /// Each key's global (MP=1) shape and tensor-parallel layout, written from spec sections 3 and 4.
    static var keys: [(name: String, shape: [Int], layout: ShardLayout)] {
        var keys: [(String, [Int], ShardLayout)] = [("transformer.word_embeddings.weight", [vocab, hidden], .rows)]
        for layer in 0..<layers {
            let p = "transformer.layers.\(layer)."
            keys += [
                (p + "input_layernorm.weight", [hidden], .replicated),
                (p + "input_layernorm.bias", [hidden], .replicated),
                (p + "attention.query_key_value.weight", [3 * hidden, hidden], .rows),
                (p + "attention.query_key_value.bias", [3 * hidden], .rows),
                (p + "attention.dense.weight", [hidden, hidden], .columns),
                (p + "attention.dense.bias", [hidden], .replicated),
                (p + "attention.rotary_emb.inv_freq", [headDim / 2], .replicated),
                (p + "post_attention_layernorm.weight", [hidden], .replicated),
                (p + "post_attention_layernorm.bias", [hidden], .replicated),
                (p + "mlp.dense_h_to_4h.weight", [2 * inner, hidden], .rowsGLU),
                (p + "mlp.dense_h_to_4h.bias", [2 * inner], .rowsGLU),
                (p + "mlp.dense_4h_to_h.weight", [hidden, inner], .columns),
                (p + "mlp.dense_4h_to_h.bias", [hidden], .replicated),
            ]
        }
        keys += [
            ("transformer.final_layernorm.weight", [hidden], .replicated),
            ("transformer.final_layernorm.bias", [hidden], .replicated),
        ]
        return keys
    }
}

/// An independent, deliberately naive reference for tensor-parallel splitting (element by element, from the
/// definitions in spec section 3), used to check the library's block copies.
enum ReferenceSplit {
    static func partition(_ values: [Float16], shape: [Int], layout: ShardLayout, index: Int, count: Int) -> [Float16] {
        let rows = shape[0]
        let columns = shape.count > 1 ? shape[1] : 1
        func element(_ row: Int, _ column: Int) -> Float16 { values[row * columns + column] }
        var result: [Float16] = []
        switch layout {
        case .replicated:
            return values
        case .rows:
            let block = rows / count
            for row in index * block..<(index + 1) * block {
                for column in 0..<columns { result.append(element(row, column)) }
            }
        case .rowsGLU:
            let half = rows / 2
            let block = half / count
            for part in 0..<2 {
                for row in part * half + index * block..<part * half + (index + 1) * block {
                    for column in 0..<columns { result.append(element(row, column)) }
                }
            }
        case .groupedQueryKeyValue(let heads, let groups):
            // The query heads of this part, then the key and value rows of every group one of them reads.
            let width = rows / (heads + 2 * groups)
            let local = (index * heads / count)..<((index + 1) * heads / count)
            let used = Set(local.map { $0 / (heads / groups) }).sorted()
            let headRows = local.map { $0 } + used.map { heads + $0 } + used.map { heads + groups + $0 }
            for head in headRows {
                for row in head * width..<(head + 1) * width {
                    for column in 0..<columns { result.append(element(row, column)) }
                }
            }
        case .columns:
            if shape.count == 1 {
                let block = rows / count
                return Array(values[index * block..<(index + 1) * block])
            }
            let block = columns / count
            for row in 0..<rows {
                for column in index * block..<(index + 1) * block { result.append(element(row, column)) }
            }
        }
        return result
    }
}

import CSentencePiece
import Glibc

/// A loaded SentencePiece model (`sentencepiece::SentencePieceProcessor` behind the C API of `CSentencePiece`).
///
/// Sendable invariant: the handle is created once in `init`, never reassigned, and freed only in `deinit`; every
/// call through it is a `const` SentencePiece method (encode, decode, piece lookup), which SentencePiece allows to
/// run concurrently on a loaded model, and error messages are kept per thread by the shim. So one processor may be
/// shared between threads.
public final class SentencePieceProcessor: @unchecked Sendable {
    private let handle: OpaquePointer
    /// The model file this processor was loaded from.
    public let modelPath: String
    /// Number of pieces in the model (valid ids are `0..<pieceCount`).
    public let pieceCount: Int
    /// The id of `<unk>`.
    public let unknownId: Int32

    /// Loads a `.model` file. Throws `SentencePieceError.cannotLoad` naming the file when it is missing, not a
    /// regular file (a directory, a device such as /dev/zero that never ends), larger than any model, or corrupt.
    public init(modelPath: String) throws(SentencePieceError) {
        if let problem = Self.fileProblem(modelPath) {
            throw .cannotLoad(modelPath: modelPath, code: CSP_EXCEPTION, message: problem)
        }
        var pointer: OpaquePointer?
        let code = csp_load(modelPath, &pointer)
        guard code == CSP_OK, let pointer else {
            throw .cannotLoad(modelPath: modelPath, code: code, message: lastErrorMessage())
        }
        handle = pointer
        self.modelPath = modelPath
        pieceCount = Int(csp_piece_size(pointer))
        unknownId = csp_unk_id(pointer)
    }

    deinit { csp_free(handle) }

    /// SentencePiece models are a few MiB; a larger file is not one.
    public static let maximumModelBytes = 1 << 30

    /// Why `path` cannot hold a model, or nil when it is a regular file of a plausible size (a missing file is left
    /// to SentencePiece, whose message names it).
    private static func fileProblem(_ path: String) -> String? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        guard status.st_mode & S_IFMT == S_IFREG else {
            return status.st_mode & S_IFMT == S_IFDIR ? "is a directory, not a model file" : "is not a regular file"
        }
        guard Int(status.st_size) <= maximumModelBytes else {
            return "is \(status.st_size) bytes, larger than any SentencePiece model (at most \(maximumModelBytes))"
        }
        return nil
    }

    /// SentencePiece ids of `text` (the model's normaliser applies; no BOS/EOS are added).
    public func encode(_ text: String) -> [Int32] {
        var text = text
        let result = text.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                Result { () throws(SentencePieceError) in
                    try readBuffer(initialCapacity: chars.count + 8) {
                        (out: UnsafeMutablePointer<Int32>, capacity, count) in
                        csp_encode_ids(handle, chars.baseAddress, chars.count, out, capacity, count)
                    }
                }
            }
        }
        // Encoding valid UTF-8 with a loaded model does not fail in SentencePiece; an empty result is the fallback.
        return (try? result.get()) ?? []
    }

    /// The text of `ids`. Ids outside `0..<pieceCount` throw `SentencePieceError.idOutOfRange`.
    public func decode(_ ids: [Int32]) throws(SentencePieceError) -> String {
        if let bad = ids.first(where: { $0 < 0 || Int($0) >= pieceCount }) {
            throw .idOutOfRange(modelPath: modelPath, id: bad, pieceCount: pieceCount)
        }
        let result = ids.withUnsafeBufferPointer { ids in
            Result { () throws(SentencePieceError) in
                try readBuffer(initialCapacity: ids.count * 8 + 16) {
                    (out: UnsafeMutablePointer<CChar>, capacity, count) in
                    csp_decode_ids(handle, ids.baseAddress, ids.count, out, capacity, count)
                }
            }
        }
        return String(decoding: try result.get().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The piece string of `id` (for example `"▁the"`), or nil when `id` is outside `0..<pieceCount`.
    public func piece(for id: Int32) -> String? {
        guard id >= 0, Int(id) < pieceCount else { return nil }
        let bytes = try? readBuffer(initialCapacity: 64) { (out: UnsafeMutablePointer<CChar>, capacity, count) in
            csp_id_to_piece(handle, id, out, capacity, count)
        }
        return bytes.map { String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
    }

    /// The id of the piece spelled `piece` (for example `"[gMASK]"`), or the unknown id when the model has none.
    public func id(ofPiece piece: String) -> Int32 {
        var piece = piece
        return piece.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { Int32(csp_piece_to_id(handle, $0.baseAddress, $0.count)) }
        }
    }

    /// Runs a C call that fills a caller buffer under the `CSP_BUFFER_TOO_SMALL` protocol, growing it once if needed.
    private func readBuffer<Element: BitwiseCopyable>(
        initialCapacity: Int,
        _ call: (UnsafeMutablePointer<Element>, Int, UnsafeMutablePointer<Int>) -> Int32
    ) throws(SentencePieceError) -> [Element] {
        var capacity = max(initialCapacity, 1)
        for _ in 0..<2 {
            var count = 0
            var code: Int32 = CSP_OK
            let result = [Element](unsafeUninitializedCapacity: capacity) { buffer, initialized in
                code = call(buffer.baseAddress!, capacity, &count)
                initialized = code == CSP_OK ? count : 0
            }
            if code == CSP_OK { return result }
            guard code == CSP_BUFFER_TOO_SMALL else {
                throw .callFailed(modelPath: modelPath, code: code, message: lastErrorMessage())
            }
            capacity = max(count, 1)
        }
        throw .callFailed(modelPath: modelPath, code: CSP_BUFFER_TOO_SMALL, message: "output size kept changing")
    }
}

/// Trains SentencePiece models (`sentencepiece::SentencePieceTrainer`).
public enum SentencePieceTrainer {
    /// Trains with `spm_train`-style arguments, e.g. `--input=corpus.txt --model_prefix=m --vocab_size=800`.
    /// The model is written to `<model_prefix>.model` (and `.vocab`). The trainer's progress log is silenced.
    public static func train(arguments: String) throws(SentencePieceError) {
        let code = csp_train(arguments)
        if code != CSP_OK { throw .trainingFailed(arguments: arguments, code: code, message: lastErrorMessage()) }
    }

    /// Trains on `sentences` (one per line) held in memory and returns the serialized model (the bytes of a
    /// `.model` file). `arguments` must not name `--input` or `--model_prefix`; as no path is recorded in the model,
    /// the same sentences and arguments give the same bytes on every run and machine.
    public static func train(arguments: String, sentences: String) throws(SentencePieceError) -> [UInt8] {
        var sentences = sentences
        var model: UnsafeMutablePointer<CChar>?
        var size = 0
        let code = sentences.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) {
                csp_train_from_text(arguments, $0.baseAddress, $0.count, &model, &size)
            }
        }
        defer { csp_free_bytes(model) }
        guard code == CSP_OK, let model else {
            throw .trainingFailed(arguments: arguments, code: code, message: lastErrorMessage())
        }
        return model.withMemoryRebound(to: UInt8.self, capacity: size) {
            Array(UnsafeBufferPointer(start: $0, count: size))
        }
    }
}

/// What went wrong in SentencePiece, with the model file (or training arguments) concerned.
public enum SentencePieceError: Error, CustomStringConvertible, Equatable {
    /// The model file is missing, unreadable or not a SentencePiece model.
    case cannotLoad(modelPath: String, code: Int32, message: String)
    /// An id passed to `decode` is not a piece of the model.
    case idOutOfRange(modelPath: String, id: Int32, pieceCount: Int)
    /// An encode/decode call failed inside SentencePiece.
    case callFailed(modelPath: String, code: Int32, message: String)
    /// `SentencePieceTrainer.train` failed.
    case trainingFailed(arguments: String, code: Int32, message: String)

    public var description: String {
        switch self {
        case .cannotLoad(let path, let code, let message):
            "cannot load SentencePiece model \(path): \(message) (status \(code))"
        case .idOutOfRange(let path, let id, let count):
            "id \(id) is not a piece of SentencePiece model \(path) (valid ids 0..<\(count))"
        case .callFailed(let path, let code, let message):
            "SentencePiece call failed for model \(path): \(message) (status \(code))"
        case .trainingFailed(let arguments, let code, let message):
            "SentencePiece training failed: \(message) (status \(code)); arguments: \(arguments)"
        }
    }
}

private func lastErrorMessage() -> String { String(cString: csp_last_error()) }

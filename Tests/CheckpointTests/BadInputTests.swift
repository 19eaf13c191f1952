import Foundation
import Testing

@testable import Checkpoint

/// Hand-made pickles: strided views, other dtypes, hostile globals. Built with the library's own low-level
/// writers, but every expectation comes from Python or from arithmetic written here.
enum CustomCheckpoint {
    struct View {
        var name: String
        var type: ScalarType
        var storage: [UInt8]
        var offset: Int
        var shape: [Int]
        var strides: [Int]
    }

    static func write(_ views: [View], to url: URL, wrapInModule: Bool = true, extraGlobal: (String, String)? = nil)
        throws
    {
        var pickle = PickleWriter()
        pickle.opcode(0x80, 2, 0x7D)
        if wrapInModule {
            pickle.string("module")
            pickle.opcode(0x7D)
        }
        pickle.opcode(0x28)
        pickle.string("iteration")  // non-tensor values are skipped
        pickle.integer(49300)
        pickle.string("note")
        pickle.string("hello")
        if let (module, name) = extraGlobal {
            pickle.string("payload")
            pickle.global(module, name)
            pickle.string("touch /tmp/should-not-exist")
            pickle.opcode(0x85, 0x52)  // TUPLE1, REDUCE
        }
        for (key, view) in views.enumerated() {
            pickle.string(view.name)
            pickle.global("torch._utils", "_rebuild_tensor_v2")
            pickle.opcode(0x28, 0x28)
            pickle.string("storage")
            pickle.global("torch", view.type.storageTypeName)
            pickle.string(String(key))
            pickle.string("cpu")
            pickle.integer(view.storage.count / view.type.byteCount)
            pickle.opcode(0x74, 0x51)
            pickle.integer(view.offset)
            pickle.tuple(view.shape)
            pickle.tuple(view.strides)
            pickle.opcode(0x89)
            pickle.global("collections", "OrderedDict")
            pickle.opcode(0x29, 0x52, 0x74, 0x52)
        }
        pickle.opcode(0x75)
        if wrapInModule { pickle.opcode(0x73) }
        pickle.opcode(0x2E)
        var zip = try ZipWriter(url: url, forceZip64: false)
        try zip.add("archive/data.pkl", Data(pickle.bytes))
        for (key, view) in views.enumerated() { try zip.add("archive/data/\(key)", Data(view.storage)) }
        try zip.add("archive/version", Data("3\n".utf8))
        try zip.finish()
    }

    static func bytes<T>(_ values: [T]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }
}

@Suite struct ViewTests {
    @Test(arguments: [true, false])
    func stridedViewsAndDtypes(wrapInModule: Bool) throws {
        let folder = try Support.temporaryFolder()
        defer { Support.cleanUp(folder) }
        let url = folder.appendingPathComponent("views.pt")
        let storage: [Float] = (0..<12).map { Float($0) + 0.5 }
        let bf16: [UInt16] = [0x3F80, 0x4000, 0xC040, 0x3E80]  // 1, 2, -3, 0.25
        let views = [
            // A transpose of a 3x3 block starting at element 2: element (i, j) is storage[2 + i + 3 j].
            CustomCheckpoint.View(
                name: "transposed", type: .float32, storage: CustomCheckpoint.bytes(storage), offset: 2,
                shape: [3, 3], strides: [1, 3]),
            CustomCheckpoint.View(
                name: "bf16", type: .bfloat16, storage: CustomCheckpoint.bytes(bf16), offset: 0, shape: [2, 2],
                strides: [2, 1]),
            CustomCheckpoint.View(
                name: "quantized", type: .int8, storage: [1, 0xFF, 0x80, 0x7F, 5, 6], offset: 1, shape: [2, 2],
                strides: [1, 2]),
        ]
        try CustomCheckpoint.write(views, to: url, wrapInModule: wrapInModule)
        let file = try TorchCheckpointFile(path: url.path)
        #expect(file.names == ["transposed", "bf16", "quantized"])
        let expected: [Float] = [2.5, 5.5, 8.5, 3.5, 6.5, 9.5, 4.5, 7.5, 10.5]
        #expect(try file.float32("transposed") == expected)
        #expect(try file.float16("transposed") == expected.map { Float16($0) })
        #expect(try file.float16("transposed", region: [1..<3, 0..<2]) == [3.5, 6.5, 4.5, 7.5].map { Float16($0) })
        #expect(try file.float32("bf16") == [1, 2, -3, 0.25])
        #expect(try file.float16("bf16") == [1, 2, -3, 0.25])
        #expect(try file.int8("quantized") == [-1, 127, -128, 5])
        #expect(try !file.tensor(named: "transposed").isContiguous)
        // Python (numpy as_strided) agrees.
        let reference = try Support.pythonTensors(url.path)
        #expect(reference.bytes["transposed"] == Data(CustomCheckpoint.bytes(expected)))
        #expect(reference.bytes["quantized"] == Data(CustomCheckpoint.bytes([Int8(-1), 127, -128, 5])))
    }

    @Test func viewOutsideItsStorageIsRejected() throws {
        let folder = try Support.temporaryFolder()
        defer { Support.cleanUp(folder) }
        let url = folder.appendingPathComponent("overrun.pt")
        let view = CustomCheckpoint.View(
            name: "overrun", type: .float16, storage: [UInt8](repeating: 0, count: 8), offset: 1, shape: [2, 2],
            strides: [2, 1])
        try CustomCheckpoint.write([view], to: url)
        let error = Support.error { _ = try TorchCheckpointFile(path: url.path) }
        let text = try #require(error?.description)
        #expect(text.contains(url.path) && text.contains("overrun"))
    }
}

@Suite struct BadInputTests {
    /// Copies the MP=2 fixture into a temporary folder, lets `damage` change it and returns the folder.
    static func damagedCopy(_ damage: (URL) throws -> Void) throws -> URL {
        let folder = try Support.temporaryFolder()
        let copy = folder.appendingPathComponent("mp2")
        try FileManager.default.copyItem(at: Support.mp2, to: copy)
        try damage(copy)
        return copy
    }

    static func truncate(_ path: String, to length: Int) throws {
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        try handle.truncate(atOffset: UInt64(length))
        try handle.close()
    }

    @Test(arguments: [0.5, 100.0, 0.0])
    func truncatedShard(keep: Double) throws {
        let shard1 = Support.shardPath(Support.mp2, 1)
        let size = try FileManager.default.attributesOfItem(atPath: shard1)[.size] as! Int
        let length = keep > 1 ? Int(keep) : Int(Double(size) * keep)
        let copy = try Self.damagedCopy { try Self.truncate(Support.shardPath($0, 1), to: length) }
        defer { Support.cleanUp(copy.deletingLastPathComponent()) }
        let sharded = try ShardedCheckpoint(url: copy)  // shard 1 opens lazily
        let error = Support.error {
            _ = try sharded.tensor(
                "transformer.layers.0.attention.dense.weight", globalShape: [32, 32], layout: .columns)
        }
        let text = try #require(error?.description)
        #expect(text.contains(Support.shardPath(copy, 1)), "\(text)")
        #expect(text.contains("truncated zip") || text.contains("cannot open"), "\(text)")
    }

    /// The file keeps its central directory but loses the end of its largest entry.
    @Test func entryRunningPastTheEnd() throws {
        let folder = try Support.temporaryFolder()
        defer { Support.cleanUp(folder) }
        let url = folder.appendingPathComponent("short.pt")
        let source = try Data(contentsOf: URL(fileURLWithPath: Support.shardPath(Support.mp1, 0)))
        let archive = try ZipArchive(path: Support.shardPath(Support.mp1, 0))
        let big = try #require(archive.entry(named: "mp_rank_00_model_states/data/0"))
        // Keep everything up to 1000 bytes into entry 0's data, then append the central directory and end records
        // with every offset that points at them moved back. torch writes ZIP64 end records even for small files,
        // so the ZIP64 end record and its locator are patched too.
        let cut = big.dataOffset + 1000
        func read<T: FixedWidthInteger>(_ data: Data, _ at: Int, _: T.Type) -> T {
            T(
                littleEndian: data[data.startIndex + at..<data.startIndex + at + MemoryLayout<T>.size].withUnsafeBytes {
                    $0.loadUnaligned(as: T.self)
                })
        }
        func write<T: FixedWidthInteger>(_ data: inout Data, _ at: Int, _ value: T) {
            withUnsafeBytes(of: value.littleEndian) { data.replaceSubrange(at..<at + MemoryLayout<T>.size, with: $0) }
        }
        let locator = source.count - 22 - 20
        #expect(read(source, locator, UInt32.self) == 0x0706_4b50)
        let zip64End = Int(read(source, locator + 8, UInt64.self))
        let directoryOffset = Int(read(source, zip64End + 48, UInt64.self))
        let shift = directoryOffset - cut
        var tail = Data(source[directoryOffset...])
        write(&tail, tail.count - 22 + 16, UInt32(cut))
        write(&tail, tail.count - 42 + 8, UInt64(zip64End - shift))
        write(&tail, zip64End - directoryOffset + 48, UInt64(cut))
        // Entries after data/0 now point past the end; data/0's own end is the first problem found.
        try (Data(source[..<cut]) + tail).write(to: url)
        let error = Support.error { _ = try TorchCheckpointFile(path: url.path) }
        let text = try #require(error?.description)
        #expect(text.contains(url.path), "\(text)")
        #expect(text.contains("truncated zip"), "\(text)")
        #expect(text.contains("'mp_rank_00_model_states/data/0' ends at byte"), "\(text)")
    }

    /// Flips one bit of entry `name` of shard 0 of a copy of the MP=2 fixture; returns the copy's shard path.
    static func flippedBit(in name: (TorchCheckpointFile) throws -> String, at offset: Int) throws -> String {
        let copy = try damagedCopy { copy in
            let path = Support.shardPath(copy, 0)
            let file = try TorchCheckpointFile(path: path)
            let entry = try #require(file.archive.entry(named: try name(file)))
            var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            bytes[entry.dataOffset + offset] ^= 0x10
            try bytes.write(to: URL(fileURLWithPath: path))
        }
        return Support.shardPath(copy, 0)
    }

    @Test func flippedBitInAStorageIsFoundWhenItsTensorIsRead() throws {
        let key = "transformer.layers.0.attention.query_key_value.weight"
        let path = try Self.flippedBit(in: { "\($0.prefix)/data/\(try $0.tensor(named: key).storageKey)" }, at: 5)
        defer { Support.cleanUp(URL(fileURLWithPath: path).deletingLastPathComponent().deletingLastPathComponent()) }
        let file = try TorchCheckpointFile(path: path)  // the pickle is intact: opening works
        // A slice that does not contain the changed byte is refused too: the checksum covers the whole entry.
        let error = Support.error { _ = try file.float16(key, region: [40..<48, 0..<32]) }
        guard case .checksumMismatch(let errorPath, _, let tensor, _, _) = error else {
            Issue.record("expected a checksum mismatch, got \(String(describing: error))")
            return
        }
        #expect(errorPath == path && tensor == key)
        #expect(error!.description.contains("damaged"), "\(error!.description)")
        // Tensors of other storages still read.
        _ = try file.float16("transformer.layers.0.attention.dense.weight")
    }

    @Test func flippedBitInThePickleIsFoundAtOpen() throws {
        let path = try Self.flippedBit(in: { "\($0.prefix)/data.pkl" }, at: 100)
        defer { Support.cleanUp(URL(fileURLWithPath: path).deletingLastPathComponent().deletingLastPathComponent()) }
        let error = Support.error { _ = try TorchCheckpointFile(path: path) }
        guard case .checksumMismatch(let errorPath, let entry, nil, _, _) = error else {
            Issue.record("expected a checksum mismatch, got \(String(describing: error))")
            return
        }
        #expect(errorPath == path && entry.hasSuffix("/data.pkl"))
    }

    /// A local header naming another entry than the central directory says lies at its offset.
    @Test func localHeaderOfAnotherNameIsRefused() throws {
        let copy = try Self.damagedCopy { copy in
            let path = Support.shardPath(copy, 0)
            let entry = try #require(try ZipArchive(path: path).entries.last)
            var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            bytes[entry.localHeaderOffset + 30 + entry.name.utf8.count - 1] ^= 0x01
            try bytes.write(to: URL(fileURLWithPath: path))
        }
        defer { Support.cleanUp(copy.deletingLastPathComponent()) }
        let error = Support.error { _ = try ZipArchive(path: Support.shardPath(copy, 0)) }
        let text = try #require(error?.description)
        #expect(text.contains("local header") && text.contains(Support.shardPath(copy, 0)), "\(text)")
    }

    /// Every shape of the two shards agrees, so only the archive folder (named by torch after the saved file)
    /// tells that the files were swapped.
    @Test func swappedShardFilesAreRefused() throws {
        let copy = try Self.damagedCopy { copy in
            let (first, second) = (Support.shardPath(copy, 0), Support.shardPath(copy, 1))
            try FileManager.default.moveItem(atPath: first, toPath: first + ".tmp")
            try FileManager.default.moveItem(atPath: second, toPath: first)
            try FileManager.default.moveItem(atPath: first + ".tmp", toPath: second)
        }
        defer { Support.cleanUp(copy.deletingLastPathComponent()) }
        let error = Support.error { _ = try ShardedCheckpoint(url: copy) }
        #expect(
            error == .misplacedShard(
                path: Support.shardPath(copy, 0), savedAs: "mp_rank_01_model_states",
                expected: "mp_rank_00_model_states"))
    }

    @Test func pythonMadeOsSystemPickleIsRefused() throws {
        let folder = try Support.temporaryFolder()
        defer { Support.cleanUp(folder) }
        let url = folder.appendingPathComponent("evil.pt")
        let marker = folder.appendingPathComponent("pwned")
        try Support.python(["evil", url.path, marker.path])
        let error = Support.error { _ = try TorchCheckpointFile(path: url.path) }
        let text = try #require(error?.description)
        // CPython pickles os.system as posix.system on Linux.
        #expect(text.contains("refusing to load \(url.path)") && text.contains("posix.system"), "\(text)")
        #expect(!FileManager.default.fileExists(atPath: marker.path))
    }

    @Test(arguments: [("os", "system"), ("builtins", "eval"), ("subprocess", "Popen"), ("torch", "load")])
    func forbiddenGlobals(module: String, name: String) throws {
        let folder = try Support.temporaryFolder()
        defer { Support.cleanUp(folder) }
        let url = folder.appendingPathComponent("evil.pt")
        try CustomCheckpoint.write([], to: url, extraGlobal: (module, name))
        let error = Support.error { _ = try TorchCheckpointFile(path: url.path) }
        #expect(error == .forbiddenGlobal(path: url.path, global: "\(module).\(name)"))
        #expect(error?.description.contains("only torch tensor and dict constructors are allowed") == true)
    }

    @Test func compressedEntryIsRefused() throws {
        let folder = try Support.temporaryFolder()
        defer { Support.cleanUp(folder) }
        let url = folder.appendingPathComponent("deflated.pt")
        try Support.python(["deflate", Support.shardPath(Support.mp1, 0), url.path])
        let error = Support.error { _ = try TorchCheckpointFile(path: url.path) }
        let text = try #require(error?.description)
        #expect(text.contains(url.path) && text.contains("compressed"), "\(text)")
    }

    @Test func missingKey() throws {
        let sharded = try ShardedCheckpoint(url: Support.mp2)
        let error = Support.error { _ = try sharded.tensor("transformer.nope", globalShape: [32], layout: .replicated) }
        #expect(error == .missingKey(path: Support.shardPath(Support.mp2, 0), key: "transformer.nope"))
        #expect(error?.description.contains("transformer.nope") == true)
    }

    @Test func wrongGlobalShape() throws {
        let sharded = try ShardedCheckpoint(url: Support.mp2)
        let error = Support.error {
            _ = try sharded.tensor("transformer.word_embeddings.weight", globalShape: [150528, 64], layout: .rows)
        }
        #expect(
            error
                == .shapeMismatch(
                    path: Support.shardPath(Support.mp2, 0), key: "transformer.word_embeddings.weight",
                    expected: [75264, 64], found: [75264, 32]))
    }

    @Test func wrongShapedShard() throws {
        let folder = try Support.temporaryFolder()
        defer { Support.cleanUp(folder) }
        let good = HalfTensor(shape: [4, 2], values: [1, 2, 3, 4, 5, 6, 7, 8])
        let bad = HalfTensor(shape: [2, 2], values: [1, 2, 3, 4])
        try TorchCheckpointWriter.writeCheckpointDirectory(
            shards: [[("w", good)], [("w", bad)]], to: folder, iteration: 7)
        let sharded = try ShardedCheckpoint(url: folder)
        let error = Support.error { _ = try sharded.tensor("w", globalShape: [8, 2], layout: .rows) }
        let shard1 = folder.appendingPathComponent("7/mp_rank_01_model_states.pt").path
        #expect(error == .shapeMismatch(path: shard1, key: "w", expected: [4, 2], found: [2, 2]))
        #expect(error?.description.contains(shard1) == true)
        // A key that only shard 0 has.
        try TorchCheckpointWriter.writeCheckpointDirectory(
            shards: [[("w", good), ("v", bad)], [("w", good)]], to: folder, iteration: 7)
        let again = try ShardedCheckpoint(url: folder)
        let missing = Support.error { _ = try again.tensor("v", globalShape: [4, 2], layout: .rows) }
        #expect(missing == .missingKey(path: shard1, key: "v"))
    }

    @Test func missingLatest() throws {
        let copy = try Self.damagedCopy { try FileManager.default.removeItem(at: $0.appendingPathComponent("latest")) }
        defer { Support.cleanUp(copy.deletingLastPathComponent()) }
        let error = Support.error { _ = try CheckpointDirectory(url: copy) }
        #expect(error == .missingLatest(path: copy.appendingPathComponent("latest").path))
    }

    @Test func unreadableLatest() throws {
        let copy = try Self.damagedCopy { try Data("step-one\n".utf8).write(to: $0.appendingPathComponent("latest")) }
        defer { Support.cleanUp(copy.deletingLastPathComponent()) }
        let error = Support.error { _ = try CheckpointDirectory(url: copy) }
        #expect(error == .invalidLatest(path: copy.appendingPathComponent("latest").path, contents: "step-one"))
    }

    @Test func missingIterationFolder() throws {
        let copy = try Self.damagedCopy { try Data(" 49301\n".utf8).write(to: $0.appendingPathComponent("latest")) }
        defer { Support.cleanUp(copy.deletingLastPathComponent()) }
        let error = Support.error { _ = try CheckpointDirectory(url: copy) }
        #expect(error == .missingIteration(path: copy.appendingPathComponent("49301").path))
    }

    @Test func missingShardFile() throws {
        let copy = try Self.damagedCopy { root in
            // 00 and 02 present, 01 missing.
            try FileManager.default.moveItem(
                atPath: Support.shardPath(root, 1), toPath: Support.shardPath(root, 2))
        }
        defer { Support.cleanUp(copy.deletingLastPathComponent()) }
        let error = Support.error { _ = try CheckpointDirectory(url: copy) }
        #expect(error == .missingShard(path: Support.shardPath(copy, 1)))
        #expect(error?.description.contains("mp_rank_01_model_states.pt") == true)
    }

    @Test func noShardFiles() throws {
        let copy = try Self.damagedCopy { root in
            for rank in 0..<2 { try FileManager.default.removeItem(atPath: Support.shardPath(root, rank)) }
        }
        defer { Support.cleanUp(copy.deletingLastPathComponent()) }
        let error = Support.error { _ = try CheckpointDirectory(url: copy) }
        #expect(error == .noShards(path: copy.appendingPathComponent("49300").path))
    }

    @Test func malformedPickleOperands() throws {
        // Each is the pickle stream alone; the reader must report, not crash.
        let streams: [[UInt8]] = [
            [0x80, 0x02, 0x7D],  // no STOP
            [0x80, 0x02, 0x58, 0xFF, 0xFF, 0xFF, 0x7F],  // BINUNICODE longer than the stream
            [0x80, 0x02, 0x73, 0x2E],  // SETITEM on an empty stack
            [0x80, 0x02, 0x68, 0x05, 0x2E],  // BINGET of an unset memo entry
            [0x80, 0x02, 0x49, 0x2E],  // protocol 0 INT is not accepted
        ]
        for stream in streams {
            let error = stream.withUnsafeBytes { bytes in
                Support.error {
                    var machine = Unpickler(bytes: bytes, path: "x.pt")
                    _ = try machine.load()
                }
            }
            guard case .malformedPickle(let path, _, _) = error else {
                Issue.record("expected malformedPickle for \(stream), got \(String(describing: error))")
                continue
            }
            #expect(path == "x.pt")
        }
    }
}

/// Pickles that nest containers 100,000 deep (lists, tuples, dicts built through OrderedDict, and a chain hidden
/// behind the memo): reading them must end in an answer or a clean error, never in a stack overflow.
@Suite struct DeepPickleTests {
    static let depth = 100_000

    static func open(_ body: (inout PickleWriter) -> Void) throws -> Result<TorchCheckpointFile, CheckpointError> {
        let folder = try Support.temporaryFolder()
        defer { Support.cleanUp(folder) }
        let url = folder.appendingPathComponent("deep.pt")
        var pickle = PickleWriter()
        pickle.opcode(0x80, 2)
        body(&pickle)
        pickle.opcode(0x2E)
        var zip = try ZipWriter(url: url, forceZip64: false)
        try zip.add("archive/data.pkl", Data(pickle.bytes))
        try zip.add("archive/version", Data("3\n".utf8))
        try zip.finish()
        return Result { () throws(CheckpointError) in try TorchCheckpointFile(path: url.path) }
    }

    @Test func nestedListsAreAnErrorNotACrash() throws {
        let result = try Self.open { pickle in
            for _ in 0..<Self.depth { pickle.opcode(0x5D) }  // EMPTY_LIST
            for _ in 1..<Self.depth { pickle.opcode(0x61) }  // APPEND
        }
        guard case .failure(.notAStateDict) = result else {
            Issue.record("expected 'not a state dict', got \(result)")
            return
        }
    }

    @Test func nestedTuplesInsideAStateDictAreSkipped() throws {
        let result = try Self.open { pickle in
            pickle.opcode(0x7D)  // EMPTY_DICT
            pickle.string("deep")
            pickle.opcode(0x29)  // EMPTY_TUPLE
            for _ in 0..<Self.depth { pickle.opcode(0x85) }  // TUPLE1
            pickle.opcode(0x73)  // SETITEM
        }
        #expect(try result.get().names.isEmpty)
    }

    /// Each level is appended to its parent before it receives its own child (fetched back from the memo), so
    /// no depth is visible when a container is filled; only a flat teardown survives it.
    @Test func chainsBuiltThroughTheMemoAreSkipped() throws {
        let lists = try Self.open { pickle in
            pickle.opcode(0x7D)  // EMPTY_DICT: the state dict
            pickle.string("deep")
            pickle.opcode(0x5D, 0x71, 0, 0x73)  // EMPTY_LIST, BINPUT 0, SETITEM
            for _ in 0..<Self.depth {
                pickle.opcode(0x68, 0)  // BINGET 0: the innermost list so far
                pickle.opcode(0x5D, 0x71, 0)  // EMPTY_LIST, BINPUT 0: the next one
                pickle.opcode(0x61, 0x30)  // APPEND it to the previous, POP the previous
            }
        }
        #expect(try lists.get().names.isEmpty)
        let dicts = try Self.open { pickle in
            pickle.opcode(0x7D, 0x71, 0)  // the state dict, BINPUT 0
            for _ in 0..<Self.depth {
                pickle.opcode(0x68, 0)  // BINGET 0: the innermost dict so far
                pickle.string("next")
                pickle.global("collections", "OrderedDict")
                pickle.opcode(0x29, 0x52, 0x71, 0)  // EMPTY_TUPLE, REDUCE: a new dict; BINPUT 0
                pickle.opcode(0x73, 0x30)  // SETITEM into the previous, POP it
            }
        }
        #expect(try dicts.get().names.isEmpty)
    }
}

/// ZIP64 end records with sizes, offsets and counts near 2^63 or far beyond the file: clean errors, no overflow
/// trap and no reservation for entries that cannot exist.
@Suite struct HostileZip64Tests {
    static func patched(_ field: (_ locator: Int, _ zip64End: Int) -> Int, _ value: UInt64) throws -> CheckpointError? {
        let folder = try Support.temporaryFolder()
        defer { Support.cleanUp(folder) }
        var data = try Data(contentsOf: URL(fileURLWithPath: Support.shardPath(Support.mp1, 0)))
        let locator = data.count - 22 - 20
        let zip64End = Int(
            UInt64(littleEndian: data[locator + 8..<locator + 16].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }))
        let at = field(locator, zip64End)
        withUnsafeBytes(of: value.littleEndian) { data.replaceSubrange(at..<at + 8, with: $0) }
        let url = folder.appendingPathComponent("hostile.pt")
        try data.write(to: url)
        return Support.error { _ = try TorchCheckpointFile(path: url.path) }
    }

    @Test(arguments: [UInt64(1) << 31, 1 << 62, UInt64(Int64.max), UInt64.max])
    func hugeEntryCounts(count: UInt64) throws {
        let error = try #require(try Self.patched({ $1 + 32 }, count))
        #expect(error.description.contains("ZIP64 entry count") || error.description.contains("entries"), "\(error)")
    }

    @Test(arguments: [UInt64(Int64.max), UInt64(Int64.max) - 4, 1 << 62])
    func hugeDirectorySizesAndOffsets(value: UInt64) throws {
        #expect(try Self.patched({ $1 + 40 }, value) != nil)
        #expect(try Self.patched({ $1 + 48 }, value) != nil)
        #expect(try Self.patched({ locator, _ in locator + 8 }, value) != nil)
    }
}

import Checkpoint
import Configuration
import Foundation
import GLM
import ModelLoading
import Partitioning
import Tensors
import TestSupport
import Testing
import Tokenization

/// The official weight-only quantization (spec section 7): the quantizer against an independent NumPy (and,
/// where installed, PyTorch) implementation, official quantized checkpoints at any tensor-parallel degree, and
/// the quality of int8/int4 against fp16.
@Suite struct QuantizationTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let referenceScript = packageRoot.appendingPathComponent("Tests/Reference/quantize_reference.py").path

    static func temporaryDirectory(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "glmcluster-quantization-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    // MARK: - The quantizer

    /// Rows that exercise the scheme: Gaussian rows of several magnitudes, rows with one outlier, a row of
    /// exact ties (scale 1), an all-zero row and a row so small its scale underflows fp16.
    static func sampleMatrix(rows: Int, columns: Int, seed: UInt64) -> [Float16] {
        var random = SeededRandomSource(seed: seed)
        var values = [Float16](repeating: 0, count: rows * columns)
        for r in 0..<rows {
            let magnitude = Float([0.02, 0.1, 1, 3e-3, 40][r % 5])
            for c in 0..<columns { values[r * columns + c] = Float16(random.nextGaussian() * magnitude) }
            if r % 7 == 3 { values[r * columns + (r * 13) % columns] = Float16(magnitude * 25) }
        }
        // Row 1: scale exactly 1 for both bit widths' max (127 / 7 are set), every other entry an exact .5 tie.
        for c in 0..<columns { values[columns + c] = Float16(Float(c % 15) - 7 + 0.5) }
        values[columns] = 127
        values[2 * columns - 1] = -127
        for c in 0..<columns { values[2 * columns + c] = 0 }  // row 2: all zero
        for c in 0..<columns { values[4 * columns + c] = Float16(Float(c % 3) * 1e-7) }  // row 4: scale underflows
        return values
    }

    static func runReference(
        _ values: [Float16], rows: Int, columns: Int, bits: Int
    ) throws -> (scales: [Float16], levels: [Int8], packed: [UInt8], torch: Bool, fp32Differences: Int) {
        let scratch = try temporaryDirectory("reference")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let input = scratch.appendingPathComponent("w.f16")
        try values.withUnsafeBytes { Data($0) }.write(to: input)
        let prefix = scratch.appendingPathComponent("out").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", referenceScript, "\(bits)", "\(rows)", "\(columns)", input.path, prefix]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "quantize_reference.py failed")
        struct Summary: Decodable {
            var torch: Bool
            var fp32_quotient_differences: Int
        }
        let summary = try JSONDecoder().decode(Summary.self, from: output)
        func read<T>(_ suffix: String, _: T.Type) throws -> [T] {
            let data = try Data(contentsOf: URL(fileURLWithPath: prefix + suffix))
            return data.withUnsafeBytes { Array($0.bindMemory(to: T.self)) }
        }
        return (
            try read(".scales", Float16.self), try read(".levels", Int8.self),
            bits == 4 ? try read(".packed", UInt8.self) : [], summary.torch, summary.fp32_quotient_differences
        )
    }

    /// The AVX2 kernel (which `quantizerMatchesIndependentReference` checks against NumPy) against the scalar
    /// definition, bit for bit, on widths with vector tails and rows the kernel must hand back (inf, NaN), plus
    /// quotients that overflow fp16 (a huge weight over a subnormal scale cannot occur, but 65504 over tiny ones).
    @Test(arguments: [QuantizationScheme.int8, .int4])
    func vectorisedQuantizerEqualsTheScalarDefinition(scheme: QuantizationScheme) {
        for columns in [1, 7, 8, 9, 37, 1027] {
            let rows = 12
            var values = Self.sampleMatrix(rows: rows, columns: columns, seed: UInt64(columns))
            values[5 * columns] = .infinity
            values[6 * columns + columns / 2] = -.nan
            values[7 * columns + columns - 1] = -.infinity
            values[8 * columns] = 65504
            for c in 1..<columns { values[8 * columns + c] = Float16(bitPattern: UInt16(c % 1024)) }  // subnormals
            let (fastLevels, fastScales) = values.withUnsafeBufferPointer {
                Quantization.quantizeRows($0, rows: rows, columns: columns, scheme: scheme)
            }
            let (levels, scales) = values.withUnsafeBufferPointer {
                Quantization.quantizeRows($0, rows: rows, columns: columns, scheme: scheme, vectorised: false)
            }
            #expect(fastScales.map(\.bitPattern) == scales.map(\.bitPattern), "\(scheme), \(columns) columns: scales")
            #expect(fastLevels == levels, "\(scheme), \(columns) columns: levels")
        }
    }

    @Test(arguments: [QuantizationScheme.int8, .int4])
    func quantizerMatchesIndependentReference(scheme: QuantizationScheme) throws {
        let (rows, columns) = (40, 1024)
        let values = Self.sampleMatrix(rows: rows, columns: columns, seed: 7)
        let reference = try Self.runReference(values, rows: rows, columns: columns, bits: scheme.bits)
        let matrix = Quantization.quantize(values, rows: rows, columns: columns, scheme: scheme)
        #expect(matrix.format == scheme.format)
        switch matrix.storage {
        case .int8(let levels, let scales, let groups):
            #expect(groups == 1)
            #expect(scales.map(\.bitPattern) == reference.scales.map(\.bitPattern))
            #expect(levels == reference.levels)
        case .int4(let packed, let scales, let groups):
            #expect(groups == 1)
            #expect(scales.map(\.bitPattern) == reference.scales.map(\.bitPattern))
            #expect(packed == reference.packed)
            #expect(Quantization.unpackInt4(packed) == reference.levels)
        default:
            Issue.record("unexpected storage \(matrix.format)")
        }
        // The sample must tell the official fp16 quotient from a plain fp32 one, or it proves little.
        #expect(reference.fp32Differences > 0)
        print(
            "quantizer \(scheme): matches the NumPy reference\(reference.torch ? " and PyTorch" : ""); "
                + "\(reference.fp32Differences) levels would differ without the fp16 quotient")
    }

    @Test func roundsTiesToEvenOnTheFp16Quotient() {
        // Scale 1 (max 127): exact .5 quotients round to even.
        let row: [Float16] = [127, 2.5, 3.5, -2.5, -3.5, 0.5, -0.5, 1.5, 126.5, -126.5]
        let m = Quantization.quantize(row, rows: 1, columns: row.count, scheme: .int8)
        guard case .int8(let levels, let scales, _) = m.storage else { return #expect(Bool(false)) }
        #expect(scales == [1])
        #expect(levels == [127, 2, 4, -2, -4, 0, 0, 2, 126, -126])

        // The quotient is rounded to fp16 first: 10.546875 / fp16(0.1) = 105.4945 in fp32 is fp16 105.5, a tie
        // that rounds to 106; 10.25 / fp16(0.1) = 102.525 is fp16 102.5, which rounds to 102.
        let s = Float16(0.1)
        for (w, official, fp32) in [(Float16(10.546875), Int8(106), Int8(105)), (Float16(10.25), 102, 103)] {
            #expect(Quantization.level(w, scale: s, scheme: .int8) == official)
            #expect(Quantization.level(-w, scale: s, scheme: .int8) == -official)
            // fp32 weights keep the fp32 quotient (PyTorch on an fp32 tensor).
            #expect(Quantization.level(Float(w), scale: s, scheme: .int8) == fp32)
        }
        // Scale: fp16(max / level).
        #expect(Quantization.scale(maxAbs: 1, scheme: .int8) == Float16(Float(1) / 127))
        #expect(Quantization.scale(maxAbs: 1, scheme: .int4) == Float16(Float(1) / 7))
    }

    @Test func packsInt4AsTheOfficialKernel() {
        // Scale 1 (max 7): levels are the values; element 2i goes to the HIGH nibble, two's complement.
        let row: [Float16] = [7, -7, 1, -1, 0, 3, -4, 5]
        let m = Quantization.quantize(row, rows: 1, columns: 8, scheme: .int4)
        guard case .int4(let packed, let scales, let groups) = m.storage else { return #expect(Bool(false)) }
        #expect(scales == [1] && groups == 1)
        #expect(packed == [0x79, 0x1F, 0x03, 0xC5])
        #expect(Quantization.unpackInt4(packed) == [7, -7, 1, -1, 0, 3, -4, 5])
        #expect(m.row(0) == [7, -7, 1, -1, 0, 3, -4, 5])
    }

    @Test func zeroRowsGetZeroLevels() {
        let m = Quantization.quantize([Float16](repeating: 0, count: 8), rows: 2, columns: 4, scheme: .int4)
        #expect(m.row(0) == [0, 0, 0, 0] && m.row(1) == [0, 0, 0, 0])
    }

    // MARK: - Official quantized checkpoints

    static let fixture = Fixture.root.appendingPathComponent("mp1")
    static let configuration = try! ModelConfiguration.load(from: fixture.appendingPathComponent("config.json"))

    /// The fixture converted to MP=`parts` with `scheme` (the official `convert_tp.py --quantization-bit-width`).
    static func quantizedCheckpoint(parts: Int, _ scheme: QuantizationScheme) throws -> (ShardedCheckpoint, URL) {
        let directory = try temporaryDirectory("\(scheme)-mp\(parts)")
        try CheckpointRepartition.convert(
            from: ShardedCheckpoint(url: fixture), specs: WeightSpec.all(for: configuration), parts: parts, quantization: scheme,
            to: directory)
        return (try ShardedCheckpoint(url: directory), directory)
    }

    /// Dequantizes `key` of every source shard by hand (levels times that shard's row scale) and merges the
    /// shards along `dimension`: the expected global matrix.
    static func dequantizedByHand(
        _ checkpoint: ShardedCheckpoint, _ key: String, bits: Int, rows: Int, columns: Int, dimension: Int
    ) throws -> [Float] {
        let shards = checkpoint.shardCount
        var global = [Float](repeating: 0, count: rows * columns)
        for s in 0..<shards {
            let file = try checkpoint.shard(s)
            let stored = try file.int8(key)
            let scales = try file.float16(ShardedCheckpoint.scaleKey(key))
            let levels = bits == 8 ? stored : Quantization.unpackInt4(stored.map { UInt8(bitPattern: $0) })
            let (localRows, localColumns) = dimension == 1 ? (rows, columns / shards) : (rows / shards, columns)
            for r in 0..<localRows {
                for c in 0..<localColumns {
                    let value = Float(levels[r * localColumns + c]) * Float(scales[r])
                    let (gr, gc) = dimension == 1 ? (r, s * localColumns + c) : (s * localRows + r, c)
                    global[gr * columns + gc] = value
                }
            }
        }
        return global
    }

    static func widened(_ m: WeightMatrix) -> [Float] {
        (0..<m.rows).flatMap { m.row($0) }
    }

    @Test(arguments: [QuantizationScheme.int8, .int4])
    func mp2QuantizedCheckpointLoadsAtAnyDegree(scheme: QuantizationScheme) throws {
        let (checkpoint, directory) = try Self.quantizedCheckpoint(parts: 2, scheme)
        defer { try? FileManager.default.removeItem(at: directory) }
        let c = Self.configuration
        let (h, f) = (c.hiddenSize, c.innerHiddenSize)
        // Stored as the official tool stores it.
        let file = try checkpoint.shard(0)
        let dense = try file.tensor(named: "transformer.layers.0.attention.dense.weight")
        #expect(dense.dtype == .int8 && dense.shape == [h, h / 2 * scheme.bits / 8])
        #expect(try file.tensor(named: "transformer.layers.0.attention.dense.weight_scale").shape == [h])
        #expect(try file.tensor(named: "transformer.layers.0.attention.dense.weight_scale").dtype == .float16)
        #expect(try file.tensor(named: "transformer.word_embeddings.weight").dtype == .float16)
        #expect(!file.contains("transformer.layers.0.attention.dense.bias_scale"))

        let expectedDense = try Self.dequantizedByHand(
            checkpoint, "transformer.layers.0.attention.dense.weight", bits: scheme.bits, rows: h, columns: h,
            dimension: 1)
        let expected4HToH = try Self.dequantizedByHand(
            checkpoint, "transformer.layers.1.mlp.dense_4h_to_h.weight", bits: scheme.bits, rows: h, columns: f,
            dimension: 1)
        let expectedQKV = try Self.dequantizedByHand(
            checkpoint, "transformer.layers.1.attention.query_key_value.weight", bits: scheme.bits, rows: 3 * h,
            columns: h, dimension: 0)
        for count in [1, 2, 4] {
            for index in 0..<count {
                let weights = try GLMWeights.load(
                    from: checkpoint, configuration: c, partition: Partition(index: index, count: count))
                let denseMatrix = weights.layers[0].attentionDense
                #expect(denseMatrix.format == scheme.format)
                let groups: Int
                switch denseMatrix.storage {
                case .int8(_, _, let g), .int4(_, _, let g): groups = g
                default: groups = 0
                }
                #expect(groups == (count == 1 ? 2 : 1), "TP=\(count): groups \(groups)")
                func slice(_ global: [Float], rows: Int, columns: Int) -> [Float] {
                    let width = columns / count
                    var result: [Float] = []
                    for r in 0..<rows {
                        let start = r * columns + index * width
                        result += global[start..<(start + width)]
                    }
                    return result
                }
                #expect(
                    Self.widened(denseMatrix) == slice(expectedDense, rows: h, columns: h), "TP=\(count) rank \(index)")
                #expect(
                    Self.widened(weights.layers[1].dense4HToH) == slice(expected4HToH, rows: h, columns: f),
                    "TP=\(count) rank \(index)")
                let qkvRows = 3 * h / count
                #expect(
                    Self.widened(weights.layers[1].queryKeyValue)
                        == Array(expectedQKV[(index * qkvRows * h)..<((index + 1) * qkvRows * h)]))
                #expect(weights.wordEmbeddings.format == .float16)
            }
        }
    }

    @Test(arguments: [QuantizationScheme.int8, .int4])
    func loadTimeQuantizationEqualsConvertedCheckpoint(scheme: QuantizationScheme) throws {
        let c = Self.configuration
        let fp16 = try ShardedCheckpoint(url: Self.fixture)
        let (converted, directory) = try Self.quantizedCheckpoint(parts: 2, scheme)
        defer { try? FileManager.default.removeItem(at: directory) }
        for index in 0..<2 {
            let partition = Partition(index: index, count: 2)
            let atLoad = try GLMWeights.load(from: fp16, configuration: c, partition: partition, quantization: scheme)
            let fromFile = try GLMWeights.load(from: converted, configuration: c, partition: partition)
            for (a, b) in zip(atLoad.layers, fromFile.layers) {
                for (x, y) in [
                    (a.queryKeyValue, b.queryKeyValue), (a.attentionDense, b.attentionDense),
                    (a.denseHTo4H, b.denseHTo4H), (a.dense4HToH, b.dense4HToH),
                ] {
                    #expect(x.format == scheme.format && y.format == scheme.format)
                    #expect(x.byteCount == y.byteCount)
                    #expect(Self.widened(x) == Self.widened(y))
                }
            }
            // The same weights after loading: fp16 on the wire, quantized per rank (coordinator mode).
            let later = try GLMWeights.load(from: fp16, configuration: c, partition: partition).quantized(scheme)
            #expect(Self.widened(later.layers[1].dense4HToH) == Self.widened(atLoad.layers[1].dense4HToH))
        }
        // A quantized checkpoint cannot be re-quantized to another width, nor converted again.
        let other: QuantizationScheme = scheme == .int8 ? .int4 : .int8
        #expect(throws: QuantizationError.self) {
            try GLMWeights.load(from: converted, configuration: c, quantization: other)
        }
        let again = try Self.temporaryDirectory("again")
        defer { try? FileManager.default.removeItem(at: again) }
        #expect(throws: QuantizationError.self) {
            try CheckpointRepartition.convert(from: converted, specs: WeightSpec.all(for: c), parts: 1, to: again)
        }
    }

    /// Writes a one-key MP=`shards` checkpoint of hand-made tensors.
    static func handmade(_ shards: [[(String, CheckpointTensor)]]) throws -> (ShardedCheckpoint, URL) {
        let directory = try temporaryDirectory("handmade")
        try TorchCheckpointWriter.writeCheckpointDirectory(shards: shards, to: directory, iteration: 1)
        return (try ShardedCheckpoint(url: directory), directory)
    }

    @Test func inconsistentQuantizedCheckpointsAreClearErrors() throws {
        let weight = CheckpointTensor.int8(Int8Tensor(shape: [4, 6], values: Array(repeating: 1, count: 24)))
        let scale = CheckpointTensor.float16(HalfTensor(shape: [4], values: [1, 1, 1, 1]))

        // int8 weight without its scale.
        let (noScale, a) = try Self.handmade([[("w", weight)]])
        defer { try? FileManager.default.removeItem(at: a) }
        #expect {
            _ = try noScale.isQuantized("w")
        } throws: { error in
            let text = String(describing: error)
            return text.contains("'w'") && text.contains("w_scale") && text.contains("mp_rank_00_model_states.pt")
        }

        // A scale of the wrong shape in shard 1 of 2 (row-parallel read).
        let badScale = CheckpointTensor.float16(HalfTensor(shape: [3], values: [1, 1, 1]))
        let (wrong, b) = try Self.handmade([
            [("w", weight), ("w_scale", scale)], [("w", weight), ("w_scale", badScale)],
        ])
        defer { try? FileManager.default.removeItem(at: b) }
        #expect {
            _ = try wrong.quantizedTensor("w", globalShape: [4, 12], layout: .columns, partition: .whole)
        } throws: { error in
            let text = String(describing: error)
            return text.contains("w_scale") && text.contains("mp_rank_01_model_states.pt") && text.contains("[3]")
        }

        // A missing scale in shard 1 of a column-parallel read.
        let (missing, d) = try Self.handmade([[("w", weight), ("w_scale", scale)], [("w", weight)]])
        defer { try? FileManager.default.removeItem(at: d) }
        #expect {
            _ = try missing.quantizedTensor("w", globalShape: [8, 6], layout: .rows, partition: .whole)
        } throws: { error in
            String(describing: error).contains("w_scale") && String(describing: error).contains("mp_rank_01")
        }

        // Packed int4 [4, 6] bytes = 12 columns per shard, 24 in all: 8 ranks would get 3 columns, which start
        // inside a byte.
        let (int4, e) = try Self.handmade([[("w", weight), ("w_scale", scale)], [("w", weight), ("w_scale", scale)]])
        defer { try? FileManager.default.removeItem(at: e) }
        let fine = try int4.quantizedTensor("w", globalShape: [4, 24], layout: .columns, partition: .whole)
        #expect(fine.bits == 4 && fine.groups == 2 && fine.values.count == 48)
        let four = try int4.quantizedTensor(
            "w", globalShape: [4, 24], layout: .columns, partition: Partition(index: 1, count: 4))
        #expect(four.groups == 1 && four.values.count == 12)
        #expect {
            _ = try int4.quantizedTensor(
                "w", globalShape: [4, 24], layout: .columns, partition: Partition(index: 1, count: 8))
        } throws: { error in
            String(describing: error).contains("inside a byte") && String(describing: error).contains("'w'")
        }
        // Neither int8 nor int4 shape.
        #expect(throws: CheckpointError.self) {
            _ = try int4.quantizedTensor("w", globalShape: [4, 20], layout: .columns, partition: .whole)
        }
    }

    @Test func unevenMergeKeepsOneScalePerSourceBlock() throws {
        // MP=3 into 2 ranks: 6 columns per source shard, 9 per rank: groups of gcd(6, 9) = 3 columns.
        var shards: [[(String, CheckpointTensor)]] = []
        for s in 0..<3 {
            let levels = (0..<12).map { Int8($0 % 6 + 1) }
            shards.append([
                ("w", .int8(Int8Tensor(shape: [2, 6], values: levels))),
                ("w_scale", .float16(HalfTensor(shape: [2], values: [Float16(s + 1), Float16(10 * (s + 1))]))),
            ])
        }
        let (checkpoint, directory) = try Self.handmade(shards)
        defer { try? FileManager.default.removeItem(at: directory) }
        let part = try checkpoint.quantizedTensor(
            "w", globalShape: [2, 18], layout: .columns, partition: Partition(index: 1, count: 2))
        #expect(part.groups == 3 && part.bits == 8)
        let m = WeightMatrix(part)
        // Rank 1 holds global columns 9..<18: source shard 1's columns 3..<6, then shard 2.
        let row0: [Float] = [8, 10, 12, 3, 6, 9, 12, 15, 18]
        let row1: [Float] = [80, 100, 120, 30, 60, 90, 120, 150, 180]
        #expect(m.row(0) == row0)
        #expect(m.row(1) == row1)
    }

    // MARK: - Quality

    /// The fixture's logits at every position of a text, teacher-forced one token at a time after `[gMASK] <sop>`
    /// (so every position but the first reads the KV cache through the decode kernels).
    static func teacherForcedLogits(
        _ weights: GLMWeights, tokenizer: IcetkTokenizer, cacheFormat: KVCache.Format = .fp32
    ) -> [[Float]] {
        let tokens = tokenizer.tokenize(
            "The morning train leaves the old station at seven, and most people read the news.")
        let context = [150001, 150004]  // [gMASK] <sop>
        let model = GLMModel(configuration: configuration, weights: weights)
        model.cacheFormat = cacheFormat
        let layout = SequenceLayout(contextLength: context.count, maskPosition: 0, useGMask: true)
        let cache = model.makeCache(capacity: context.count + tokens.count)
        var all = [model.forward(tokens: context, layout: layout, cache: cache)]
        for token in tokens.dropLast() { all.append(model.forward(tokens: [token], layout: layout, cache: cache)) }
        return all
    }

    /// Top-1 agreement and mean |delta logit| over the text ids (the fixture's other embedding rows are zero, so
    /// their logits are 0 in both).
    static func agreement(_ reference: [[Float]], _ other: [[Float]], textIds: Range<Int>) -> (agree: Int, mean: Float) {
        func argmax(_ v: [Float]) -> Int { v.indices.max { v[$0] < v[$1] }! }
        var agree = 0
        var total: Double = 0
        var count = 0
        for (a, b) in zip(reference, other) {
            if argmax(a) == argmax(b) { agree += 1 }
            for id in textIds {
                total += Double(abs(a[id] - b[id]))
                count += 1
            }
        }
        return (agree, Float(total / Double(count)))
    }

    /// int8 and int4 against fp16 on the fixture, teacher-forced over a text: top-1 agreement and mean
    /// |delta logit| over the text ids at every position. Reported (docs/BENCHMARKS.md); asserted only for sanity.
    @Test func quantizedLogitsStayCloseToFp16() throws {
        let c = Self.configuration
        let (_, tokenizer) = try Fixture.load("mp1")
        let checkpoint = try ShardedCheckpoint(url: Self.fixture)
        let run = { (weights: GLMWeights) in Self.teacherForcedLogits(weights, tokenizer: tokenizer) }
        let reference = run(try GLMWeights.load(from: checkpoint, configuration: c))
        var summary: [String] = []
        var meanErrors: [Float] = []
        for scheme in [QuantizationScheme.int8, .int4] {
            let quantized = run(try GLMWeights.load(from: checkpoint, configuration: c, quantization: scheme))
            let (agree, mean) = Self.agreement(reference, quantized, textIds: tokenizer.textIds)
            meanErrors.append(mean)
            summary.append(
                "\(scheme): top-1 agreement \(agree)/\(reference.count) (\(100 * agree / reference.count)%), "
                    + "mean |delta logit| \(mean)")
            #expect(mean.isFinite && mean > 0)
            if scheme == .int8 {
                #expect(agree * 2 >= reference.count, "\(scheme): top-1 agreement \(agree)/\(reference.count)")
            }
        }
        let spread = reference.flatMap { $0 }.reduce(Float(0)) { max($0, abs($1)) }
        #expect(meanErrors[0] < meanErrors[1])
        print(
            "quantization quality on the fixture (\(reference.count) positions, max |logit| \(spread)): "
                + summary.joined(separator: "; "))
    }

    /// The fp16 KV cache (`--kv-cache fp16`) against the fp32 one, same fp16 weights, same teacher-forced text:
    /// reported in docs/BENCHMARKS.md beside the quantization figures; asserted: the top-1 token agrees at nearly
    /// every position and the logits move far less than int8 moves them.
    @Test func halfCacheLogitsStayCloseToTheFp32Cache() throws {
        let (_, tokenizer) = try Fixture.load("mp1")
        let weights = try GLMWeights.load(from: ShardedCheckpoint(url: Self.fixture), configuration: Self.configuration)
        let reference = Self.teacherForcedLogits(weights, tokenizer: tokenizer, cacheFormat: .fp32)
        let half = Self.teacherForcedLogits(weights, tokenizer: tokenizer, cacheFormat: .fp16)
        let (agree, mean) = Self.agreement(reference, half, textIds: tokenizer.textIds)
        let largest = zip(reference, half).map { maxAbsDifference($0, $1) }.max()!
        print(
            "fp16 KV cache on the fixture: top-1 agreement \(agree)/\(reference.count), mean |delta logit| \(mean), "
                + "max \(largest)")
        #expect(agree >= reference.count - 1, "top-1 agreement \(agree)/\(reference.count)")
        #expect(mean > 0 && mean < 0.02, "mean |delta logit| \(mean)")
    }
}

import Testing

@testable import GLM

/// The KV cache's storage: rows come back as stored (exactly in fp32, rounded to fp16 by Swift's own `Float16`
/// in fp16), copies between caches of different capacities keep every head's rows, and fp16 takes half the bytes.
@Suite struct KVCacheTests {
    static let (layers, heads, d) = (2, 3, 8)

    /// Distinct values per (layer, head, token, element), some not representable in fp16.
    static func row(_ layer: Int, _ head: Int, _ token: Int, value: Bool) -> [Float] {
        (0..<d).map { Float(layer * 1000 + head * 100 + token * 10 + $0) + (value ? 0.3 : 0.1) + 1e-4 }
    }

    static func fill(_ cache: KVCache, tokens: Int) {
        for layer in 0..<layers {
            for head in 0..<heads {
                for token in 0..<tokens {
                    cache.store(
                        layer: layer, head: head, token: token, key: row(layer, head, token, value: false),
                        value: row(layer, head, token, value: true))
                }
            }
        }
        cache.count = tokens
    }

    @Test(arguments: KVCache.Format.allCases)
    func rowsSurviveStoringAndCopyingAcrossCapacities(format: KVCache.Format) {
        let source = KVCache(
            layers: Self.layers, localHeads: Self.heads, headDimension: Self.d, capacity: 5, format: format)
        Self.fill(source, tokens: 4)
        let target = KVCache(
            layers: Self.layers, localHeads: Self.heads, headDimension: Self.d, capacity: 9, format: format)
        target.copyTokens(of: source)
        #expect(target.count == 4)
        let expected: (Float) -> Float = { format == .fp32 ? $0 : Float(Float16($0)) }
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * 4 * Self.d)
        defer { scratch.deallocate() }
        for cache in [source, target] {
            for layer in 0..<Self.layers {
                for head in 0..<Self.heads {
                    let (keys, values) = cache.matrices(layer: layer, head: head, tokens: 4, scratch: scratch)
                    for token in 0..<4 {
                        for e in 0..<Self.d {
                            #expect(keys[token * Self.d + e] == expected(Self.row(layer, head, token, value: false)[e]))
                            #expect(values[token * Self.d + e] == expected(Self.row(layer, head, token, value: true)[e]))
                        }
                    }
                }
            }
        }
    }

    @Test func halfCacheTakesHalfTheBytes() {
        let fp32 = KVCache(layers: 2, localHeads: 3, headDimension: 8, capacity: 7, format: .fp32)
        let fp16 = KVCache(layers: 2, localHeads: 3, headDimension: 8, capacity: 7, format: .fp16)
        #expect(fp32.byteCount == 2 * 2 * 3 * 7 * 8 * 4)
        #expect(fp16.byteCount * 2 == fp32.byteCount)
    }
}

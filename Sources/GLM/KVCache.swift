import Tensors

/// Post-rotary keys and values of every processed token, per layer and local head, for incremental decoding.
///
/// Layout: for each layer, keys and values are `[localHeads][capacity][headDimension]` elements of `format`, so
/// one head's keys form a contiguous `[tokens, d]` matrix (for sgemm, widened first when stored as fp16).
public final class KVCache {
    /// How cached keys and values are stored. Decoding reads the whole cache once per token (at 512 tokens of the
    /// ~1B model 134 MB in fp32, beside 1 GB of int4 weights), so fp16 halves that traffic and the cache memory.
    public enum Format: String, Sendable, CaseIterable {
        /// fp32: exactly the values the layer computed.
        case fp32
        /// IEEE fp16, rounded to nearest even (relative error at most 2^-11), read back widened to fp32 so the
        /// attention arithmetic stays fp32. Not the official math (the spec caches fp32 activations): logits of the
        /// official tiny fixture move by up to 1e-3 of their largest magnitude; an opt-in, like `--precision fast`.
        case fp16

        /// Bytes per cached element.
        public var elementSize: Int { self == .fp32 ? 4 : 2 }
    }

    public let capacity: Int
    public let localHeads: Int
    public let headDimension: Int
    public let format: Format
    /// Tokens cached so far.
    public internal(set) var count = 0
    private var keys: [UnsafeMutableRawPointer]
    private var values: [UnsafeMutableRawPointer]

    public init(layers: Int, localHeads: Int, headDimension: Int, capacity: Int, format: Format = .fp32) {
        self.capacity = capacity
        self.localHeads = localHeads
        self.headDimension = headDimension
        self.format = format
        let elements = localHeads * capacity * headDimension
        // Bound to the element type once, so the typed views below are valid.
        func allocate() -> UnsafeMutableRawPointer {
            let raw = UnsafeMutableRawPointer.allocate(byteCount: elements * format.elementSize, alignment: 64)
            switch format {
            case .fp32: raw.bindMemory(to: Float.self, capacity: elements)
            case .fp16: raw.bindMemory(to: UInt16.self, capacity: elements)
            }
            return raw
        }
        keys = (0..<layers).map { _ in allocate() }
        values = (0..<layers).map { _ in allocate() }
    }

    deinit {
        keys.forEach { $0.deallocate() }
        values.forEach { $0.deallocate() }
    }

    /// Forgets cached tokens from `length` on (a new blank reuses the cache from scratch).
    public func truncate(to length: Int) { count = min(count, length) }

    /// Makes this cache hold `source`'s first `source.count` tokens, copying only tokens `from` onwards: the
    /// caller promises tokens before `from` are already equal (beams of one blank share their context, so
    /// reordering beams copies only what they generated). Both caches must have the same shape and format.
    public func copyTokens(of source: KVCache, from first: Int = 0) {
        precondition(
            source.localHeads == localHeads && source.headDimension == headDimension && source.keys.count == keys.count
                && source.format == format && source.count <= capacity, "KV caches of different shapes")
        let tokens = source.count - first
        if tokens > 0 {
            let bytes = tokens * headDimension * format.elementSize
            for layer in keys.indices {
                for head in 0..<localHeads {
                    // Each cache's own capacity places a head's rows (the two may differ).
                    let offset = element(head: head, token: first) * format.elementSize
                    let from = source.element(head: head, token: first) * format.elementSize
                    (keys[layer] + offset).copyMemory(from: source.keys[layer] + from, byteCount: bytes)
                    (values[layer] + offset).copyMemory(from: source.values[layer] + from, byteCount: bytes)
                }
            }
        }
        count = source.count
    }

    /// Bytes a cache of `capacity` tokens takes (keys and values of every layer and local head).
    public static func byteCount(layers: Int, localHeads: Int, headDimension: Int, capacity: Int, format: Format)
        -> Int
    {
        2 * layers * localHeads * capacity * headDimension * format.elementSize
    }

    /// Bytes held by the cache.
    public var byteCount: Int {
        Self.byteCount(
            layers: keys.count, localHeads: localHeads, headDimension: headDimension, capacity: capacity,
            format: format)
    }

    @inline(__always)
    private func element(head: Int, token: Int) -> Int { (head * capacity + token) * headDimension }

    /// Token `token`'s key and value rows of one layer and head, typed as the storage (`Float` or `UInt16`).
    @inline(__always)
    private func rows<Element>(layer: Int, head: Int, token: Int, as _: Element.Type)
        -> (keys: UnsafeMutablePointer<Element>, values: UnsafeMutablePointer<Element>)
    {
        let offset = element(head: head, token: token)
        return (
            keys[layer].assumingMemoryBound(to: Element.self) + offset,
            values[layer].assumingMemoryBound(to: Element.self) + offset
        )
    }

    /// Stores token `token`'s key and value rows (`headDimension` floats each) of one layer and head.
    func store(layer: Int, head: Int, token: Int, key: UnsafePointer<Float>, value: UnsafePointer<Float>) {
        switch format {
        case .fp32:
            let target = rows(layer: layer, head: head, token: token, as: Float.self)
            target.keys.update(from: key, count: headDimension)
            target.values.update(from: value, count: headDimension)
        case .fp16:
            let target = rows(layer: layer, head: head, token: token, as: UInt16.self)
            VectorKernels.narrowToHalf(key, into: target.keys, count: headDimension)
            VectorKernels.narrowToHalf(value, into: target.values, count: headDimension)
        }
    }

    /// Attention of `rows` query rows of one head against the first `total` cached tokens without BLAS (see
    /// `VectorKernels.attentionHead`), reading the cache in its own format.
    func attendDirectly(
        layer: Int, head: Int, queries: UnsafePointer<Float>, rows n: Int, total: Int, scale: Float, firstQuery: Int,
        bidirectionalPrefix: Int, scores: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>,
        outStride: Int
    ) {
        let d = headDimension
        switch format {
        case .fp32:
            let cached = rows(layer: layer, head: head, token: 0, as: Float.self)
            VectorKernels.attentionHead(
                queries: queries, rows: n, headDimension: d, keys: cached.keys, values: cached.values, total: total,
                scale: scale, firstQuery: firstQuery, bidirectionalPrefix: bidirectionalPrefix, scores: scores,
                into: out, outStride: outStride)
        case .fp16:
            let cached = rows(layer: layer, head: head, token: 0, as: UInt16.self)
            VectorKernels.attentionHead(
                queries: queries, rows: n, headDimension: d, halfKeys: cached.keys, values: cached.values,
                total: total, scale: scale, firstQuery: firstQuery, bidirectionalPrefix: bidirectionalPrefix,
                scores: scores, into: out, outStride: outStride)
        }
    }

    /// One decode step of `heads` query heads (`queries`, d apart) that share key/value head `head`, against the
    /// first `total` cached tokens (`VectorKernels.attentionGroup`): each cached row is read once for all of them.
    func attendGroup(
        layer: Int, head: Int, queries: UnsafePointer<Float>, heads: Int, total: Int, scale: Float,
        scores: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>
    ) {
        let d = headDimension
        let offset = element(head: head, token: 0) * format.elementSize
        VectorKernels.attentionGroup(
            queries: queries, heads: heads, queryStride: d, headDimension: d, keys: keys[layer] + offset,
            values: values[layer] + offset, total: total, scale: scale, half: format == .fp16, scores: scores,
            into: out, outStride: d)
    }

    /// One head's first `tokens` keys and values as fp32 `[tokens, d]` matrices (for sgemm): the cache itself
    /// when it stores fp32, else widened into `scratch` (`2 * tokens * d` floats: keys, then values).
    func matrices(layer: Int, head: Int, tokens: Int, scratch: UnsafeMutablePointer<Float>)
        -> (keys: UnsafePointer<Float>, values: UnsafePointer<Float>)
    {
        switch format {
        case .fp32:
            let cached = rows(layer: layer, head: head, token: 0, as: Float.self)
            return (UnsafePointer(cached.keys), UnsafePointer(cached.values))
        case .fp16:
            let cached = rows(layer: layer, head: head, token: 0, as: UInt16.self)
            let n = tokens * headDimension
            VectorKernels.widenHalf(cached.keys, into: scratch, count: n)
            VectorKernels.widenHalf(cached.values, into: scratch + n, count: n)
            return (UnsafePointer(scratch), UnsafePointer(scratch + n))
        }
    }
}

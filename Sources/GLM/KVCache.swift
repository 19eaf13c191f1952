/// Post-rotary keys and values of every processed token, per layer and local head, for incremental decoding.
///
/// Layout: for each layer, keys and values are `[localHeads][capacity][headDimension]` fp32, so one head's keys
/// form a contiguous `[tokens, d]` matrix for sgemm.
public final class KVCache {
    public let capacity: Int
    public let localHeads: Int
    public let headDimension: Int
    /// Tokens cached so far.
    public internal(set) var count = 0
    var keys: [UnsafeMutablePointer<Float>]
    var values: [UnsafeMutablePointer<Float>]

    public init(layers: Int, localHeads: Int, headDimension: Int, capacity: Int) {
        self.capacity = capacity
        self.localHeads = localHeads
        self.headDimension = headDimension
        let size = localHeads * capacity * headDimension
        keys = (0..<layers).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: size) }
        values = (0..<layers).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: size) }
    }

    deinit {
        keys.forEach { $0.deallocate() }
        values.forEach { $0.deallocate() }
    }

    /// Forgets cached tokens from `length` on (a new blank reuses the cache from scratch).
    public func truncate(to length: Int) { count = min(count, length) }

    /// Makes this cache hold `source`'s first `source.count` tokens, copying only tokens `from` onwards: the
    /// caller promises tokens before `from` are already equal (beams of one blank share their context, so
    /// reordering beams copies only what they generated). Both caches must have the same shape.
    public func copyTokens(of source: KVCache, from first: Int = 0) {
        precondition(
            source.localHeads == localHeads && source.headDimension == headDimension && source.keys.count == keys.count
                && source.count <= capacity, "KV caches of different shapes")
        let tokens = source.count - first
        if tokens > 0 {
            for layer in keys.indices {
                for head in 0..<localHeads {
                    keyRow(layer: layer, head: head, token: first).update(
                        from: source.keyRow(layer: layer, head: head, token: first), count: tokens * headDimension)
                    valueRow(layer: layer, head: head, token: first).update(
                        from: source.valueRow(layer: layer, head: head, token: first), count: tokens * headDimension)
                }
            }
        }
        count = source.count
    }

    /// Bytes a cache of `capacity` tokens takes (fp32 keys and values of every layer and local head).
    public static func byteCount(layers: Int, localHeads: Int, headDimension: Int, capacity: Int) -> Int {
        2 * layers * localHeads * capacity * headDimension * MemoryLayout<Float>.size
    }

    /// Bytes held by the cache.
    public var byteCount: Int { 2 * keys.count * localHeads * capacity * headDimension * MemoryLayout<Float>.size }

    @inline(__always)
    func keyRow(layer: Int, head: Int, token: Int) -> UnsafeMutablePointer<Float> {
        keys[layer] + (head * capacity + token) * headDimension
    }

    @inline(__always)
    func valueRow(layer: Int, head: Int, token: Int) -> UnsafeMutablePointer<Float> {
        values[layer] + (head * capacity + token) * headDimension
    }
}

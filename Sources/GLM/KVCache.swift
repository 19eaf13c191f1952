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

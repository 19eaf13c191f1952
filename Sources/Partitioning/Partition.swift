/// One part of a tensor split `count` ways; `index` is the part (the tensor-parallel rank that will own it).
public struct Partition: Sendable, Equatable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    /// The whole tensor.
    public static let whole = Partition(index: 0, count: 1)

    public var description: String { "partition \(index) of \(count)" }
}

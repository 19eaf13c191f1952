import Coordination
import Foundation
import Generation

/// A fake tensor-parallel group for threads in one process: every collective is an exchange in which each rank
/// deposits its part and, once all have, reads every part. A rank that calls a different collective than the
/// others stops the test process instead of hanging it.
public final class SimulatedWorld: @unchecked Sendable {
    public let size: Int
    private let condition = NSCondition()
    private var pending: [(kind: String, value: Any)?]
    private var published: [Any] = []
    private var arrived = 0
    private var generation = 0

    public init(size: Int) {
        self.size = size
        pending = Array(repeating: nil, count: size)
    }

    public func exchange(rank: Int, kind: String, _ value: Any) -> [Any] {
        condition.lock()
        defer { condition.unlock() }
        pending[rank] = (kind, value)
        arrived += 1
        let generation = self.generation
        if arrived == size {
            let kinds = Set(pending.map { $0!.kind })
            precondition(kinds.count == 1, "ranks called different collectives: \(kinds)")
            published = pending.map { $0!.value }
            pending = Array(repeating: nil, count: size)
            arrived = 0
            self.generation += 1
            condition.broadcast()
        } else {
            while self.generation == generation {
                precondition(condition.wait(until: Date().addingTimeInterval(120)), "a collective timed out")
            }
        }
        return published
    }

    /// Runs `body` on `ranks` threads, one per rank, and returns their results in rank order.
    public static func run<Result: Sendable>(ranks: Int, _ body: @escaping @Sendable (SimulatedRank) -> Result) -> [Result] {
        let world = SimulatedWorld(size: ranks)
        let results = ResultBox<Result>(count: ranks)
        let done = DispatchGroup()
        for rank in 0..<ranks {
            done.enter()
            let thread = Thread {
                results.set(rank, body(SimulatedRank(world: world, rank: rank)))
                done.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        done.wait()
        return results.values
    }
}

public final class ResultBox<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [Value?]

    public init(count: Int) { storage = Array(repeating: nil, count: count) }

    public func set(_ index: Int, _ value: Value) { lock.withLock { storage[index] = value } }

    public var values: [Value] { lock.withLock { storage.map { $0! } } }
}

public struct SimulatedRank: SamplingCollectives {
    public let world: SimulatedWorld
    public let rank: Int

    public var size: Int { world.size }

    public func allreduceMaxLocation(value: Float, index: Int) -> (value: Float, index: Int) {
        let all = world.exchange(rank: rank, kind: "maxloc", (value, index)).map { $0 as! (Float, Int) }
        return all.dropFirst().reduce(all[0]) { best, next in
            next.0 > best.0 || (next.0 == best.0 && next.1 < best.1) ? next : best
        }
    }

    public func gather(_ bytes: [UInt8]) -> [[UInt8]] {
        let all = world.exchange(rank: rank, kind: "gather", bytes).map { $0 as! [UInt8] }
        return rank == 0 ? all : []
    }

    public func broadcast(_ bytes: [UInt8]) -> [UInt8] {
        world.exchange(rank: rank, kind: "broadcast", bytes)[0] as! [UInt8]
    }
}

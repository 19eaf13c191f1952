import Communication
import Distributed
import GLM
import Planning
import Tensors

/// What `glmcluster plan --measure` measures on the ranks of its job: each node's triad bandwidth and sgemm rate,
/// all ranks at once as decoding ranks run (a node's figure is the slowest rank's), and the link between rank 0 and
/// every other rank by ping-pong: small messages for latency, large ones for bandwidth.
public enum ClusterProbe {
    public struct Measurement: Sendable {
        public var node: NodeHardware
        /// nil on one rank: there is no link to measure.
        public var link: LinkHardware?
    }

    /// Runs on every rank; every rank returns the same figures.
    public static func measure(runtime: ClusterRuntime, triadMiB: Int, sgemmSize: Int) -> Measurement {
        let communicator = runtime.communicator
        let synchronise = { communicator.barrier() }
        let slowest = Benchmark.slowest(over: runtime)
        let triadBytes = MachineProbes.triadArrayBytes(requested: triadMiB << 20, ranksHere: runtime.size)
        let triad = MachineProbes.median(
            MachineProbes.triadPasses(arrayBytes: triadBytes, count: 5, synchronise: synchronise, slowest: slowest))
        synchronise()
        let sgemm = MachineProbes.sgemmGFLOPS(size: sgemmSize)
        // The slowest node's figures: a tensor-parallel step lasts as long as its slowest rank.
        func lowest(_ value: Double) -> Double { -slowest(-value) }
        let node = NodeHardware(
            memoryBandwidthGBPerSecond: lowest(triad), matrixGFLOPS: lowest(sgemm), cores: runtime.threads,
            memoryBytes: Int(lowest(Double(ProcessResources.availableMemoryBytes ?? 0))))
        guard communicator.size > 1 else { return Measurement(node: node, link: nil) }
        var latencies: [Double] = []
        var bandwidths: [Double] = []
        for peer in 1..<communicator.size {
            let small = pingPong(communicator, peer: peer, bytes: 8, rounds: 200)
            let large = pingPong(communicator, peer: peer, bytes: 4 << 20, rounds: 6)
            latencies.append(small)
            bandwidths.append(Double(4 << 20) / max(large - small, 1e-9))
        }
        // Rank 0 measured; every rank gets its figures.
        let shared = communicator.allreduceSum(
            communicator.isCoordinator ? [latencies.max() ?? 0, bandwidths.min() ?? 0] : [0, 0])
        return Measurement(node: node, link: LinkHardware(latencySeconds: shared[0], bytesPerSecond: shared[1]))
    }

    /// The median one-way time of a `bytes`-byte message between rank 0 and `peer` (half a round trip), over
    /// `rounds` round trips after one warm-up; other ranks wait at the barrier.
    private static func pingPong(_ communicator: Communicator, peer: Int, bytes: Int, rounds: Int) -> Double {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 1, count: bytes)
        var times: [Double] = []
        communicator.barrier()
        for round in 0...rounds {
            let start = ForwardProfile.now()
            if communicator.rank == 0 {
                communicator.sendMessage(buffer, bytes: bytes, to: peer, tag: 11)
                communicator.receiveMessage(buffer, bytes: bytes, from: peer, tag: 12)
            } else if communicator.rank == peer {
                communicator.receiveMessage(buffer, bytes: bytes, from: 0, tag: 11)
                communicator.sendMessage(buffer, bytes: bytes, to: 0, tag: 12)
            }
            if round > 0 { times.append(Double(ForwardProfile.now() - start) * 1e-9 / 2) }
        }
        communicator.barrier()
        return MachineProbes.median(times)
    }
}

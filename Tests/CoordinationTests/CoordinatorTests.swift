import Coordination
import TestSupport
import Testing

/// `share`, `decide` and `collect` with one thread per rank over the simulated group, and on one rank.
@Suite(.timeLimit(.minutes(1))) struct CoordinatorTests {
    @Test(arguments: [1, 2, 3, 4])
    func shareRunsTheBuilderOnRankZeroOnly(ranks: Int) {
        let results = SimulatedWorld.run(ranks: ranks) { rank in
            let coordinator = Coordinator(channel: rank)
            var built = 0
            let value = coordinator.share { () -> [String] in
                built += 1
                return ["built by", String(rank.rank)]
            }
            return (value, built)
        }
        for (rank, result) in results.enumerated() {
            #expect(result.0 == ["built by", "0"])
            #expect(result.1 == (rank == 0 ? 1 : 0))
        }
    }

    @Test(arguments: [1, 2, 3, 4])
    func decideSeesEveryReportInRankOrder(ranks: Int) {
        let results = SimulatedWorld.run(ranks: ranks) { rank in
            Coordinator(channel: rank).decide(report: [rank.rank * 10, rank.rank]) { reports -> [Int] in
                reports.flatMap { $0 }
            }
        }
        let expected = (0..<ranks).flatMap { [$0 * 10, $0] }
        #expect(results.allSatisfy { $0 == expected })
    }

    @Test(arguments: [1, 3])
    func collectGivesTheReportsToRankZeroAlone(ranks: Int) {
        let results = SimulatedWorld.run(ranks: ranks) { rank in
            Coordinator(channel: rank).collect(report: "rank \(rank.rank)")
        }
        #expect(results[0] == (0..<ranks).map { "rank \($0)" })
        #expect(results.dropFirst().allSatisfy { $0 == nil })
    }

    @Test func oneRankNeedsNoChannelTraffic() {
        let coordinator = Coordinator(channel: SingleRankChannel())
        #expect(coordinator.isCoordinator)
        #expect(coordinator.share { 42 } == 42)
        #expect(coordinator.decide(report: 2) { $0.map { $0 * 3 } } == [6])
    }
}

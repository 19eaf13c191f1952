import Foundation
import Testing

/// `glmcluster plan` through the binary: given figures give every valid degree and the fastest that fits; missing
/// figures are named; `--measure` under mpirun measures the node and the link on the job's own ranks.
@Suite struct PlanTests {
    struct Report: Decodable {
        struct Degree: Decodable {
            var tp: Int
            var decodeMilliseconds: Double
            var prefillTokensPerSecond: Double
            var memoryBytesPerRank: Int
            var fits: Bool
        }
        struct Link: Decodable {
            var latencySeconds: Double
            var bytesPerSecond: Double
        }
        struct Node: Decodable {
            var memoryBandwidthGBPerSecond: Double
            var matrixGFLOPS: Double
        }
        var model: String
        var source: String
        var node: Node
        var link: Link
        var degrees: [Degree]
        var fastest: Int?
    }

    static let given = [
        "--bandwidth", "200", "--gflops", "2000", "--cores", "64", "--memory-gib", "96", "--link-gbit", "25",
        "--latency-us", "10", "--format", "json",
    ]

    @Test func givenFiguresGiveEveryDegreeAndTheFastestThatFits() throws {
        let run = try CommandRunner.glm(["plan", "--preset", "glm-130b", "--dtype", "int8"] + Self.given)
        try #require(run.status == 0, "\(run.stderr)")
        let report = try JSONDecoder().decode(Report.self, from: Data(run.stdout.utf8))
        #expect(report.degrees.map(\.tp) == [1, 2, 4, 8, 16, 32])
        // 130 GB of int8 weights: 96 GiB nodes hold them from TP 2 on.
        #expect(report.degrees.map(\.fits) == [false, true, true, true, true, true])
        let fitting = report.degrees.filter(\.fits)
        #expect(report.fastest == fitting.min { $0.decodeMilliseconds < $1.decodeMilliseconds }?.tp)
        #expect(
            zip(report.degrees, report.degrees.dropFirst()).allSatisfy { $0.memoryBytesPerRank > $1.memoryBytesPerRank }
        )

        let markdown = try CommandRunner.glm(
            ["plan", "--preset", "glm-4-9b"] + Self.given.dropLast(2))
        #expect(markdown.status == 0 && markdown.stdout.contains("| 1 |") && markdown.stdout.contains("**fastest**"))
    }

    @Test func missingFiguresAndBadValuesAreNamed() throws {
        let missing = try CommandRunner.glm(["plan", "--preset", "glm-130b", "--bandwidth", "100"])
        #expect(missing.status != 0 && missing.stderr.contains("plan needs --gflops"), "\(missing.stderr)")
        let unknown = try CommandRunner.glm(["plan", "--preset", "glm-5"] + Self.given)
        #expect(unknown.status != 0 && unknown.stderr.contains("unknown --preset \"glm-5\""), "\(unknown.stderr)")
        let two = try CommandRunner.glm(["plan", "--preset", "glm-130b", "--config", "x.json"] + Self.given)
        #expect(two.status == 64 && two.stderr.contains("give one of --preset, --model and --config"))
        let alone = try CommandRunner.glm([
            "plan", "--preset", "glm-4-9b", "--measure", "--threads", "1", "--triad-mib", "16", "--sgemm-size", "64",
        ])
        #expect(alone.status != 0 && alone.stderr.contains("one rank measures no link"), "\(alone.stderr)")
        let negative = try CommandRunner.glm(["plan", "--preset", "glm-130b"] + Self.given + ["--link-gbit", "0"])
        #expect(negative.status == 64 && negative.stderr.contains("--link-gbit must be a positive number"))
    }

    /// Two ranks measure their node and the link between them; the report says so.
    @Test func measureUnderMpirunMeasuresTheNodeAndTheLink() throws {
        let run = try CommandRunner.mpirun(
            2,
            [
                "plan", "--config", CommandRunner.packageRoot.appendingPathComponent("configs/demo.json").path,
                "--measure", "--threads", "1", "--triad-mib", "16", "--sgemm-size", "128", "--format", "json",
            ])
        try #require(run.status == 0, "\(run.stderr)")
        let report = try JSONDecoder().decode(Report.self, from: Data(run.stdout.utf8))
        #expect(report.source == "measured on 2 ranks of this job")
        #expect(report.node.memoryBandwidthGBPerSecond > 0 && report.node.matrixGFLOPS > 0)
        #expect(report.link.latencySeconds > 0 && report.link.latencySeconds < 0.01)
        #expect(report.link.bytesPerSecond > 1e6)
        #expect(report.degrees.first?.tp == 1 && report.fastest != nil)
    }
}

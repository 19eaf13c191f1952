import Foundation
import TestSupport
import Testing

/// OpenBLAS runs kernels that use the CPU's vector units on every rank, even where the library is older than the
/// CPU and would fall back to SSE3 "Prescott" kernels on its own (`BLASKernelSelection`); a kernel set the user
/// chose with OPENBLAS_CORETYPE is kept.
@Suite struct BLASKernelsTests {
    static let model = Fixture.checkpointDirectory.path

    /// OpenBLAS kernel sets built on AVX2 or AVX-512.
    static let vectorKernelSets: Set<String> = ["Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids"]

    static var cpuHasAVX2AndFMA: Bool {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        guard let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
        let set = Set(flags.split(separator: " ").map(String.init))
        return set.contains("avx2") && set.contains("fma")
    }

    struct Report: Decodable {
        struct Rank: Decodable {
            var rank: Int
            var blas_kernels: String
        }
        var ranks: [Rank]
    }

    static func kernelSets(mpirunOptions: [String] = []) throws -> [String] {
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_CORETYPE"] = nil
        let result = try CommandRunner.mpirun(
            2,
            [
                "generate", "--model", model, "--prompt", "The capital of France is", "--max-new-tokens", "2", "--json",
                "--threads", "1",
            ],
            mpirunOptions: mpirunOptions, environment: environment)
        try #require(result.status == 0, "\(result.stderr)")
        let report = try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
        try #require(report.ranks.count == 2)
        return report.ranks.map(\.blas_kernels)
    }

    @Test(.enabled(if: cpuHasAVX2AndFMA)) func everyRankRunsVectorKernels() throws {
        for (rank, kernels) in try Self.kernelSets().enumerated() {
            #expect(Self.vectorKernelSets.contains(kernels), "rank \(rank) runs OpenBLAS's \(kernels) kernels")
        }
    }

    @Test(.enabled(if: cpuHasAVX2AndFMA)) func theUsersChoiceIsKept() throws {
        #expect(try Self.kernelSets(mpirunOptions: ["-x", "OPENBLAS_CORETYPE=Haswell"]) == ["Haswell", "Haswell"])
    }
}

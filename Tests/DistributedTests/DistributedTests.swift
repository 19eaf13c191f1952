import Coordination
import Distributed
import Foundation
import Generation
import TestSupport
import Testing
import Tokenization

/// The engine's pieces that need no MPI job: cluster settings, the resource report as rank 0 collects it, and the
/// `generate --json` report. (The entry points themselves run in the end-to-end suites, through `mpirun`: MPI is
/// never started inside the test process, whose children are MPI jobs of their own.)
@Suite struct DistributedTests {
    @Test func clusterSettingsNameTheirOptions() throws {
        try ClusterSettings(tensorParallelDegree: 2, threads: 1).validate()
        #expect(throws: ClusterSettingsError.self) { try ClusterSettings(tensorParallelDegree: 0).validate() }
        do { try ClusterSettings(threads: -1).validate() } catch {
            #expect(error.description == "--threads must be positive, got -1")
        }
    }

    @Test func resourceReportsRoundTripThroughTheWireEncoding() throws {
        let report = RankResources(
            rank: 3, host: "node-3", threads: 16, peakResidentBytes: 1 << 33, weightBytes: 1 << 32,
            cacheBytes: 1 << 20, blasKernels: "SkylakeX")
        #expect(try RankResources(wireBytes: report.wireBytes()) == report)
    }

    @Test func theJSONReportCarriesEveryBlankAndRank() throws {
        let (model, tokenizer) = try Fixture.load("mp1")
        let fixture = Fixture.cases[0]
        let prompt = PromptBuilder(tokenizer: tokenizer).build(fixture.rawText)
        let result = try BlankFiller(model: model, tokenizer: tokenizer).generate(
            prompt: prompt, options: GenerationOptions(sampling: .greedy, maxNewTokens: 16))
        let rank = RankResources(
            rank: 0, host: "h", threads: 1, peakResidentBytes: 1, weightBytes: 2, cacheBytes: 3, blasKernels: "k")
        let json = try GenerationReport(result, ranks: [rank]).jsonString()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["generated_ids"] as? [Int] == fixture.expectedGeneratedIds)
        #expect(object["input_ids"] as? [Int] == fixture.inputIds)
        #expect(object["answer_text"] as? String == fixture.expectedAnswerText)
        #expect((object["blanks"] as? [Any])?.count == 1)
        let ranks = try #require(object["ranks"] as? [[String: Any]])
        #expect(ranks.first?["peak_rss_bytes"] as? Int == 1 && ranks.first?["blas_kernels"] as? String == "k")
    }
}

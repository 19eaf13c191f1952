import BatchJobs
import Foundation
import Generation
import Testing

/// The batch job's own checks, before any file is read.
@Suite struct BatchJobSettingsTests {
    static func settings(maxBatch: Int = 8, kvMemory: String? = nil) -> BatchJobSettings {
        BatchJobSettings(
            input: "in.jsonl", output: "out.jsonl", generation: GenerationSettings(), maxBatch: maxBatch,
            kvMemory: kvMemory)
    }

    @Test func limitsAreChecked() throws {
        try Self.settings(kvMemory: "4GiB").validate()
        // The example the message gives parses.
        #expect(ByteSize.parse("1e9") == 1_000_000_000 && ByteSize.parse("1.5GB") == 1_500_000_000)
        #expect(ByteSize.parse("1e30") == nil && ByteSize.parse("inf") == nil)
        #expect(throws: BatchInputError(description: "--max-batch must be at most 4096, got 4097")) {
            try Self.settings(maxBatch: 4097).validate()
        }
        #expect(throws: BatchInputError(description: "--max-batch must be at least 1, got 0")) {
            try Self.settings(maxBatch: 0).validate()
        }
        #expect(
            throws: BatchInputError(
                description: "--kv-memory: cannot read 'lots' as a size (examples: 512MiB, 4GiB, 1e9)")
        ) { try Self.settings(kvMemory: "lots").validate() }
    }
}

/// The results file's lock and the request fingerprints it keeps.
@Suite struct ResultStoreLockTests {
    @Test func aSecondStoreOnTheSameFileIsRefused() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: url) }
        var first: ResultStore? = try ResultStore(url: url)
        try first!.append(
            id: .integer(1), json: Data(#"{"answer":"x","id":1,"request_fingerprint":"abc"}"#.utf8),
            requestFingerprint: "abc")
        #expect(throws: BatchInputError.self) { try ResultStore(url: url) }
        do { _ = try ResultStore(url: url) } catch {
            #expect("\(error)".contains("another batch job is writing \(url.path)"))
        }
        first = nil
        // Released with the first store: a rerun reads the line and its fingerprint.
        let reopened = try ResultStore(url: url)
        #expect(reopened.completedIds == [.integer(1)] && reopened.requestFingerprints[.integer(1)] == "abc")
        _ = first
    }
}

@Suite struct DuplicateFieldLineTests {
    @Test func aLineWithAFieldTwiceIsMalformed() {
        let text = #"{"id": 1, "prompt": "a", "prompt": "b"}"# + "\n" + #"{"id": 2, "prompt": "c"}"#
        let (requests, malformed) = BatchInput.parse(Data(text.utf8))
        #expect(requests.map { $0.id } == [RequestId.integer(2)])
        #expect(malformed.map(\.line) == [1] && malformed.first?.message == "field \"prompt\" appears twice")
    }
}

import BatchJobs
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

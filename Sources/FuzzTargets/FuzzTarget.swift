import FoundationEssentials

/// The inputs a user hands GLMCluster as files, each read the way the engine reads it. A target returns normally
/// whether the input is accepted or refused with an error; a crash, a hang or a runaway allocation is a finding.
/// `glmcluster-fuzz` runs them under libFuzzer (scripts/fuzz.sh) and replays saved inputs; the tests replay the
/// committed corpus and every past finding (Fuzz/).
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// A `torch.save` zip: the central directory, ZIP64 records, local headers, checksums, the pickle, and every
    /// tensor view copied out.
    case checkpoint
    /// A `data.pkl` alone, through the restricted unpickler to the state dict's tensor views.
    case pickle
    /// A `config.json`: decoding, validation, and the shapes and keys derived from it.
    case config
    /// A batch input file: its JSONL lines, each request's settings and prompt.
    case batch
    /// A `.safetensors` file: the header against the file, every tensor copied out.
    case safetensors
    /// GLM-4's tokenizer: a tiktoken vocabulary file, and text through the pre-split, the merges and decoding.
    case tiktoken

    /// Reads `bytes` as this target's input.
    public func run(_ bytes: UnsafeRawBufferPointer, context: FuzzContext) {
        switch self {
        case .checkpoint: CheckpointFileTarget.run(bytes)
        case .pickle: PickleTarget.run(bytes)
        case .config: ConfigurationTarget.run(bytes)
        case .batch: BatchInputTarget.run(bytes, context: context)
        case .safetensors: SafetensorsTarget.run(bytes)
        case .tiktoken: TiktokenTarget.run(bytes)
        }
    }
}

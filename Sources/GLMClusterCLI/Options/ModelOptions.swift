import ArgumentParser
import ModelLoading

/// Where the model comes from: a checkpoint directory with `latest`, and its `config.json` or a preset.
struct ModelOptions: ParsableArguments {
    @Option(
        name: .long,
        help: "Checkpoint directory holding `latest`, `<iteration>/mp_rank_XX_model_states.pt` and config.json.")
    var model: String

    @Option(name: .long, help: "Built-in configuration used when the directory has no config.json (glm-130b).")
    var preset: String?

    @OptionGroup var quantization: QuantizationOptions

    var source: ModelSource { ModelSource(path: model, preset: preset, quantization: quantization.quantize) }
}

import ArgumentParser
import Tensors

/// `--quantize int8|int4`: weight-only quantization of the loaded model, the official GLM-130B scheme (symmetric,
/// one fp16 scale per output row of each rank's local shard, round half to even, int4 packed two per byte).
struct QuantizationOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Quantize the QKV, attention dense and MLP weights of each rank's shard at load time: int8 or int4 "
                + "(the official scheme). Official quantized checkpoints are recognised without it."))
    var quantize: QuantizationScheme?
}

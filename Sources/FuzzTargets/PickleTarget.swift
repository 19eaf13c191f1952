import Checkpoint

/// A `data.pkl` alone: the restricted unpickler and the state dict's tensor views.
enum PickleTarget {
    static func run(_ bytes: UnsafeRawBufferPointer) {
        _ = try? TorchCheckpointFile.tensorViews(pickle: bytes, path: "fuzz.pkl")
    }
}

import Configuration
import Coordination
import FoundationEssentials
import GLM
import Partitioning

/// A `config.json`: decoded and validated as `--model` reads it; an accepted one then goes through what is built
/// from it before loading: the divisibility checks, the weight list and every partition's shape, and the copy
/// that `--weights-from coordinator` sends to the other ranks.
enum ConfigurationTarget {
    static func run(_ bytes: UnsafeRawBufferPointer) {
        guard let configuration = try? ModelConfiguration.decode(Data(bytes), source: "fuzz.json") else { return }
        for degree in [1, 2, 3, 4, 8, 4096] {
            _ = configuration.fieldNotDivided(by: degree)
        }
        for spec in WeightSpec.all(for: configuration) {
            for count in [1, 2, 8] { _ = spec.shape(of: Partition(index: count - 1, count: count)) }
        }
        let copy = try? ModelConfiguration(wireBytes: configuration.wireBytes())
        precondition(copy == configuration, "a configuration changed on its way to the other ranks")
    }
}

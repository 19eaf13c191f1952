import ArgumentParser
import Basics
import Demo
import Distributed

/// `glmcluster create-model`: a random-weights GLM in the official checkpoint layout, with a small SentencePiece
/// tokenizer trained on the project's own corpus. For tests and the demo only.
struct CreateModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-model", abstract: "Write a random-weights model in the official checkpoint layout.")

    @Option(name: .long, help: "config.json with the model sizes (official argument names).")
    var config: String
    @Option(name: .long, help: "Seed for the random weights.")
    var seed: UInt64 = 1
    @Option(name: .long, help: "Model-parallel degree of the written checkpoint (number of mp_rank files).")
    var mp: Int = 1
    @Option(name: .long, help: "Output directory (created).")
    var out: String
    @Option(name: .long, help: "SentencePiece vocabulary size of the trained tokenizer.")
    var vocabularySize: Int = 1000
    @Option(name: .long, help: "Scale of the eos embedding row; above 1, generations end sooner (tests, demos).")
    var eosScale: Float = 1

    @Flag(name: .long, help: "Replace a checkpoint already in the output directory.")
    var force = false

    var demo: DemoModel {
        var demo = DemoModel(configurationFile: config, directory: out)
        demo.seed = seed
        demo.modelParallelDegree = mp
        demo.vocabularySize = vocabularySize
        demo.eosScale = eosScale
        demo.force = force
        return demo
    }

    func validate() throws {
        do { try demo.validate() } catch { throw ValidationError(error.description) }
    }

    func run() throws {
        // Under mpirun one writer is enough: rank 0 creates the model, the others have nothing to do.
        guard ClusterJob.isCoordinatorProcess else { return }
        try reportingUsageErrors { StandardError.writeLine(try demo.create()) }
    }
}

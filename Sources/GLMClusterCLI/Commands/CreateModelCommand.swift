import ArgumentParser
import Basics
import Communication
import Configuration
import FoundationEssentials
import GLM
import Tokenization

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

    func validate() throws {
        if mp < 1 { throw ValidationError("--mp must be positive, got \(mp)") }
        if vocabularySize < 16 { throw ValidationError("--vocabulary-size must be at least 16, got \(vocabularySize)") }
    }

    func run() throws {
        // Under mpirun one writer is enough: rank 0 creates the model, the others have nothing to do.
        guard Communicator.world.isCoordinator else { return }
        var configuration = try ModelConfiguration.load(from: URL(fileURLWithPath: config))
        let c = configuration
        if let (field, value) = c.fieldNotDivided(by: mp) {
            throw ValidationError("--mp \(mp) must divide \(field) = \(value) in \(config)")
        }
        let directory = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)

        configuration.tokenizer.model = "ice_text.model"
        try TokenizerTrainer.trainDemoModel(
            vocabularySize: vocabularySize, outputPrefix: directory.appendingPathComponent("ice_text"))
        try configuration.write(to: directory.appendingPathComponent("config.json"))
        let tokenizer = try IcetkTokenizer(configuration: configuration.tokenizer, directory: directory)

        let tensors = RandomWeights.generate(
            configuration: configuration, seed: seed, textTokenCount: tokenizer.pieceCount, eosScale: eosScale)
        try CheckpointRepartition.write(global: tensors, configuration: configuration, parts: mp, to: directory)
        StandardError.writeLine(
            "created \(out): \(configuration.numLayers) layers, hidden \(configuration.hiddenSize), MP=\(mp), \(tokenizer.pieceCount) tokenizer pieces"
        )
    }
}

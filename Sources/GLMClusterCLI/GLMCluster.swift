import ArgumentParser
import Communication

/// `glmcluster`: GLM-130B inference on CPU clusters. Subcommands only parse options and wire modules together.
@main
struct GLMCluster: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "glmcluster",
        abstract: "GLM-130B inference on CPU clusters with MPI tensor parallelism.",
        subcommands: [
            GenerateCommand.self, LogitsCommand.self, TokenizeCommand.self, DetokenizeCommand.self,
            CreateModelCommand.self,
        ])
}

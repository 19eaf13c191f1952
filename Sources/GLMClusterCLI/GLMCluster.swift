import ArgumentParser
import Basics
import Distributed
import Glibc

/// `glmcluster`: GLM-130B inference on CPU clusters. Subcommands parse options, call one library entry point and
/// print its result.
@main
struct GLMCluster: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "glmcluster",
        abstract: "GLM-130B inference on CPU clusters with MPI tensor parallelism.",
        subcommands: [
            GenerateCommand.self, LogitsCommand.self, TokenizeCommand.self, DetokenizeCommand.self,
            ChatCommand.self, CreateModelCommand.self, ConvertCommand.self, BenchCommand.self, BatchCommand.self,
            PlanCommand.self,
        ])

    /// Like ArgumentParser's `main`, but under `mpirun` only rank 0 prints errors and usage: every rank parses the
    /// same arguments and fails the same way, so one message is enough. Every rank exits with the same code.
    static func main() {
        // A closed standard descriptor would be reused by the next file opened (a checkpoint, an output), and what
        // is printed would go into it: each closed one is held by /dev/null, read-only, so reading it ends at once
        // and writing it fails as writing a closed one does.
        for descriptor: Int32 in 0...2 where fcntl(descriptor, F_GETFD) == -1 { _ = open("/dev/null", O_RDONLY) }
        // A reader that goes away (`| head`) makes writes fail with EPIPE, reported as an error with exit 1,
        // instead of a silent death by SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        // A file-size limit (`ulimit -f`) makes writes fail with EFBIG, reported with the file's name, instead of
        // killing the process by SIGXFSZ.
        signal(SIGXFSZ, SIG_IGN)
        BLASRelaunch.relaunchIfNeeded()
        let isCoordinator = ClusterJob.isCoordinatorProcess
        do {
            var command = try parseAsRoot()
            try command.run()
            try StandardOutput.finish()
        } catch let agreed as AgreedExit {
            Glibc.exit(agreed.code)
        } catch {
            if isCoordinator { exit(withError: error) }
            Glibc.exit(exitCode(for: error).rawValue)
        }
    }
}

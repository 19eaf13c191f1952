import ArgumentParser
import Basics
import Communication
import Distributed

/// A command that runs on every rank of an MPI job. Errors that all ranks agreed on are reported once, by rank 0,
/// and every rank exits non-zero; an error only one rank sees outside an agreed phase aborts the whole job
/// (MPI_Abort) after printing it, so no rank is left waiting in a collective.
protocol ClusterCommand: ParsableCommand {
    func execute() throws
}

extension ClusterCommand {
    func run() throws {
        let world = Communicator.world
        do {
            try execute()
        } catch let error as ExitCode {
            // A status every rank reached together (e.g. `batch` with failed requests).
            throw error
        } catch let error as ClusterError {
            // Raised on every rank at the same point; `GLMCluster.main` lets only rank 0 print it.
            throw error
        } catch let error where world.size > 1 {
            StandardError.writeLine("Error on rank \(world.rank): \(error)")
            world.abort(code: 1)
        }
    }
}

import ArgumentParser
import Distributed

/// A command that runs on every rank of an MPI job, under `ClusterJob`'s rules: agreed errors are printed once by
/// rank 0, an error on one rank alone aborts the job.
protocol ClusterCommand: ParsableCommand {
    func execute() throws
}

extension ClusterCommand {
    func run() throws { try ClusterJob.run { try execute() } }
}

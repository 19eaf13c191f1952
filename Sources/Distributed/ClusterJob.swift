import Basics
import Communication

/// How a command ends on every rank of an MPI job. Errors that all ranks agreed on (`ClusterError`) are reported
/// once, by rank 0, and every rank exits non-zero; an error only one rank sees outside an agreed phase aborts the
/// whole job (MPI_Abort) after printing it, so no rank is left waiting in a collective.
public enum ClusterJob {
    /// Runs a command's body on this rank with the rules above.
    public static func run(_ body: () throws -> Void) throws {
        let world = Communicator.world
        // Ending normally or with an agreed error, the rank stops watching the others first (and says goodbye).
        defer { PeerWatchdog.stop() }
        do {
            try body()
        } catch let error as AgreedExit {
            throw error
        } catch let error as ClusterError {
            // Raised on every rank at the same point; the front-end lets only rank 0 print it.
            throw error
        } catch let error where world.size > 1 {
            StandardError.writeLine("Error on rank \(world.rank): \(error)")
            TerminalForeground.giveBack()
            world.abort(code: 1)
        }
    }

    /// Whether this process is rank 0 (starting MPI if it has not started): only rank 0 prints errors and usage.
    public static var isCoordinatorProcess: Bool { Communicator.world.isCoordinator }

    /// Whether this process is one of several ranks (starting MPI if it has not started).
    public static var worldSize: Int { Communicator.world.size }
}

/// A status every rank reached together (for example a batch job with failed requests): every rank exits with
/// `code` and prints nothing more.
public struct AgreedExit: Error, Sendable {
    public var code: Int32
    public init(code: Int32) { self.code = code }
}

import Glibc
import Synchronization

/// A terminal's foreground taken by this process's group (the chat on rank 0 takes it from mpirun, so that Ctrl-C
/// reaches rank 0 alone), and given back on every way out: the normal end, an error, and the watchdog's and the
/// job's aborts. A group left in the foreground after the process is gone leaves the shell that started mpirun
/// unable to read its terminal.
public enum TerminalForeground {
    private static let taken = Mutex<(descriptor: Int32, previous: pid_t)?>(nil)

    /// Makes this process's group the foreground of the terminal open as `descriptor`; false when it cannot.
    public static func take(_ descriptor: Int32) -> Bool {
        // Taking the foreground from the background raises SIGTTOU unless it is ignored.
        signal(SIGTTOU, SIG_IGN)
        let previous = tcgetpgrp(descriptor)
        guard previous > 0, tcsetpgrp(descriptor, getpgrp()) == 0 else { return false }
        taken.withLock { $0 = (descriptor, previous) }
        return true
    }

    /// Gives the foreground back to the group that had it (once; later calls do nothing).
    public static func giveBack() {
        guard
            let held = taken.withLock({ state -> (descriptor: Int32, previous: pid_t)? in
                defer { state = nil }
                return state
            })
        else { return }
        _ = tcsetpgrp(held.descriptor, held.previous)
    }
}

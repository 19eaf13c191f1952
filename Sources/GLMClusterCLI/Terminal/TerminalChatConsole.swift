import Basics
import Distributed
// C's `stdout` is a mutable global to Swift; only the main thread of rank 0 uses this console.
@preconcurrency import Glibc

/// `glmcluster chat`'s terminal on rank 0: messages are lines of input, answers stream to stdout, and Ctrl-C stops
/// the answer being generated (at the prompt it discards the line) without ending the job.
///
/// Under `mpirun`, rank 0's stdin is a pipe from mpirun and Ctrl-C would reach mpirun, which ends the whole job.
/// So when mpirun's own stdin is a terminal, rank 0 opens the terminal itself and makes its process group the
/// terminal's foreground group while the chat runs: it reads the keyboard directly, Ctrl-C sends SIGINT to rank 0
/// alone, and the foreground group is handed back at the end. Input that is not a terminal (a pipe, a file) is
/// read line by line from stdin, without prompts.
final class TerminalChatConsole: ChatConsole {
    private let input: Int32
    private let interactive: Bool
    var streamsAnswers: Bool { interactive }
    private var pending: [UInt8] = []
    private var atEnd = false
    /// Why the chat cannot go on (standard input unreadable, standard output unwritable); it ends the chat with
    /// this error.
    private(set) var failure: String?

    init() {
        Interrupt.catch()
        if isatty(0) == 1 {
            input = 0
            interactive = true
        } else if Self.launcherReadsATerminal(), case let terminal = open("/dev/tty", O_RDWR | O_CLOEXEC), terminal >= 0
        {
            input = terminal
            interactive = true
            _ = TerminalForeground.take(terminal)
        } else {
            input = 0
            interactive = false
        }
        if interactive {
            note("Chat with the model: /reset clears the history, /exit (or Ctrl-D) ends, Ctrl-C stops an answer.")
        }
    }

    /// Gives the terminal back to the launcher's process group.
    func close() { TerminalForeground.giveBack() }

    deinit { close() }

    /// Whether this process's parent (mpirun, or a shell) reads a terminal: then the person at it is typing to us.
    private static func launcherReadsATerminal() -> Bool {
        var buffer = [CChar](repeating: 0, count: 256)
        let count = readlink("/proc/\(getppid())/fd/0", &buffer, buffer.count - 1)
        guard count > 0 else { return false }
        let target = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return target.hasPrefix("/dev/pts/") || target.hasPrefix("/dev/tty")
    }

    func readMessage() -> String? {
        if failure != nil { return nil }
        if interactive { show("\nUser: ") }
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                return line
            }
            if atEnd {
                guard !pending.isEmpty else { return nil }
                defer { pending.removeAll() }
                return String(decoding: pending, as: UTF8.self)
            }
            switch Interrupt.waitForInput(input) {
            case .interrupted:
                // Ctrl-C at the prompt discards what was typed.
                pending.removeAll()
                if interactive { show("^C\nUser: ") }
            case .ready:
                var chunk = [UInt8](repeating: 0, count: 4096)
                let count = read(input, &chunk, chunk.count)
                if count > 0 {
                    pending += chunk[..<count]
                } else if count == 0 {
                    atEnd = true
                } else if errno != EINTR && errno != EAGAIN {
                    failure = "cannot read standard input: " + String(cString: strerror(errno))
                    return nil
                }
            }
        }
    }

    func write(answer text: String) { show(text) }

    func endAnswer() {
        show("\n")
        // A Ctrl-C that came after the last token belongs to this answer, not the next one.
        _ = Interrupt.take()
    }

    func note(_ text: String) {
        if interactive { show("(" + text + ")\n") } else { StandardError.writeLine(text) }
    }

    func takeStopRequest() -> Bool { Interrupt.take() }

    private func show(_ text: String) {
        print(text, terminator: "")
        if fflush(stdout) != 0, failure == nil {
            failure = "cannot write to standard output: " + String(cString: strerror(errno))
        }
    }
}

/// SIGINT turned into something the console can poll: the handler writes a byte to a pipe (async-signal-safe).
private enum Interrupt {
    nonisolated(unsafe) private static var ends: [Int32] = [-1, -1]

    static func `catch`() {
        guard ends[0] < 0 else { return }
        var pair: [Int32] = [-1, -1]
        guard pipe(&pair) == 0 else { return }
        for end in pair {
            _ = fcntl(end, F_SETFL, O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
        ends = pair
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            var byte: UInt8 = 1
            _ = Glibc.write(Interrupt.writeEnd, &byte, 1)
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        sigaction(SIGINT, &action, nil)
    }

    fileprivate static var writeEnd: Int32 { ends[1] }

    /// Whether SIGINT came since the last call (drains the pipe).
    static func take() -> Bool {
        guard ends[0] >= 0 else { return false }
        var any = false
        var bytes = [UInt8](repeating: 0, count: 64)
        while read(ends[0], &bytes, bytes.count) > 0 { any = true }
        return any
    }

    enum Wait { case ready, interrupted }

    /// Waits until `descriptor` has input or SIGINT comes.
    static func waitForInput(_ descriptor: Int32) -> Wait {
        while true {
            var descriptors = [pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)]
            if ends[0] >= 0 { descriptors.append(pollfd(fd: ends[0], events: Int16(POLLIN), revents: 0)) }
            let result = poll(&descriptors, nfds_t(descriptors.count), -1)
            if result < 0 && errno == EINTR { continue }
            if descriptors.count > 1 && descriptors[1].revents != 0 && take() { return .interrupted }
            return .ready
        }
    }
}

import Basics
import Communication
import Glibc
import Synchronization

/// Ends a job whose rank stopped responding (a stopped process, a frozen or partitioned node), naming the rank, its
/// host and what it was doing, instead of leaving the others waiting in a collective for ever.
///
/// Liveness is watched apart from the computation: a thread on each rank sends every other rank a small heartbeat
/// (its current phase) twice a second on a communicator of its own, and receives theirs, while the main thread
/// computes or waits in a collective. A long prefill therefore never looks like a hang; a rank whose heartbeats stop
/// for `timeout` seconds does. Then the lowest rank that still hears from itself prints one message and calls
/// MPI_Abort, which ends every rank; the others abort a little later in case the reporter is stuck too. The thread
/// sleeps between beats (it never spins), and a rank that ends normally says goodbye so that the others stop
/// watching it. Needs MPI_THREAD_MULTIPLE; without it, or on one rank, nothing is watched.
///
/// A process that dies is noticed by mpirun, which sends every other rank SIGTERM about a second later and SIGKILL a
/// second after that. The watchdog catches SIGTERM: each rank tells the others it is ending (a "terminating"
/// beat), waits a moment for theirs, and the lowest rank still here names every rank that neither ended normally
/// nor answered (its process gone, where it ran on this node) and what it was doing, then exits. A SIGTERM that
/// reaches every rank (a cancelled job, a scheduler's time limit) is reported as that; one that reaches a single
/// rank ends the job as a lost rank does, without waiting for the timeout.
final class PeerWatchdog: @unchecked Sendable {
    /// The watchdog of this process's job, if one runs.
    static let current = Mutex<PeerWatchdog?>(nil)

    /// Heartbeats per second.
    static let interval = 0.5
    /// The tag of heartbeat messages on the watchdog's own communicator.
    private static let tag = 7131
    private static let messageCapacity = 256
    /// How long a rank that got SIGTERM waits for the other ranks' notices (mpirun sends SIGKILL a second later).
    private static let terminationGrace = 0.4
    /// How long after a peer's SIGTERM notice this rank waits for its own before ending the job for that peer.
    private static let peerTerminationGrace = 1.5
    /// A peer heard from within this many seconds is answering (beats come every `interval`); one lost before a
    /// SIGTERM went quiet a second or more before it (mpirun's delay), plus the termination grace.
    private static let answeringAge = 1.0
    /// A gap this long between two of this thread's own rounds means the whole process was stopped (Ctrl-Z, a
    /// debugger, SIGSTOP to the job) or starved: every peer was then stopped alike, so none is blamed for it.
    private static let ownPause = 2.0
    /// Seconds a rank waits in MPI_Abort before it ends itself.
    private static let abortBound: UInt32 = 5

    /// What a heartbeat message says; the first byte of each message.
    private enum Beat: UInt8 {
        /// Alive, with the rank's phase.
        case alive = 0
        /// Ending normally: stop watching this rank.
        case goodbye = 1
        /// Got SIGTERM, with the rank's phase.
        case terminating = 2
    }

    private let communicator: Communicator
    private let world: Communicator
    private let hosts: [String]
    private let pids: [Int32]
    private let timeout: Double
    private let phase = Mutex("starting")
    private let stopping = Atomic<Bool>(false)
    private var thread = pthread_t()

    // Touched by the watchdog thread only (and by `stop` after joining it).
    private var lastHeard: [Double]
    private var lastPhase: [String]
    private var finished: [Bool]
    /// When each peer's SIGTERM notice arrived.
    private var terminating: [Double?]
    private var receives: [Communicator.Transfer?]
    private var sends: [Communicator.Transfer?]

    private init(world: Communicator, hosts: [String], pids: [Int32], timeout: Double) {
        self.world = world
        communicator = world.duplicate()
        self.hosts = hosts
        self.pids = pids
        self.timeout = timeout
        let now = Self.now()
        lastHeard = Array(repeating: now, count: world.size)
        lastPhase = Array(repeating: "starting", count: world.size)
        finished = Array(repeating: false, count: world.size)
        terminating = Array(repeating: nil, count: world.size)
        receives = Array(repeating: nil, count: world.size)
        sends = Array(repeating: nil, count: world.size)
    }

    /// Starts watching the ranks of `world` (collective: every rank calls it, with the hosts and process ids in
    /// rank order), and catches SIGTERM.
    static func start(world: Communicator, hosts: [String], pids: [Int32], timeout: Double) {
        guard world.size > 1, timeout > 0, Communicator.supportsConcurrentThreads else { return }
        let watchdog = PeerWatchdog(world: world, hosts: hosts, pids: pids, timeout: timeout)
        current.withLock { $0 = watchdog }
        TerminationSignal.catch()
        watchdog.launch()
    }

    /// Records what this rank is doing, for the message should it stop responding.
    static func setPhase(_ text: String) {
        current.withLock { $0 }?.phase.withLock { $0 = text }
    }

    /// Stops the watchdog (the job ends normally or with an agreed error): says goodbye to the other ranks and
    /// releases its transfers before MPI finalizes.
    static func stop() {
        guard
            let watchdog = current.withLock({ value -> PeerWatchdog? in
                defer { value = nil }
                return value
            })
        else { return }
        watchdog.finish()
    }

    private func launch() {
        let context = Unmanaged.passRetained(self).toOpaque()
        pthread_create(
            &thread, nil,
            { context in
                let watchdog = Unmanaged<PeerWatchdog>.fromOpaque(context!).takeRetainedValue()
                watchdog.run()
                return nil
            }, context)
    }

    private func run() {
        let me = world.rank
        for peer in peers {
            receives[peer] = communicator.startReceive(from: peer, tag: Self.tag, capacity: Self.messageCapacity)
        }
        var lastRound = Self.now()
        while !stopping.load(ordering: .acquiring) {
            let now = Self.now()
            if now - lastRound > Self.ownPause {
                for peer in peers { lastHeard[peer] = now }
            }
            lastRound = now
            for peer in peers where !finished[peer] { drain(peer, now: now) }
            let beat = message(.alive)
            for peer in peers where !finished[peer] {
                // One heartbeat in flight per peer: a stopped peer never makes this rank queue more.
                if sends[peer]?.isComplete() ?? true {
                    sends[peer] = communicator.startSend(beat, to: peer, tag: Self.tag)
                }
            }
            let silent = peers.filter { !finished[$0] && now - lastHeard[$0] > timeout }
            if !silent.isEmpty { endJob(silent, me: me, now: now) }
            let signalled = peers.filter { terminating[$0].map { now - $0 > Self.peerTerminationGrace } ?? false }
            if !signalled.isEmpty { endJob(signalledOnly: signalled, me: me) }
            if TerminationSignal.wait(seconds: Self.interval) { endOnTermination(me: me) }
        }
    }

    /// A heartbeat message: its kind and this rank's phase.
    private func message(_ kind: Beat) -> [UInt8] {
        [kind.rawValue] + Array(phase.withLock { $0 }.utf8.prefix(Self.messageCapacity - 1))
    }

    /// Takes every heartbeat that has arrived from `peer`.
    private func drain(_ peer: Int, now: Double) {
        while let transfer = receives[peer], transfer.isComplete() {
            let bytes = transfer.received ?? []
            lastHeard[peer] = now
            let kind = bytes.first.flatMap(Beat.init(rawValue:)) ?? .alive
            if kind == .goodbye {
                finished[peer] = true
                receives[peer] = nil
                return
            }
            if kind == .terminating, terminating[peer] == nil { terminating[peer] = now }
            lastPhase[peer] = String(decoding: bytes.dropFirst(), as: UTF8.self)
            receives[peer] = communicator.startReceive(from: peer, tag: Self.tag, capacity: Self.messageCapacity)
        }
    }

    /// This rank got SIGTERM: tells the others, gathers their notices for a moment, and the lowest rank still here
    /// names the ranks that gave none (lost before the signal: mpirun's reason to send it), or reports the signal
    /// itself when every rank got it. Then the process exits; batch results are already on disk.
    private func endOnTermination(me: Int) -> Never {
        let notice = message(.terminating)
        for peer in peers where !finished[peer] {
            _ = communicator.startSend(notice, to: peer, tag: Self.tag)
        }
        // A rank of this node whose process is gone, and which sent no notice, died: that is known at once, so the
        // report goes out before mpirun's SIGKILL (about a second away, less on a loaded node) without waiting for
        // the others' notices. Notices already here are taken first: a rank that got the signal too may exit
        // right after sending its own.
        for peer in peers where !finished[peer] { drain(peer, now: Self.now()) }
        let gone = peers.filter { !finished[$0] && terminating[$0] == nil && isGone($0) }
        if !gone.isEmpty {
            let reporter = (0..<world.size).first { !gone.contains($0) && ($0 == me || !finished[$0]) }
            // The others leave the reporter its time: mpirun ends the whole job as soon as any rank exits non-zero.
            if reporter != me { Self.waitForTheLauncher() }
            if reporter == me {
                let myPhase = phase.withLock { $0 }
                for rank in gone {
                    StandardError.writeLine(
                        "Error: rank \(rank) (host \(hosts[rank])) is gone (its process was killed or crashed) (last "
                            + "reported: \(lastPhase[rank]); rank \(me) was \(myPhase)); the launcher is ending the job "
                            + "on every rank")
                }
            }
            TerminalForeground.giveBack()
            TerminalForeground.giveBack()
            _exit(1)
        }
        let deadline = Self.now() + Self.terminationGrace
        while Self.now() < deadline {
            for peer in peers where !finished[peer] { drain(peer, now: Self.now()) }
            if peers.allSatisfy({ finished[$0] || terminating[$0] != nil }) { break }
            usleep(5000)
        }
        let lost = peers.filter { !finished[$0] && terminating[$0] == nil }
        let now = Self.now()
        if !lost.isEmpty && lost.allSatisfy({ now - lastHeard[$0] < Self.answeringAge }) {
            // The signal reached this rank (and perhaps others), not the ranks still answering: they saw this
            // rank's notice and end the job naming it (`endJob(signalledOnly:)`). Report only if they do not.
            let deadline = now + Self.peerTerminationGrace + 2
            while Self.now() < deadline {
                for peer in peers where !finished[peer] { drain(peer, now: Self.now()) }
                usleep(20_000)
            }
            StandardError.writeLine(
                "Error: rank \(me) (host \(hosts[me])) was ended by a termination signal (SIGTERM) that the other "
                    + "ranks did not get, while \(phase.withLock { $0 }); ending the job on every rank")
            TerminalForeground.giveBack()
            TerminalForeground.giveBack()
            _exit(1)
        }
        let reporter = (0..<world.size).first { !lost.contains($0) && !finished[$0] }
        if reporter != me { Self.waitForTheLauncher() }
        if reporter == me {
            let myPhase = phase.withLock { $0 }
            if lost.isEmpty {
                StandardError.writeLine(
                    "Error: the job was ended by a termination signal (SIGTERM: the job was cancelled or ran out of "
                        + "time, or a process ended) while rank \(me) was \(myPhase)")
            }
            for rank in lost {
                StandardError.writeLine(
                    "Error: rank \(rank) (host \(hosts[rank])) \(fate(of: rank)) (last reported: \(lastPhase[rank]); "
                        + "rank \(me) was \(myPhase)); the launcher is ending the job on every rank")
            }
        }
        TerminalForeground.giveBack()
        _exit(1)
    }

    /// A rank that does not report waits for mpirun's SIGKILL (it follows SIGTERM within seconds), so that its own
    /// exit does not end the job before the reporter has printed; then it exits anyway.
    private static func waitForTheLauncher() {
        usleep(3_000_000)
    }

    /// What became of a rank that sent no notice: gone, where this node can see its process table.
    private func fate(of rank: Int) -> String {
        isGone(rank) ? "is gone (its process was killed or crashed)" : "stopped answering"
    }

    /// Whether `rank` ran on this node and its process no longer exists.
    private func isGone(_ rank: Int) -> Bool {
        guard hosts[rank] == hosts[world.rank], pids[rank] > 0 else { return false }
        return kill(pids[rank], 0) != 0 && errno == ESRCH
    }

    /// Peers got SIGTERM but this rank did not: the job cannot go on without them, so it ends now.
    private func endJob(signalledOnly signalled: [Int], me: Int) -> Never {
        let reporter = (0..<world.size).first { !signalled.contains($0) }
        if reporter == me {
            for rank in signalled {
                StandardError.writeLine(
                    "Error: rank \(rank) (host \(hosts[rank])) was ended by a termination signal (SIGTERM) while "
                        + "\(lastPhase[rank]); ending the job on every rank")
            }
        } else {
            usleep(useconds_t(2e6))
        }
        abortJob()
    }

    /// Reports the silent ranks (the lowest rank still responding does) and ends the job.
    private func endJob(_ silent: [Int], me: Int, now: Double) -> Never {
        let reporter = (0..<world.size).first { !silent.contains($0) }
        if reporter == me {
            for rank in silent {
                let silence = String(printf: "%.0f", now - lastHeard[rank])
                StandardError.writeLine(
                    "Error: rank \(rank) (host \(hosts[rank])) has not responded for \(silence) s (last reported: "
                        + "\(lastPhase[rank]); rank \(me) was \(phase.withLock { $0 })); ending the job on every rank "
                        + "(--peer-timeout " + String(printf: "%g", timeout) + ")")
            }
        } else {
            // Give the reporter time to print; end the job anyway should it be stuck as well.
            usleep(useconds_t((2 + timeout / 2) * 1e6))
        }
        abortJob()
    }

    /// Ends every rank through MPI_Abort. MPI_Abort waits for mpirun, which a rank on a node cut off from the
    /// launch node (its link down) never reaches: SIGALRM, whose default action ends the process, bounds that wait.
    private func abortJob() -> Never {
        TerminalForeground.giveBack()
        alarm(Self.abortBound)
        world.abort(code: 1)
    }

    private func finish() {
        stopping.store(true, ordering: .releasing)
        pthread_join(thread, nil)
        // Nothing waits for the signal any more: let SIGTERM end the process at once again.
        TerminationSignal.restoreDefault()
        let goodbye = [Beat.goodbye.rawValue]
        var farewells = peers.filter { !finished[$0] }.map { communicator.startSend(goodbye, to: $0, tag: Self.tag) }
        let deadline = Self.now() + 1
        while !farewells.isEmpty && Self.now() < deadline {
            farewells.removeAll { $0.isComplete() }
            if !farewells.isEmpty { usleep(1000) }
        }
        for transfer in receives.compactMap({ $0 }) { transfer.cancel() }
        receives = []
    }

    private var peers: [Int] { (0..<world.size).filter { $0 != world.rank } }

    private static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }
}

/// SIGTERM, turned into something the watchdog thread can wait for: the handler only writes a byte to a pipe
/// (async-signal-safe), and the thread polls the pipe between heartbeats.
enum TerminationSignal {
    nonisolated(unsafe) private static var pipeEnds: [Int32] = [-1, -1]

    /// Installs the handler (once per process).
    static func `catch`() {
        guard pipeEnds[0] < 0 else { return }
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return }
        for end in ends {
            _ = fcntl(end, F_SETFL, O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
        pipeEnds = ends
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            var byte: UInt8 = 1
            _ = write(TerminationSignal.writeEnd, &byte, 1)
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        sigaction(SIGTERM, &action, nil)
    }

    /// Gives SIGTERM its default action back (the watchdog stopped).
    static func restoreDefault() {
        guard pipeEnds[0] >= 0 else { return }
        signal(SIGTERM, SIG_DFL)
    }

    fileprivate static var writeEnd: Int32 { pipeEnds[1] }

    /// Waits up to `seconds` for SIGTERM; true when it came.
    static func wait(seconds: Double) -> Bool {
        guard pipeEnds[0] >= 0 else {
            usleep(useconds_t(seconds * 1e6))
            return false
        }
        var descriptor = pollfd(fd: pipeEnds[0], events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, Int32(seconds * 1000)) > 0 && descriptor.revents & Int16(POLLIN) != 0
    }
}

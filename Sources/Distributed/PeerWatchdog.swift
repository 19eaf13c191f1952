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
/// A process that dies is reported by mpirun itself (it ends the job within about a second, naming the rank and the
/// node), before any heartbeat timeout.
final class PeerWatchdog: @unchecked Sendable {
    /// The watchdog of this process's job, if one runs.
    static let current = Mutex<PeerWatchdog?>(nil)

    /// Heartbeats per second.
    static let interval = 0.5
    /// The tag of heartbeat messages on the watchdog's own communicator.
    private static let tag = 7131
    private static let messageCapacity = 256

    private let communicator: Communicator
    private let world: Communicator
    private let hosts: [String]
    private let timeout: Double
    private let phase = Mutex("starting")
    private let stopping = Atomic<Bool>(false)
    private var thread = pthread_t()

    // Touched by the watchdog thread only (and by `stop` after joining it).
    private var lastHeard: [Double]
    private var lastPhase: [String]
    private var finished: [Bool]
    private var receives: [Communicator.Transfer?]
    private var sends: [Communicator.Transfer?]

    private init(world: Communicator, hosts: [String], timeout: Double) {
        self.world = world
        communicator = world.duplicate()
        self.hosts = hosts
        self.timeout = timeout
        let now = Self.now()
        lastHeard = Array(repeating: now, count: world.size)
        lastPhase = Array(repeating: "starting", count: world.size)
        finished = Array(repeating: false, count: world.size)
        receives = Array(repeating: nil, count: world.size)
        sends = Array(repeating: nil, count: world.size)
    }

    /// Starts watching the ranks of `world` (collective: every rank calls it, with the hosts in rank order).
    static func start(world: Communicator, hosts: [String], timeout: Double) {
        guard world.size > 1, timeout > 0, Communicator.supportsConcurrentThreads else { return }
        let watchdog = PeerWatchdog(world: world, hosts: hosts, timeout: timeout)
        current.withLock { $0 = watchdog }
        watchdog.launch()
    }

    /// Records what this rank is doing, for the message should it stop responding.
    static func setPhase(_ text: String) {
        current.withLock { $0 }?.phase.withLock { $0 = text }
    }

    /// Stops the watchdog (the job ends normally or with an agreed error): says goodbye to the other ranks and
    /// releases its transfers before MPI finalizes.
    static func stop() {
        guard let watchdog = current.withLock({ value -> PeerWatchdog? in
            defer { value = nil }
            return value
        }) else { return }
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
        while !stopping.load(ordering: .acquiring) {
            let now = Self.now()
            for peer in peers where !finished[peer] { drain(peer, now: now) }
            let beat = [UInt8(0)] + Array(phase.withLock { $0 }.utf8.prefix(Self.messageCapacity - 1))
            for peer in peers where !finished[peer] {
                // One heartbeat in flight per peer: a stopped peer never makes this rank queue more.
                if sends[peer]?.isComplete() ?? true {
                    sends[peer] = communicator.startSend(beat, to: peer, tag: Self.tag)
                }
            }
            let silent = peers.filter { !finished[$0] && now - lastHeard[$0] > timeout }
            if !silent.isEmpty { endJob(silent, me: me, now: now) }
            usleep(useconds_t(Self.interval * 1e6))
        }
    }

    /// Takes every heartbeat that has arrived from `peer`.
    private func drain(_ peer: Int, now: Double) {
        while let transfer = receives[peer], transfer.isComplete() {
            let bytes = transfer.received ?? []
            lastHeard[peer] = now
            if bytes.first == 1 {
                finished[peer] = true
                receives[peer] = nil
                return
            }
            lastPhase[peer] = String(decoding: bytes.dropFirst(), as: UTF8.self)
            receives[peer] = communicator.startReceive(from: peer, tag: Self.tag, capacity: Self.messageCapacity)
        }
    }

    /// Reports the silent ranks (the lowest rank still responding does) and ends the job.
    private func endJob(_ silent: [Int], me: Int, now: Double) -> Never {
        let reporter = (0..<world.size).first { !silent.contains($0) }
        if reporter == me {
            for rank in silent {
                let silence = String(printf: "%.0f", now - lastHeard[rank])
                StandardError.writeLine(
                    "Error: rank \(rank) (host \(hosts[rank])) has not responded for \(silence) s (last reported: "
                        + "\(lastPhase[rank])); ending the job on every rank (--peer-timeout "
                        + String(printf: "%g", timeout) + ")")
            }
        } else {
            // Give the reporter time to print; end the job anyway should it be stuck as well.
            usleep(useconds_t((2 + timeout / 2) * 1e6))
        }
        world.abort(code: 1)
    }

    private func finish() {
        stopping.store(true, ordering: .releasing)
        pthread_join(thread, nil)
        let goodbye = [UInt8(1)]
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

/// Every place where rank 0, the coordinator, builds or decides something for the whole job goes through one of
/// these operations, in the wire encoding:
///
/// - `share`: rank 0 builds a value, every rank receives it (a prompt's ids, the batch's requests, a configuration
///   read from rank 0's disk);
/// - `decide`: every rank reports, rank 0 decides from all the reports, every rank receives the decision (the
///   sampler's token, beam search's next candidates, whether a phase failed anywhere);
/// - `collect`, the half of `decide` without an answer: every rank reports and rank 0 alone reads the reports
///   (resource and benchmark reports that rank 0 prints).
///
/// All three are collective over the channel: every rank calls them in the same order. The closures run on rank 0
/// only. A message that does not decode is a broken invariant between ranks of one binary, not bad input, so it
/// stops the process with the decoding error.
public struct Coordinator: Sendable {
    public let channel: any CoordinatorChannel

    public init(channel: any CoordinatorChannel) { self.channel = channel }

    public var rank: Int { channel.rank }
    public var size: Int { channel.size }
    public var isCoordinator: Bool { channel.rank == 0 }

    /// Rank 0 builds a value, every rank receives it. `build` runs on rank 0 only.
    public func share<Value: WireMessage>(_ build: () -> Value) -> Value {
        guard size > 1 else { return build() }
        let bytes = channel.broadcast(isCoordinator ? build().wireBytes() : [])
        return Self.decode(Value.self, bytes, what: "rank 0's value")
    }

    /// Every rank reports, rank 0 decides from all the reports (in rank order), every rank receives the decision.
    /// `decide` runs on rank 0 only.
    public func decide<Report: WireMessage, Decision: WireMessage>(
        report: Report, _ decide: ([Report]) -> Decision
    ) -> Decision {
        guard size > 1 else { return decide([report]) }
        let reports = channel.gather(report.wireBytes())
        var decision: [UInt8] = []
        if isCoordinator {
            decision = decide(
                reports.enumerated().map { Self.decode(Report.self, $1, what: "rank \($0)'s report") }
            ).wireBytes()
        }
        return Self.decode(Decision.self, channel.broadcast(decision), what: "rank 0's decision")
    }

    /// Every rank reports; rank 0 gets every report in rank order, the other ranks nil.
    public func collect<Report: WireMessage>(report: Report) -> [Report]? {
        guard size > 1 else { return [report] }
        let reports = channel.gather(report.wireBytes())
        guard isCoordinator else { return nil }
        return reports.enumerated().map { Self.decode(Report.self, $1, what: "rank \($0)'s report") }
    }

    private static func decode<T: WireMessage>(_: T.Type, _ bytes: [UInt8], what: String) -> T {
        do { return try T(wireBytes: bytes) } catch {
            preconditionFailure("cannot decode \(what) as \(T.self): \(error)")
        }
    }
}

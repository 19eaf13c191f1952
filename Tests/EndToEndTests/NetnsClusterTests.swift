import Foundation
import Testing

/// GLMCluster across nodes that reach each other only over TCP: `scripts/netns-cluster.sh` makes each node a
/// network namespace on a bridge, with its own address and host name, and Open MPI launches one rank per node by
/// host name through a launch agent (no shared memory between ranks, `--mca btl tcp,self`). Tensor parallelism
/// across the nodes gives the official code's logits and tokens, as on one host. Needs root (CI runs as root);
/// serialized, since every run creates and removes the same nodes.
@Suite(.serialized) struct NetnsClusterTests {
    /// Whether this process may create network namespaces.
    static let available: Bool = {
        guard getuid() == 0 else { return false }
        let probe = try? CommandRunner.run("/bin/sh", ["-c", "command -v ip && command -v unshare && ip netns list"])
        return probe?.status == 0
    }()

    /// The host names the ranks see are the nodes', and every node was removed afterwards.
    @Test(.enabled(if: available, "needs root and iproute2")) func ranksRunOnNamedNodesAndTheNodesGo() throws {
        let script = CommandRunner.packageRoot.appendingPathComponent("scripts/netns-cluster.sh").path
        let result = try CommandRunner.run(
            "/bin/bash", [script, "run", "3", "--", "/bin/sh", "-c", "hostname; ip -4 -o addr show eth0"], timeout: 120)
        try #require(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(Set(lines.filter { $0.hasPrefix("node") }) == ["node1", "node2", "node3"], "\(result.stdout)")
        #expect(lines.filter { $0.contains("inet 10.77.0.1") }.count == 3, "\(result.stdout)")
        let left = try CommandRunner.run("/bin/sh", ["-c", "ip netns list; grep -c netns-cluster /etc/hosts || true"])
        #expect(!left.stdout.contains("glmc-node"), "namespaces left behind: \(left.stdout)")
        #expect(left.stdout.split(separator: "\n").last == "0", "/etc/hosts entries left behind")
    }

    /// With the model on node1 only (the other nodes see an empty directory there, as without a shared
    /// filesystem), `--weights-from coordinator` gives the official vectors at TP 2 as shared loading does, and
    /// shared loading fails on rank 1, naming the rank and the file.
    @Test(.enabled(if: available, "needs root and iproute2")) func coordinatorLoadingNeedsTheModelOnNode1Only() throws {
        let fixture = try #require(ChatGLM2FamilyTests.fixtures["glm4"])
        let scratch = try CommandRunner.temporaryDirectory("netns-private")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let model = scratch.appendingPathComponent("model")
        try FileManager.default.copyItem(at: fixture.directory, to: model)
        try ChatGLM2FamilyTests.checkEveryCase("glm4", tp: 2, model: model) { ranks, arguments in
            try CommandRunner.netnsCluster(
                ranks, arguments + ["--weights-from", "coordinator"], privateDirectory: model.path)
        }
        let shared = try CommandRunner.netnsCluster(
            2, ["generate", "--model", model.path, "--prompt", "hello", "--max-new-tokens", "2", "--greedy"],
            privateDirectory: model.path)
        #expect(shared.status != 0)
        // node2 sees an empty directory where the model is.
        let named = "rank 1: cannot read configuration \(model.path)/config.json: no such file"
        #expect(shared.stderr.contains(named), "\(shared.stderr)")
    }

    /// GLM-4's official vectors (prefill and 16 decode steps' logits within 1e-4, the official tokens) at TP 2 and
    /// 4 across nodes, the links shaped to 1 Gbit/s.
    @Test(.enabled(if: available, "needs root and iproute2"), arguments: [2, 4])
    func glm4AcrossNodesMatchesTheOfficialCode(nodes: Int) throws {
        try ChatGLM2FamilyTests.checkEveryCase("glm4", tp: nodes) { ranks, arguments in
            try CommandRunner.netnsCluster(ranks, arguments, rate: "1gbit")
        }
    }
}

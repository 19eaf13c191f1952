#!/usr/bin/env bash
# A cluster of N nodes on this machine (issue 21): each node is a network namespace on a bridge, with its own
# address and host name (node1, node2, ...), reached only over TCP. Open MPI launches ranks on them by host name
# through a launch agent that enters the node's namespace (no ssh), so the hostfile and command lines are those of a
# real cluster. Needs root (CI runs as root), iproute2 and util-linux's unshare.
#
# Usage:
#   scripts/netns-cluster.sh up N [--rate RATE]   create nodes node1..nodeN (RATE: a tc tbf rate per node link,
#                                                 both directions, e.g. 10gbit or 1gbit); prints the hostfile path
#   scripts/netns-cluster.sh down                 remove every node, the bridge and the /etc/hosts entries
#   scripts/netns-cluster.sh run N [--rate RATE] -- ARGS...
#                                                 up, then `mpirun <cluster options> ARGS...` over the N nodes (one
#                                                 slot each), then down, even when mpirun fails or is interrupted;
#                                                 exits with mpirun's status
#   scripts/netns-cluster.sh agent [opts] HOST CMD...
#                                                 the launch agent Open MPI calls (plm_rsh_agent): runs CMD in
#                                                 HOST's namespace, with HOST as its host name
# Environment: GLM_NETNS_SUBNET (first three octets, default 10.77.0), GLM_NETNS_PREFIX (names of the namespaces,
# bridge and links; default glmc), GLM_NETNS_PRIVATE (a directory only node1 sees: on every other node the agent
# mounts an empty tmpfs over it in the node's own mount namespace, as on a cluster without a shared filesystem).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
subnet="${GLM_NETNS_SUBNET:-10.77.0}"
prefix="${GLM_NETNS_PREFIX:-glmc}"
bridge="${prefix}br0"
hosts_tag="# ${prefix}-netns-cluster"
state="/run/${prefix}-netns-cluster"

die() { echo "netns-cluster.sh: $*" >&2; exit 1; }

# Every node created by an earlier `up` (its namespace name), from the namespaces that exist.
nodes() { ip netns list 2>/dev/null | awk -v p="${prefix}-" 'index($1, p) == 1 { print substr($1, length(p) + 1) }'; }

down() {
    for node in $(nodes); do
        # A daemon cut off from mpirun (a node whose link went down) never exits by itself: end what still runs in
        # the node before removing it.
        local pids; pids="$(ip netns pids "${prefix}-$node" 2>/dev/null || true)"
        [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
        ip netns del "${prefix}-$node" 2>/dev/null || true
    done
    for link in $(ip -o link show 2>/dev/null | awk -F': ' -v p="${prefix}veth" 'index($2, p) == 1 { sub(/@.*/, "", $2); print $2 }'); do
        ip link del "$link" 2>/dev/null || true
    done
    ip link del "$bridge" 2>/dev/null || true
    if grep -q "$hosts_tag" /etc/hosts 2>/dev/null; then
        # /etc/hosts may be a bind mount (containers): rewrite it in place rather than replacing the file.
        local kept; kept="$(grep -v "$hosts_tag" /etc/hosts)"
        printf '%s\n' "$kept" > /etc/hosts
    fi
    rm -rf "$state"
}

# A new namespace NS on the bridge through the veth pair LINK (bridge side) / eth0 (its side), at ADDRESS.
attach() {
    local ns="$1" link="$2" address="$3"
    ip netns add "$ns"
    ip link add "$link" type veth peer name eth0 netns "$ns"
    ip link set "$link" master "$bridge" up
    ip -n "$ns" addr add "$address/24" dev eth0
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
}

up() {
    local count="$1" rate="${2:-}"
    [[ "$count" =~ ^[0-9]+$ ]] && [ "$count" -ge 1 ] && [ "$count" -le 200 ] || die "node count must be 1-200, got '$count'"
    [ "$(id -u)" = 0 ] || die "needs root (network namespaces, veth links, a bridge)"
    command -v ip > /dev/null || die "needs iproute2 (ip)"
    command -v unshare > /dev/null || die "needs unshare (util-linux)"
    down  # a previous run's leftovers (a killed job) would clash
    ip link add "$bridge" type bridge
    ip addr add "$subnet.1/24" dev "$bridge"
    ip link set "$bridge" up
    mkdir -p "$state"
    : > "$state/hostfile"
    # The launch node, where mpirun runs (a cluster's login or batch node): on the bridge like the nodes, and with
    # TCP giving up on an unanswered peer after about 12 s instead of Linux's default 15 minutes, so that mpirun
    # learns of a node whose link went down (the ranks end by themselves within --peer-timeout).
    attach "${prefix}-head" "${prefix}vethh" "$subnet.2"
    ip netns exec "${prefix}-head" sysctl -qw net.ipv4.tcp_retries2="${GLM_NETNS_TCP_RETRIES:-5}"
    local i
    for i in $(seq 1 "$count"); do
        local node="node$i" ns="${prefix}-node$i" link="${prefix}veth$i" address="$subnet.$((10 + i))"
        attach "$ns" "$link" "$address"
        ip -n "$ns" route add default via "$subnet.1"
        if [ -n "$rate" ]; then
            # Token bucket on both ends of the node's link: what leaves the node and what reaches it.
            tc qdisc add dev "$link" root tbf rate "$rate" burst 256kb latency 50ms
            tc -n "$ns" qdisc add dev eth0 root tbf rate "$rate" burst 256kb latency 50ms
        fi
        echo "$address $node $hosts_tag" >> /etc/hosts
        echo "$node slots=1" >> "$state/hostfile"
    done
    echo "$state/hostfile"
}

agent() {
    # Open MPI calls the agent as ssh: options first (ignored), then the host, then the command line.
    while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do shift; done
    [ $# -ge 2 ] || die "agent: usage: agent HOST COMMAND..."
    local host="$1"; shift
    ip netns list | awk '{ print $1 }' | grep -qx "${prefix}-$host" || die "agent: no node $host (run up first)"
    # Its own UTS namespace gives the node its host name; the command line arrives as one string, as over ssh.
    local private="${GLM_NETNS_PRIVATE:-}"
    if [ -n "$private" ] && [ "$host" != node1 ]; then
        [ -d "$private" ] || die "agent: GLM_NETNS_PRIVATE=$private is not a directory"
        # A mount namespace of its own, with the private directory hidden under an empty tmpfs.
        exec ip netns exec "${prefix}-$host" unshare --uts --mount --propagation private /bin/sh -c \
            'hostname "$0"; mount -t tmpfs none "$2"; exec /bin/sh -c "$1"' "$host" "$*" "$private"
    fi
    exec ip netns exec "${prefix}-$host" unshare --uts /bin/sh -c 'hostname "$0"; exec /bin/sh -c "$1"' "$host" "$*"
}

run() {
    local count="$1"; shift
    local rate=""
    if [ "${1:-}" = "--rate" ]; then rate="$2"; shift 2; fi
    [ "${1:-}" = "--" ] || die "run: usage: run N [--rate RATE] -- MPIRUN-ARGS..."
    shift
    trap down EXIT
    trap 'exit 130' INT TERM
    local hostfile; hostfile="$(up "$count" "$rate")"
    # shellcheck source=mpi-env.sh
    source "$here/mpi-env.sh"
    # The nodes share this machine's cores: more nodes than cores need MPI to yield the CPU while it waits, or
    # each rank's busy polling starves the ranks it waits for (docs/BENCHMARKS.md, "Cluster communication and scaling").
    local yield=()
    [ "$count" -le "$(nproc)" ] || yield=(--mca mpi_yield_when_idle 1)
    local status=0
    # Every byte between ranks crosses TCP on the bridge's subnet (no shared memory, no loopback), and each node
    # binds nothing: the nodes share this machine's cores.
    ip netns exec "${prefix}-head" mpirun --hostfile "$hostfile" --mca plm_rsh_agent "$here/netns-cluster.sh agent" \
        --mca btl tcp,self --mca btl_tcp_if_include "$subnet.0/24" --mca oob_tcp_if_include "$subnet.0/24" --bind-to none \
        "${yield[@]}" -np "$count" "$@" || status=$?
    return "$status"
}

case "${1:-}" in
    up) shift; count="${1:-}"; shift || true; rate=""; if [ "${1:-}" = "--rate" ]; then rate="$2"; fi; up "$count" "$rate" ;;
    down) down ;;
    run) shift; run "$@" ;;
    agent) shift; agent "$@" ;;
    *) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2 ;;
esac

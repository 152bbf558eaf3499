#!/usr/bin/env bash
# bench/fleet/run.sh — cutover on many hosts: commit → last host switched for
# fleets of `cutover serve` processes and of simulated hosts, on real etcd.
#
#   bench/fleet/run.sh                                  # full run (~9 min on 2 busy cores)
#   DEPLOYS=5 SIM_DEPLOYS=3 SIM_AGENTS=50 bench/fleet/run.sh   # quick run
#
# It installs etcd from Debian (etcd-server) when it is missing (as root),
# builds cutover, the benchmark program and the internal/fleet test binary
# from this checkout once, then:
#   1. runs BenchmarkFleetCommit (internal/fleet) for each simulated fleet
#      size: that many fleet agents in one process, each on its own etcd
#      connection, against the etcd binary; past 120 hosts the commit takes
#      the batched path (etcd's --max-txn-ops is 128);
#   2. runs bench/fleet for each fleet of `cutover serve` processes on a fresh
#      etcd, with probe clients sending to every host, with the state on disk
#      and again on tmpfs;
# and writes bench/fleet/RESULTS.md plus bench/fleet/results.json.
#
# Environment overrides (defaults in brackets):
#   HOSTS [5,20]              fleets of cutover serve processes
#   DEPLOYS [20]              measured deploys per process fleet
#   PROBES [2]                probe workers (each sends to every host in turn)
#   SIM_AGENTS [50,100,150]   simulated fleet sizes (50, 100 and 150 exist)
#   SIM_DEPLOYS [20,10,5]     measured deploys per simulated size, one value or
#                             one per size (the larger fleets are CPU-bound
#                             here: every host's work adds up on this machine)
#   TMPFS_WORK [/dev/shm/cutover-bench-fleet]  tmpfs scratch: each process fleet
#                             runs again with etcd's data and the hosts' state there
#                             (no fsync cost); empty to skip
#   NICE [unset]              e.g. -5: run the benchmark at a higher priority on
#                             a machine that other work shares (recorded in the report)
#   OUT [bench/fleet/RESULTS.md]
#   WORK [/tmp/cutover-bench-fleet]   scratch: binaries, etcd data, configs, logs
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"

die() { echo "bench/fleet/run.sh: $*" >&2; exit 1; }

HOSTS=${HOSTS:-5,20}
DEPLOYS=${DEPLOYS:-20}
PROBES=${PROBES:-2}
SIM_AGENTS=${SIM_AGENTS:-50,100,150}
SIM_DEPLOYS=${SIM_DEPLOYS:-20,10,5}
OUT=${OUT:-$repo/bench/fleet/RESULTS.md}
WORK=${WORK:-/tmp/cutover-bench-fleet}
TMPFS_WORK=${TMPFS_WORK-/dev/shm/cutover-bench-fleet}

command=""
for v in HOSTS DEPLOYS PROBES SIM_AGENTS SIM_DEPLOYS TMPFS_WORK NICE; do
	if printenv "$v" >/dev/null; then command+="$v=$(printenv "$v") "; fi
done
command+="bench/fleet/run.sh"

run() {
	if [[ -n ${NICE:-} ]]; then nice -n "$NICE" "$@"; else "$@"; fi
}

if ! command -v etcd >/dev/null; then
	[[ $(id -u) -eq 0 ]] || die "etcd is missing; install it (apt-get install etcd-server)"
	apt-get install -y -q etcd-server >/dev/null
fi
etcd_bin=$(command -v etcd)

rm -rf "$WORK"
mkdir -p "$WORK/sim"
if [[ -n $TMPFS_WORK ]]; then
	[[ $(stat -f -c %T "$(dirname "$TMPFS_WORK")") == tmpfs ]] || die "TMPFS_WORK=$TMPFS_WORK is not on tmpfs"
	rm -rf "$TMPFS_WORK"
	mkdir -p "$TMPFS_WORK"
	trap 'rm -rf "$TMPFS_WORK"' EXIT # it holds memory
fi
go build -o "$WORK/cutover" ./cmd/cutover
go build -o "$WORK/fleetbench" ./bench/fleet
go test -c -o "$WORK/fleet.test" ./internal/fleet

commit=$(git rev-parse --short HEAD)
if [[ -n $(git status --porcelain -- cmd internal go.mod go.sum) ]]; then
	commit="$commit (built from a working tree with uncommitted changes under cmd/ or internal/)"
fi

# 1. Simulated hosts.
IFS=, read -ra sizes <<<"$SIM_AGENTS"
IFS=, read -ra counts <<<"$SIM_DEPLOYS"
sim_cmd=""
for i in "${!sizes[@]}"; do
	n=${sizes[$i]}
	d=${counts[$i]:-${counts[-1]}}
	echo "bench/fleet/run.sh: $n simulated hosts, $d deploys" >&2
	(cd "$WORK/sim" && CUTOVER_FLEETBENCH_OUT="$WORK/sim" run "$WORK/fleet.test" -test.run '^$' \
		-test.bench "^BenchmarkFleetCommit/agents=$n\$" -test.benchtime "${d}x" -test.timeout 30m) 2>&1 | tee "$WORK/sim/bench-$n.txt" >&2 || true
	grep -q '^PASS' "$WORK/sim/bench-$n.txt" || die "BenchmarkFleetCommit/agents=$n failed; see $WORK/sim/bench-$n.txt"
	sim_cmd+="${sim_cmd:+; }go test -run '^\$' -bench 'FleetCommit/agents=$n\$' -benchtime ${d}x ./internal/fleet/"
done

# 2. Processes.
run "$WORK/fleetbench" -bin "$WORK/cutover" -etcd "$etcd_bin" -work "$WORK" \
	-out "$OUT" -raw "$here/results.json" -commit "$commit" -command "$command" \
	-hosts "$HOSTS" -deploys "$DEPLOYS" -probes "$PROBES" ${TMPFS_WORK:+-tmpfs-work "$TMPFS_WORK"} \
	-sim "$WORK/sim" -sim-command "$sim_cmd"

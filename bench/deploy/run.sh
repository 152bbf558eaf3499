#!/usr/bin/env bash
# bench/deploy/run.sh — cutover on one host, end to end: switch latency after
# the health gate, rollback to the warm standby, memory of `cutover serve`.
#
#   bench/deploy/run.sh                       # full run (~2 min on 2 busy cores)
#   DEPLOYS=10 ROLLBACKS=10 LOAD=5s bench/deploy/run.sh   # quick run
#
# It builds cutover and the benchmark program from this checkout, runs them,
# and writes bench/DEPLOY.md plus bench/deploy/results.json. wrk is needed for
# the memory-under-load run; as root it is installed from apt when missing.
#
# Environment overrides (defaults in brackets):
#   DEPLOYS [100]    deploys measured for the switch latency
#   ROLLBACKS [100]  rollbacks to the warm standby (each after its own deploy)
#   PROBES [2]       closed-loop probe clients
#   CONNS [64]       wrk keep-alive connections for the memory-under-load run
#   LOAD [20s]       length of that run
#   OUT [bench/DEPLOY.md]
#   WORK [/tmp/cutover-bench-deploy]   scratch: binaries, config, state, serve.log
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"

DEPLOYS=${DEPLOYS:-100}
ROLLBACKS=${ROLLBACKS:-100}
PROBES=${PROBES:-2}
CONNS=${CONNS:-64}
LOAD=${LOAD:-20s}
OUT=${OUT:-$repo/bench/DEPLOY.md}
WORK=${WORK:-/tmp/cutover-bench-deploy}

if ! command -v wrk >/dev/null; then
	[[ $(id -u) -eq 0 ]] || { echo "bench/deploy/run.sh: wrk is missing; install it (apt-get install wrk)" >&2; exit 1; }
	apt-get install -y -q wrk >/dev/null
fi

rm -rf "$WORK"
mkdir -p "$WORK"
go build -o "$WORK/cutover" ./cmd/cutover
go build -o "$WORK/deploybench" ./bench/deploy

commit=$(git rev-parse --short HEAD)
if [[ -n $(git status --porcelain -- cmd internal go.mod go.sum) ]]; then
	commit="$commit (built from a working tree with uncommitted changes under cmd/ or internal/)"
fi

"$WORK/deploybench" -bin "$WORK/cutover" -wrk "$(command -v wrk)" -work "$WORK" \
	-out "$OUT" -raw "$here/results.json" -commit "$commit" \
	-deploys "$DEPLOYS" -rollbacks "$ROLLBACKS" -probes "$PROBES" -conns "$CONNS" -load "$LOAD"

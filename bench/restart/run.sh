#!/usr/bin/env bash
# bench/restart/run.sh — what a restart or an upgrade of the proxy costs:
# cutover, nginx and HAProxy in the same run.
#
#   bench/restart/run.sh                               # full run (~6 min on 2 cores)
#   RESTARTS=5 UPGRADES=5 BEFORE= bench/restart/run.sh   # quick run
#
# It builds cutover, the benchmark's Go backend and the benchmark program
# from this checkout, and (unless BEFORE is empty) cutover as it was at
# commit BEFORE, before restarts served the recorded routing first, from the
# git objects (nothing is checked out). nginx and haproxy must be installed
# (as root they are installed from apt when missing); nginx runs as a daemon,
# as its binary upgrade requires. It writes bench/RESTART.md and
# bench/restart/results.json.
#
# Environment overrides (defaults in brackets):
#   RESTARTS [20]          kill -9 restarts per subject
#   BEFORE [e6e4ab0]       commit of the "before" cutover ("" to skip it)
#   BEFORE_RESTARTS [5]    its restarts (each mid-deploy one waits for a 10s stop grace)
#   UPGRADES [20]          upgrades per proxy under load
#   WORKERS [32]           concurrent clients during upgrades
#   OUT [bench/RESTART.md]
#   WORK [/tmp/cutover-bench-restart]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"

RESTARTS=${RESTARTS:-20}
BEFORE=${BEFORE-e6e4ab0}
BEFORE_RESTARTS=${BEFORE_RESTARTS:-5}
UPGRADES=${UPGRADES:-20}
WORKERS=${WORKERS:-32}
OUT=${OUT:-$repo/bench/RESTART.md}
WORK=${WORK:-/tmp/cutover-bench-restart}

for tool in nginx haproxy; do
	if ! command -v "$tool" >/dev/null; then
		[[ $(id -u) -eq 0 ]] || { echo "bench/restart/run.sh: $tool is missing; install it (apt-get install $tool)" >&2; exit 1; }
		apt-get install -y -q "$tool" >/dev/null
	fi
done

bins="$WORK-bin"
rm -rf "$bins"
mkdir -p "$bins/now" "$bins/before"
go build -o "$bins/now/cutover" ./cmd/cutover
go build -o "$bins/backend" ./bench/backend
go build -o "$bins/restartbench" ./bench/restart
before_bin=""
if [[ -n $BEFORE ]]; then
	src="$bins/before-src"
	mkdir -p "$src"
	git archive "$BEFORE" | tar -x -C "$src"
	(cd "$src" && go build -o "$bins/before/cutover" ./cmd/cutover)
	before_bin="$bins/before/cutover"
fi

commit=$(git rev-parse --short HEAD)
if [[ -n $(git status --porcelain -- cmd internal go.mod go.sum) ]]; then
	commit="$commit (built from a working tree with uncommitted changes under cmd/ or internal/)"
fi
if [[ -n $BEFORE ]]; then
	commit="$commit; before: $BEFORE"
fi

"$bins/restartbench" -bin "$bins/now/cutover" -before "$before_bin" -backend "$bins/backend" \
	-nginx "$(command -v nginx)" -haproxy "$(command -v haproxy)" -work "$WORK" \
	-out "$OUT" -raw "$here/results.json" -commit "$commit" \
	-restarts "$RESTARTS" -before-restarts "$BEFORE_RESTARTS" -upgrades "$UPGRADES" -workers "$WORKERS"
echo "wrote $OUT"

#!/usr/bin/env bash
# bench/embedded/run.sh — what the embedded etcd server costs: binary size,
# packages, RSS after start and time from exec to ready of `cutover serve`,
# for the default build, the embedetcd build (local backend, and the
# embedded backend with 1 and 3 members), and the default build with an
# external etcd (Debian's etcd-server) for comparison.
#
#   bench/embedded/run.sh              # 10 runs per scenario (~2 min)
#   RUNS=3 bench/embedded/run.sh       # quick run
#
# It writes bench/embedded-etcd.md and bench/embedded/results.json. To rewrite
# the report from the saved results without measuring again:
#   go run ./bench/embedded -from bench/embedded/results.json -out bench/embedded-etcd.md
#
# Environment overrides (defaults in brackets):
#   RUNS [10]    runs per scenario
#   SETTLE [3s]  wait after ready before reading RSS
#   OUT [bench/embedded-etcd.md]
#   WORK [/tmp/cutover-bench-embedded]  scratch: binaries, configs, state
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"

RUNS=${RUNS:-10}
SETTLE=${SETTLE:-3s}
OUT=${OUT:-$repo/bench/embedded-etcd.md}
WORK=${WORK:-/tmp/cutover-bench-embedded}

etcd=$(command -v etcd || true)
if [[ -z $etcd ]]; then
	[[ $(id -u) -eq 0 ]] || { echo "bench/embedded/run.sh: etcd is missing; install it (apt-get install etcd-server)" >&2; exit 1; }
	apt-get install -y -q etcd-server >/dev/null
	(systemctl stop etcd || service etcd stop) >/dev/null 2>&1 || true
	etcd=$(command -v etcd)
fi

rm -rf "$WORK"
mkdir -p "$WORK"
go build -o "$WORK/cutover" ./cmd/cutover
go build -tags embedetcd -o "$WORK/cutover-embedetcd" ./cmd/cutover
go build -ldflags "-s -w" -o "$WORK/cutover-stripped" ./cmd/cutover
go build -tags embedetcd -ldflags "-s -w" -o "$WORK/cutover-embedetcd-stripped" ./cmd/cutover
go build -o "$WORK/embedbench" ./bench/embedded

commit=$(git rev-parse --short HEAD)
if [[ -n $(git status --porcelain -- cmd internal go.mod go.sum) ]]; then
	commit="$commit (built from a working tree with uncommitted changes under cmd/ or internal/)"
fi

"$WORK/embedbench" -work "$WORK" -etcd "$etcd" -runs "$RUNS" -settle "$SETTLE" \
	-out "$OUT" -raw "$here/results.json" -commit "$commit" \
	-pkgs-default "$(go list -deps ./cmd/cutover | wc -l)" \
	-pkgs-embedded "$(go list -tags embedetcd -deps ./cmd/cutover | wc -l)"
echo "wrote $OUT"

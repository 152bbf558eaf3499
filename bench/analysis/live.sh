#!/usr/bin/env bash
# bench/analysis/live.sh — canary analysis on real traffic through the built
# binary: A/A, +2-point error-rate, +30 ms latency and low-traffic canaries at
# 20 req/s (2 req/s for the last), several runs at a time on their own ports.
#
#   bench/analysis/live.sh                            # 20 A/A, 20 +2 points, 5 latency, 3 low traffic
#   AA=4 REGRESS=4 LATENCY=1 LOW=0 bench/analysis/live.sh   # quick run
#
# Writes bench/CANARY.md and bench/analysis/live-results.json (OUT, RAW to
# change) with the machine, date and commit. A run takes up to LIMIT (10m);
# PARALLEL (10) runs go at once, each a cutover serve, two sample apps and a
# load generator, light on CPU at these rates. Extra flags go to the program
# (go run ./bench/analysis/live -h), e.g. -steps "5, 25, 50, 100".
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
WORK=${WORK:-/tmp/cutover-bench-canary}

cpu=$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)
machine="$(nproc) CPUs, $(uname -srm), ${cpu:-unknown CPU}"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git status --porcelain -- cmd internal 2>/dev/null) ]]; then
	commit="$commit (with uncommitted changes under cmd/ or internal/)"
fi

rm -rf "$WORK"
mkdir -p "$WORK"
go build -o "$WORK/cutover" ./cmd/cutover
go build -o "$WORK/live" ./bench/analysis/live
"$WORK/live" -bin "$WORK/cutover" -work "$WORK" \
	-out "${OUT:-bench/CANARY.md}" -raw "${RAW:-bench/analysis/live-results.json}" \
	-parallel "${PARALLEL:-10}" -aa "${AA:-20}" -regress "${REGRESS:-20}" -latency "${LATENCY:-5}" -low "${LOW:-3}" \
	-limit "${LIMIT:-10m}" -machine "$machine" -commit "$commit" "$@"
echo "wrote ${OUT:-bench/CANARY.md}"

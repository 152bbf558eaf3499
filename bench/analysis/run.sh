#!/usr/bin/env bash
# bench/analysis/run.sh — canary analysis benchmark on simulated traffic.
#
#   bench/analysis/run.sh                  # full run: 1,000 A/A + 200 per scenario
#   AA_RUNS=100 RUNS=20 bench/analysis/run.sh   # quick run
#
# Writes bench/ANALYSIS.md (OUT to change) with the machine, date and commit.
# Needs only Go (the version in go.mod). Extra flags are passed to the program
# (see `go run ./bench/analysis -h`), e.g. -rate 10 -weight 0.05.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"

cpu=$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)
machine="$(nproc) CPUs, $(uname -srm), ${cpu:-unknown CPU}"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! git diff --quiet HEAD -- internal/analysis bench/analysis 2>/dev/null; then
	commit="$commit (with uncommitted changes to the analysis)"
fi

go build -o /tmp/cutover-analysis-bench ./bench/analysis
/tmp/cutover-analysis-bench \
	-out "${OUT:-bench/ANALYSIS.md}" \
	-aa-runs "${AA_RUNS:-1000}" -runs "${RUNS:-200}" \
	-machine "$machine" -commit "$commit" "$@"
echo "wrote ${OUT:-bench/ANALYSIS.md}"

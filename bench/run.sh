#!/usr/bin/env bash
# bench/run.sh — data plane benchmark: cutover vs nginx, HAProxy and Caddy.
#
# Run as root on a Debian machine with at least 2 CPUs, from anywhere:
#
#   bench/run.sh                          # full run (3 rounds x 10 s, ~10 min)
#   ROUNDS=1 DURATION=3 bench/run.sh      # quick run (~2 min)
#
# It installs nginx, haproxy, caddy, wrk and taskset from Debian if missing,
# builds the Go backend, load client, harness, cutover and the data-plane
# driver, runs the proxy's Go benchmark (allocations per request), then runs
# bench/harness, which writes bench/RESULTS.md with bench/PROFILE.md (what
# the profiles show limits cutover, and what was tried) included as it is. Go (at least
# the version in go.mod) must be installed; Debian 12's golang-go is too old.
#
# Environment overrides (defaults in brackets):
#   ROUNDS [3]            interleaved rounds of speed runs
#   DURATION [10s]        one measured wrk run (whole seconds; "10" means 10s)
#   WARMUP [1s]           unmeasured wrk run before each measured one
#   WORKLOADS [c1,c64,c256,newconn,16k,1m,post16k,idle10k]  speed runs:
#                         100 B responses at 1, 64 and 256 connections, a new
#                         connection per request, 16 KB and 1 MB responses,
#                         16 KB POST bodies, and 64 connections while 10,000
#                         idle keep-alive connections are held
#   CONNS [64,256]        connection counts of the switch runs
#   SWITCH_DURATION [10s] one run while versions are switched
#   SWITCH_EVERY [100ms]  switch interval
#   SUBJECTS [direct,nginx,haproxy,caddy,cutover,library]
#   PROXY_CPU [0] LOAD_CPU [1]   CPU for proxies + backend, CPU for wrk + clients
#   OUT [bench/RESULTS.md]       report path (raw numbers go beside it as results.json)
#   WORK [/tmp/cutover-bench]    scratch dir: rendered configs, logs, full wrk output
#   NICE [unset]          e.g. -10: run everything at a higher priority, for a
#                         machine that other work shares (recorded in the report)
#   SKIP_INSTALL=1        do not touch apt
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"

die() { echo "bench/run.sh: $*" >&2; exit 1; }
secs() { [[ $1 =~ ^[0-9]+$ ]] && echo "${1}s" || echo "$1"; }

[[ $(id -u) -eq 0 ]] || die "run as root (it installs packages and runs nginx with its own config)"

ROUNDS=${ROUNDS:-3}
DURATION=$(secs "${DURATION:-10s}")
WARMUP=$(secs "${WARMUP:-1s}")
CONNS=${CONNS:-64,256}
WORKLOADS=${WORKLOADS:-c1,c64,c256,newconn,16k,1m,post16k,idle10k}
SWITCH_DURATION=$(secs "${SWITCH_DURATION:-10s}")
SWITCH_EVERY=${SWITCH_EVERY:-100ms}
SUBJECTS=${SUBJECTS:-direct,nginx,haproxy,caddy,cutover,library}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
OUT=${OUT:-$repo/bench/RESULTS.md}
WORK=${WORK:-/tmp/cutover-bench}

# The command line as given, for the report.
command=""
for v in ROUNDS DURATION WARMUP CONNS WORKLOADS SWITCH_DURATION SWITCH_EVERY SUBJECTS PROXY_CPU LOAD_CPU NICE; do
	if printenv "$v" >/dev/null; then command+="$v=$(printenv "$v") "; fi
done
command+="bench/run.sh"

# --- packages -----------------------------------------------------------------
install_packages() {
	local want=() pkg bin
	declare -A bins=([nginx]=nginx [haproxy]=haproxy [caddy]=caddy [wrk]=wrk [util-linux]=taskset)
	for pkg in nginx haproxy caddy wrk util-linux; do
		bin=${bins[$pkg]}
		command -v "$bin" >/dev/null || want+=("$pkg")
	done
	[[ ${#want[@]} -gt 0 ]] || return 0
	echo "installing from Debian: ${want[*]}"
	apt-get update -qq
	local avail=()
	for pkg in "${want[@]}"; do
		if apt-cache policy "$pkg" | grep -q 'Candidate: [0-9]'; then
			avail+=("$pkg")
		else
			echo "note: package $pkg is not available from this machine's Debian sources; it will be skipped" >&2
		fi
	done
	[[ ${#avail[@]} -gt 0 ]] || return 0
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${avail[@]}" >/dev/null
	# The packages start their own services on :80; they are not part of the
	# benchmark and would only compete for the CPUs.
	if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
		for pkg in "${avail[@]}"; do
			case $pkg in nginx | haproxy | caddy) systemctl disable --now "$pkg" >/dev/null 2>&1 || true ;; esac
		done
	fi
}
if [[ ${SKIP_INSTALL:-0} != 1 ]]; then install_packages; fi
for bin in nginx haproxy wrk taskset; do
	command -v "$bin" >/dev/null || die "$bin is missing (install it or unset SKIP_INSTALL)"
done
command -v caddy >/dev/null || echo "note: caddy is not installed; its row will be skipped" >&2

# --- CPUs -------------------------------------------------------------------------
ncpu=$(nproc --all)
if ((ncpu < 2)); then
	echo "warning: only $ncpu CPU; proxy and load generator share it, numbers are not comparable" >&2
	PROXY_CPU=0 LOAD_CPU=0
fi

# --- build ------------------------------------------------------------------------
export PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null || die "Go is not installed: install the version named in go.mod from https://go.dev/dl (Debian 12's golang-go 1.19 is too old)"
bin=$WORK/bin
mkdir -p "$bin"
echo "building into $bin"
go build -o "$bin/backend" ./bench/backend
go build -o "$bin/loadcheck" ./bench/loadcheck
go build -o "$bin/harness" ./bench/harness
rm -f "$bin/cutover" "$bin/proxyonly"
go build -o "$bin/cutover" ./cmd/cutover || echo "note: cmd/cutover does not build; its row will be skipped" >&2
go build -o "$bin/proxyonly" ./bench/proxyonly 2>"$WORK/proxyonly-build.log" ||
	echo "note: bench/proxyonly does not build (see $WORK/proxyonly-build.log); the data plane (library) row will be skipped" >&2

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git status --porcelain --untracked-files=no -- . ':!bench/RESULTS.md' ':!bench/results.json' 2>/dev/null) ]]; then
	commit="$commit (with uncommitted changes in the working tree)"
fi

# --- allocations per request -----------------------------------------------------
echo "running the proxy's Go benchmark (allocations per request)"
go test -run '^$' -bench 'BenchmarkProxy|BenchmarkServerLoop|BenchmarkParseRequestHead' -benchmem -benchtime 20000x -count 1 ./internal/proxy/ >"$WORK/gobench.txt" 2>&1 ||
	echo "note: the proxy's Go benchmark failed (see $WORK/gobench.txt)" >&2
analysis=()
if [[ -f $here/PROFILE.md ]]; then analysis=(-analysis "$here/PROFILE.md"); fi

# --- run --------------------------------------------------------------------------
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
nice=()
if [[ -n ${NICE:-} ]]; then nice=(nice -n "$NICE"); fi
exec "${nice[@]}" taskset -c "$LOAD_CPU" "$bin/harness" \
	-work "$WORK" -conf "$here" -bin "$bin" -out "$OUT" -raw "$(dirname "$OUT")/results.json" \
	-rounds "$ROUNDS" -duration "$DURATION" -warmup "$WARMUP" -conns "$CONNS" -workloads "$WORKLOADS" \
	-switch-duration "$SWITCH_DURATION" -switch-every "$SWITCH_EVERY" -subjects "$SUBJECTS" \
	-proxy-cpu "$PROXY_CPU" -load-cpu "$LOAD_CPU" -commit "$commit" -command "$command" \
	-gobench "$WORK/gobench.txt" "${analysis[@]}"

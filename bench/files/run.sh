#!/usr/bin/env bash
# bench/files/run.sh — static files: cutover's files: block vs nginx, side by side.
#
# Run as root on a Debian machine with at least 2 CPUs:
#
#   bench/files/run.sh                        # 3 interleaved rounds x 10 s
#   ROUNDS=1 DURATION=5 bench/files/run.sh    # quick
#
# nginx (one worker, sendfile on, access log off) and cutover (access log
# off) serve the same directory on CPU 0; wrk runs on CPU 1. For each of a
# 10 KB and a 1 MB file and each connection count, the rounds interleave
# the two servers, and the median of the rounds is reported with the
# ratio to nginx and each server's RSS after the runs, in
# bench/FILES.md (machine and date included).
#
# Environment (defaults in brackets): ROUNDS [3], DURATION [10] seconds,
# CONNS ["64 256"], PROXY_CPU [0], LOAD_CPU [1], WORK [/tmp/cutover-bench-files],
# OUT [bench/FILES.md], SKIP_INSTALL=1 to leave apt alone.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-"64 256"}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
WORK=${WORK:-/tmp/cutover-bench-files}
OUT=${OUT:-$repo/bench/FILES.md}

die() { echo "bench/files/run.sh: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "run as root (it runs nginx with its own config)"
if [[ -z ${SKIP_INSTALL:-} ]]; then
	need=()
	for b in nginx wrk taskset; do command -v "$b" >/dev/null || need+=("$b"); done
	if [[ ${#need[@]} -gt 0 ]]; then
		pk=("${need[@]/taskset/util-linux}")
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pk[@]}" >/dev/null
	fi
fi
for b in nginx wrk taskset go; do command -v "$b" >/dev/null || die "$b is missing"; done

rm -rf "$WORK" && mkdir -p "$WORK/files/v1" "$WORK/state"
cd "$repo"
echo "building cutover"
go build -o "$WORK/cutover" ./cmd/cutover
head -c 10240 /dev/urandom >"$WORK/files/v1/10k.bin"
head -c 1048576 /dev/urandom >"$WORK/files/v1/1m.bin"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
NGINX_PORT=$(free_port)
CUTOVER_PORT=$(free_port)
APP_PORT=$(free_port)
APP_PORT2=$(free_port)

cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$NGINX_PORT reuseport;
        location /assets/ { alias $WORK/files/v1/; }
    }
}
EOF
cat >"$WORK/cutover.yaml" <<EOF
listen:
  http: "127.0.0.1:$CUTOVER_PORT"
admin:
  socket: "$WORK/admin.sock"
state_dir: "$WORK/state"
access_log: false
services:
  app:
    process:
      command: "$WORK/cutover"
      args: [sample-app, --version, "{{.Version}}", --port, "{{.Port}}"]
    ports: [$APP_PORT, $APP_PORT2]
    standby: 0s
    files:
      - path: /assets/
        root: "$WORK/files/{{.Version}}"
EOF

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	pkill -f "$WORK/cutover sample-app" 2>/dev/null || true # app instances outlive cutover serve by design
	[[ -f $WORK/nginx.pid ]] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
}
trap cleanup EXIT

taskset -c "$PROXY_CPU" nginx -c "$WORK/nginx.conf"
GOMAXPROCS=1 taskset -c "$PROXY_CPU" "$WORK/cutover" serve -c "$WORK/cutover.yaml" >"$WORK/cutover.log" 2>&1 &
pids+=($!)
cutover_pid=$!
for _ in $(seq 100); do [[ -S $WORK/admin.sock ]] && break; kill -0 "$cutover_pid" 2>/dev/null || die "cutover serve exited: $(tail -3 "$WORK/cutover.log")"; sleep 0.1; done
"$WORK/cutover" --admin "$WORK/admin.sock" deploy app v1 >/dev/null
for port in $NGINX_PORT $CUTOVER_PORT; do
	curl -fsS -o /dev/null "http://127.0.0.1:$port/assets/10k.bin" || die "nothing served on $port"
done
cmp <(curl -fsS "http://127.0.0.1:$CUTOVER_PORT/assets/1m.bin") "$WORK/files/v1/1m.bin" || die "cutover serves other bytes"

# run SERVER FILE CONNS → "req/s p99_ms"
run() {
	local port=$NGINX_PORT
	[[ $1 == cutover ]] && port=$CUTOVER_PORT
	taskset -c "$LOAD_CPU" wrk -t1 -c"$3" -d1s "http://127.0.0.1:$port/assets/$2" >/dev/null 2>&1 || true
	taskset -c "$LOAD_CPU" wrk -t1 -c"$3" -d"${DURATION}s" --latency "http://127.0.0.1:$port/assets/$2" >"$WORK/wrk-$1-$2-$3.txt" 2>&1
	awk '/Requests\/sec:/ {rps=$2} /^ +99%/ {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; p99=v}
		/Non-2xx|Socket errors/ {err=1} END {printf "%s %s %s\n", rps, p99, err+0}' "$WORK/wrk-$1-$2-$3.txt"
}
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A rps p99 errs
for round in $(seq "$ROUNDS"); do
	for file in 10k.bin 1m.bin; do
		for c in $CONNS; do
			for server in nginx cutover; do
				read -r r p e < <(run "$server" "$file" "$c")
				echo "round $round  $file  c=$c  $server: $r req/s, p99 $p ms"
				rps[$server,$file,$c]+="$r "
				p99[$server,$file,$c]+="$p "
				[[ $e == 0 ]] || errs[$server,$file,$c]=1
			done
		done
	done
done
nginx_rss=$(rss_mb "$(cat "$WORK/nginx.pid")")
nginx_rss_children=$(for p in $(pgrep -P "$(cat "$WORK/nginx.pid")"); do rss_mb "$p"; echo; done | awk '{s+=$1} END {printf "%.1f", s}')
cutover_rss=$(rss_mb "$cutover_pid")

{
	echo "# Static files: cutover vs nginx"
	echo
	echo "Written by \`bench/files/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC')."
	echo
	echo "- Machine: $(nproc) CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(uname -sr), load average at the end $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "- $ROUNDS interleaved rounds of ${DURATION} s per cell (median shown), after 1 s of warm-up each; both servers on CPU $PROXY_CPU (nginx: 1 worker, sendfile on; cutover: GOMAXPROCS=1), wrk on CPU $LOAD_CPU (1 thread), keep-alive."
	echo "- cutover: \`files:\` block of a service, \`access_log: false\`; nginx: \`location /assets/ { alias ...; }\`, \`access_log off\`."
	echo
	echo "| file | connections | nginx req/s | cutover req/s | ratio | nginx p99 | cutover p99 | p99 ratio |"
	echo "|---|---|---|---|---|---|---|---|"
	for file in 10k.bin 1m.bin; do
		for c in $CONNS; do
			nr=$(echo "${rps[nginx,$file,$c]}" | tr ' ' '\n' | grep . | median)
			cr=$(echo "${rps[cutover,$file,$c]}" | tr ' ' '\n' | grep . | median)
			np=$(echo "${p99[nginx,$file,$c]}" | tr ' ' '\n' | grep . | median)
			cp=$(echo "${p99[cutover,$file,$c]}" | tr ' ' '\n' | grep . | median)
			note=""
			[[ -n ${errs[cutover,$file,$c]:-} || -n ${errs[nginx,$file,$c]:-} ]] && note=" (errors: see wrk output)"
			awk -v f="$file" -v c="$c" -v nr="$nr" -v cr="$cr" -v np="$np" -v cp="$cp" -v note="$note" \
				'BEGIN {printf "| %s | %s | %.0f | %.0f | %.2f× | %.2f ms | %.2f ms | %.2f×%s |\n", f, c, nr, cr, cr/nr, np, cp, cp/np, note}'
		done
	done
	echo
	echo "RSS after the runs: nginx master ${nginx_rss} MB + worker ${nginx_rss_children} MB; cutover ${cutover_rss} MB (its sample app not counted)."
} >"$OUT"
echo "wrote $OUT"
cat "$OUT"

#!/usr/bin/env bash
# Cost of the agent's metrics: memory (VmRSS) and CPU of `nginx-ha-agent run` (NativeAOT, as it ships) with 10 VRRP
# instances at 100 ms adverts, /metrics scraped every 5 s, against the same agent with the metrics server off.
#
#   bench/metrics-cost.sh              # root; about 4 minutes
#
# Environment: WINDOW (seconds of CPU measurement, default 120), SETTLE (seconds after start-up before measuring,
# default 20), AGENT (the agent binary; default: scripts/publish-agent.sh's NativeAOT build into artifacts/bench-agent),
# SKIP_BUILD=1 (use what is built), MODES ("metrics none": with and without the metrics server), KEEP_WORK=1.
#
# Topology: two load balancers on a private bridge (no link to the host, no route out), ActiveActive with 10 VIPs:
#   bmc<pid>-a (lb-a, 198.18.0.11) and bmc<pid>-b (lb-b, 198.18.0.12), VIPs 198.18.0.201..210, VRRPv3 100 ms.
# Each agent runs 10 instances (MASTER of 5, BACKUP of 5): it sends 50 adverts/s and receives 50/s, and supervises
# its nginx. A curl loop in each namespace fetches that agent's /metrics every 5 s. Measured on lb-a: VmRSS sampled every
# second over the window (the GC heap breathes with gen0, so one reading at the end is noise: mean and max), RssAnon and
# RssFile at the end (the binary's mapped pages count in VmRSS), CPU as (utime + stime) over WINDOW seconds from
# /proc/PID/stat, in percent of one core, context switches per second summed over its threads (each one a thread
# waking), and its thread count. SMAPS_DIR=DIR keeps lb-a's /proc/PID/smaps per mode, and its CPU ticks per thread
# name over the window (threads.MODE: where the CPU goes). Extra environment for the agents (e.g. DOTNET_GCgen0size)
# passes through.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
WINDOW=${WINDOW:-120}
SETTLE=${SETTLE:-20}
MODES=${MODES:-metrics none}
readonly prefix=24 addr_a=198.18.0.11 addr_b=198.18.0.12 port=9464
tag=bmc$$
readonly ns_bridge=$tag-br ns_a=$tag-a ns_b=$tag-b
created_namespaces=()
started_pids=()
work=$(mktemp -d /tmp/metrics-cost.XXXXXX)
chmod 700 "$work"


cleanup() {
  local pid
  for pid in "${started_pids[@]}"; do stop_pid "$pid"; done
  for side in a b; do stop_by_pid_file "$work/lb-$side/nginx/logs/nginx.pid" nginx; done
  started_pids=()
  delete_namespaces
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

if [ -z "${AGENT:-}" ]; then
  AGENT=$repo/artifacts/bench-agent/nginx-ha-agent
  [ -n "${SKIP_BUILD:-}" ] || { log "publishing the agent (NativeAOT)"; "$repo/scripts/publish-agent.sh" artifacts/bench-agent >/dev/null; }
fi
[ -x "$AGENT" ] || { echo "metrics-cost.sh: no agent at $AGENT" >&2; exit 1; }

manifest() {
  cat <<EOF
apiVersion: v1
kind: Node
metadata: {name: lb-a, labels: {bench.nginx-ha.io/pool: edge}}
status: {addresses: [{type: InternalIP, address: $addr_a}]}
---
apiVersion: v1
kind: Node
metadata: {name: lb-b, labels: {bench.nginx-ha.io/pool: edge}}
status: {addresses: [{type: InternalIP, address: $addr_b}]}
---
apiVersion: nginx-ha.io/v1alpha1
kind: NginxBackendPool
metadata: {name: web, namespace: bench}
spec:
  listeners: [{port: 80}]
  backends: {servers: [{address: 198.18.0.21, port: 8080}]}
---
apiVersion: nginx-ha.io/v1alpha1
kind: VirtualIpGroup
metadata: {name: web, namespace: bench}
spec:
  mode: ActiveActive
  virtualIPs: [$(seq -s, -f "198.18.0.2%02g/$prefix" 1 10 | sed 's/,/, /g')]
  nodeSelector: {matchLabels: {bench.nginx-ha.io/pool: edge}}
  vrrp: {version: 3, advertisementInterval: 100ms}
  backendPoolRef: web
EOF
}

cpu_ticks() { awk '{ print $14 + $15 }' <(sed 's/^.*) //; s/^/x x /' "/proc/$1/stat"); }
vm_rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# Context switches of all of lb-a's threads (voluntary + involuntary): every thread wake-up is one; a thread that
# ended during the window takes its count with it, so this is a floor.
context_switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^(non)?voluntary_ctxt_switches:/ { s += $2 } END { printf "%d", s }'; }
thread_count() { ls /proc/"$1"/task | wc -l; }
# "name<TAB>ticks" per thread (utime + stime; comm may hold spaces, so read past its closing parenthesis).
thread_ticks() {
  local t
  for t in /proc/"$1"/task/*; do
    awk -v name="$(cat "$t/comm" 2>/dev/null)" '{ sub(/^.*\) /, ""); print name "\t" ($12 + $13) }' "$t/stat" 2>/dev/null
  done
}
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

run_mode() { # metrics | none
  local mode=$1 side ns addr pid_a start end ticks rss
  add_bridged_namespaces "$ns_bridge" "$ns_a" "$ns_b"
  connect_to_bridge "$ns_bridge" "$ns_a" pa $addr_a
  connect_to_bridge "$ns_bridge" "$ns_b" pb $addr_b
  manifest >"$work/manifest.yaml"
  for side in a b; do
    [ $side = a ] && { ns=$ns_a; addr=$addr_a; } || { ns=$ns_b; addr=$addr_b; }
    mkdir -p "$work/lb-$side"
    local metrics_arg=none
    [ "$mode" = metrics ] && metrics_arg=$addr:$port
    ip netns exec "$ns" "$AGENT" run -f "$work/manifest.yaml" --node lb-$side --state-dir "$work/lb-$side" \
      --metrics-address "$metrics_arg" >"$work/lb-$side.$mode.log" 2>&1 &
    started_pids+=($!); disown $!
    eval "pid_$side=\$!"
    if [ "$mode" = metrics ]; then
      ip netns exec "$ns" bash -c "while :; do curl -s -o /dev/null --max-time 2 http://$addr:$port/metrics; sleep 5; done" &
      started_pids+=($!); disown $!
    fi
  done
  log "$mode: settling ${SETTLE}s"
  sleep "$SETTLE"
  local masters
  masters=$(grep -c -- '-> MASTER' "$work/lb-a.$mode.log" || true)
  local switches_start
  switches_start=$(context_switches "$pid_a")
  [ -z "${SMAPS_DIR:-}" ] || thread_ticks "$pid_a" >"$work/threads.start"
  start=$(cpu_ticks "$pid_a")
  log "$mode: measuring CPU and VmRSS for ${WINDOW}s"
  local samples=() i
  for ((i = 0; i < WINDOW; i++)); do sleep 1; samples+=("$(vm_rss_kb "$pid_a")"); done
  end=$(cpu_ticks "$pid_a")
  local wakeups threads
  wakeups=$(awk -v a="$switches_start" -v b="$(context_switches "$pid_a")" -v w="$WINDOW" 'BEGIN { printf "%.0f", (b - a) / w }')
  threads=$(thread_count "$pid_a")
  # Where the memory is, for docs/benchmarks.md: lb-a's mappings at the end of the window.
  if [ -n "${SMAPS_DIR:-}" ]; then
    cp "/proc/$pid_a/smaps" "$SMAPS_DIR/smaps.$mode"
    # Ticks per thread name over the window (a thread that started or ended inside it counts from 0 or is missed).
    thread_ticks "$pid_a" | awk -F'\t' 'NR == FNR { start[$1] += $2; next } { end[$1] += $2 }
      END { for (n in end) if (end[n] - start[n] > 0) printf "%d\t%s\n", end[n] - start[n], n }' "$work/threads.start" - \
      | sort -rn >"$SMAPS_DIR/threads.$mode"
  fi
  rss=$(vm_rss_kb "$pid_a")
  local rss_mean rss_max anon file
  rss_mean=$(printf '%s\n' "${samples[@]}" | awk '{ s += $1 } END { printf "%d", s / NR }')
  rss_max=$(printf '%s\n' "${samples[@]}" | sort -n | tail -1)
  anon=$(status_kb "$pid_a" RssAnon)
  file=$(status_kb "$pid_a" RssFile)
  ticks=$((end - start))
  local hz; hz=$(getconf CLK_TCK)
  local cpu; cpu=$(awk -v t="$ticks" -v hz="$hz" -v w="$WINDOW" 'BEGIN { printf "%.2f", 100 * t / hz / w }')
  local scrape="-"
  if [ "$mode" = metrics ]; then
    scrape=$(ip netns exec "$ns_a" curl -s "http://$addr_a:$port/metrics" | wc -c)
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$rss" "$rss_mean" "$rss_max" "$anon" "$file" "$cpu" "$masters" "$scrape" "$wakeups" "$threads" \
    | tee -a "$work/result.tsv"
  for pid in "${started_pids[@]}"; do stop_pid "$pid"; done
  started_pids=()
  delete_namespaces
  rm -rf "$work/lb-a" "$work/lb-b"
}

printf 'mode\tVmRSS_kB_end\tVmRSS_kB_mean\tVmRSS_kB_max\tRssAnon_kB\tRssFile_kB\tcpu_percent_of_one_core\tinstances_master_on_lb_a\tscrape_bytes\tcontext_switches_per_s\tthreads\n'
for mode in $MODES; do run_mode "$mode"; done

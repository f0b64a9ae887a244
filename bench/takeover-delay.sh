#!/usr/bin/env bash
# How late a backup takes over after its RFC deadline: keepalived pair vs nginx-ha-agent pair.
#
#   bench/takeover-delay.sh            # root; RUNS=5 by default, about 2 minutes
#
# A run: router A (priority 200) is MASTER, B (100) BACKUP; A is killed (SIGKILL: no priority-0 advert).
# A capture on B's interface gives the time from A's last advert to B's first frame (advert or gratuitous
# ARP), minus Master_Down_Interval (v2 1 s: 3609.375 ms; v3 100 ms: 360.9375 ms). That is B's own delay,
# free of the client, ARP and probe timing that bench/failover.sh includes.
#
# Environment: RUNS (default 5), VERSIONS ("v2 v3"), IMPLS ("keepalived ours"), SKIP_BUILD=1 (use the agent
# already in artifacts/bench-agent), AGENT_DLL (a managed build of the agent, run through dotnet).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
RUNS=${RUNS:-5}
VERSIONS=${VERSIONS:-v2 v3}
IMPLS=${IMPLS:-keepalived ours}

readonly ns_bridge=bt-br ns_a=bt-a ns_b=bt-b
readonly addr_a=198.18.0.1 addr_b=198.18.0.2 vip=198.18.0.100 prefix=24 vrid=51 prio_a=200 prio_b=100
agent_cmd=("$repo/artifacts/bench-agent/nginx-ha-agent")
[ -z "${AGENT_DLL:-}" ] || agent_cmd=(dotnet "$AGENT_DLL")

require_root
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, got '$RUNS'"
require_tools ip keepalived tshark flock

lock_and_make_work_dir bt-takeover-delay
started_pids=()
created_namespaces=()
run_dir=

teardown_run() {
  local pid
  if [ -n "$run_dir" ]; then
    stop_by_pid_file "$run_dir/keepalived-vrrp-a.pid" keepalived
    stop_by_pid_file "$run_dir/keepalived-vrrp-b.pid" keepalived
  fi
  for pid in "${started_pids[@]}"; do stop_pid "$pid"; done
  started_pids=()
  delete_namespaces
}
cleanup() { local rc=$?; teardown_run; rm -rf "$work"; exit $rc; }
trap cleanup EXIT
trap 'exit 130' INT TERM

start_router() { # impl version side
  local ns prio
  if [ "$3" = a ]; then ns=$ns_a prio=$prio_a; else ns=$ns_b prio=$prio_b; fi
  if [ "$1" = keepalived ]; then
    printf 'global_defs {\n  router_id bt_%s\n  vrrp_version %s\n}\nvrrp_instance bench {\n  state BACKUP\n  interface eth0\n  virtual_router_id %s\n  priority %s\n  advert_int %s\n  virtual_ipaddress {\n    %s/%s dev eth0\n  }\n}\n' \
      "$3" "${2#v}" $vrid $prio "$([ "$2" = v2 ] && echo 1 || echo 0.1)" $vip $prefix >"$run_dir/keepalived-$3.conf"
    ip netns exec "$ns" keepalived -P -n -l -D -G -f "$run_dir/keepalived-$3.conf" \
      -p "$run_dir/keepalived-$3.pid" -r "$run_dir/keepalived-vrrp-$3.pid" >"$run_dir/router-$3.log" 2>&1 &
  else
    ip netns exec "$ns" "${agent_cmd[@]}" vrrp --interface eth0 --vrid $vrid --priority $prio --vip $vip/$prefix \
      --version "${2#v}" --advert-interval "$([ "$2" = v2 ] && echo 1s || echo 100ms)" >"$run_dir/router-$3.log" 2>&1 &
  fi
  started_pids+=($!); disown $!
  eval "pid_$3=$!"
}

# Sets result to B's delay past Master_Down_Interval in ms, or "error REASON". Runs in this shell (not a
# $(...) subshell) so teardown_run knows every PID and namespace.
run_once() { # impl version
  local mdi capture mac_b i
  run_dir=$work/run-$1-$2-$run
  mkdir -p "$run_dir"
  add_bridged_namespaces $ns_bridge $ns_a $ns_b
  connect_to_bridge $ns_bridge $ns_a pa $addr_a
  connect_to_bridge $ns_bridge $ns_b pb $addr_b
  mac_b=$(ip -n $ns_b -o link show eth0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
  [ "$2" = v2 ] && mdi=3609.375 || mdi=360.9375
  start_router "$1" "$2" a
  # A becomes MASTER (holds the VIP) before B starts, so B joins as its backup.
  for i in $(seq 100); do ip -n $ns_a -4 addr show dev eth0 | grep -q " $vip/" && break; sleep 0.1; done
  ip -n $ns_a -4 addr show dev eth0 | grep -q " $vip/" || { result="error A never became MASTER"; return; }
  start_router "$1" "$2" b
  sleep 2
  ip netns exec $ns_b tshark -q -i eth0 -f "ip proto 112 or arp" -w "$run_dir/b.pcap" >"$run_dir/tshark.log" 2>&1 &
  capture=$!; started_pids+=($capture); disown $capture
  for i in $(seq 50); do [ -s "$run_dir/b.pcap" ] && break; sleep 0.1; done
  sleep 1.3 # at least one advert of A in the capture, at a random point of the cycle
  if [ "$1" = keepalived ]; then
    # The VRRP child first, the parent in the same call, so nothing sends priority 0 or respawns it.
    kill -KILL "$(<"$run_dir/keepalived-vrrp-a.pid")" "$pid_a"
  else
    kill -KILL "$pid_a"
  fi
  sleep "$([ "$2" = v2 ] && echo 4.5 || echo 1)"
  kill -INT $capture
  for i in $(seq 50); do alive $capture || break; sleep 0.1; done
  result=$(tshark -r "$run_dir/b.pcap" -T fields -e frame.time_epoch -e eth.src -e ip.src 2>/dev/null | awk -v a=$addr_a -v b="$mac_b" -v mdi=$mdi '
    $3 == a { last = $1 }
    $2 == b && last != "" { printf "%.2f\n", ($1 - last) * 1000 - mdi; found = 1; exit }
    END { if (!found) print "error no take-over frame from B after an advert of A" }')
}

stats() { sort -n | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f / %.2f / %.2f", m, v[1], v[NR] }'; }

if [[ " $IMPLS " == *" ours "* && -z "${AGENT_DLL:-}" && "${SKIP_BUILD:-}" != 1 ]]; then
  log "building the agent as it ships (scripts/publish-agent.sh)"
  "$repo/scripts/publish-agent.sh" "$repo/artifacts/bench-agent" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; die "agent build failed"; }
fi

: >"$work/results.tsv"
for version in $VERSIONS; do
  for run in $(seq "$RUNS"); do
    for impl in $IMPLS; do
      run_once "$impl" "$version"
      teardown_run
      log "$impl $version run $run: $result"
      printf '%s\t%s\t%s\n' "$impl" "$version" "$result" >>"$work/results.tsv"
    done
  done
done

echo
echo "| version | impl | ms after Master_Down_Interval (median / min / max) |"
echo "|---|---|---|"
for version in $VERSIONS; do
  for impl in $IMPLS; do
    values=$(awk -F'\t' -v i=$impl -v v=$version '$1 == i && $2 == v && $3 ~ /^-?[0-9.]+$/ { print $3 }' "$work/results.tsv")
    failed=$(awk -F'\t' -v i=$impl -v v=$version '$1 == i && $2 == v && $3 !~ /^-?[0-9.]+$/' "$work/results.tsv" | wc -l)
    text=$([ -n "$values" ] && stats <<<"$values" || echo n/a)
    [ "$failed" -eq 0 ] || text+=" ($failed of $RUNS failed)"
    echo "| $version | $impl | $text |"
  done
done

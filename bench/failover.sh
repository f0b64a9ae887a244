#!/usr/bin/env bash
# VRRP failover benchmark: keepalived pair vs nginx-ha-agent pair on the same namespace topology.
#
#   bench/failover.sh                  # root; RUNS=5 by default, about 6 minutes
#
# Environment: RUNS (runs per row, default 5), IMPLS ("keepalived ours"), VERSIONS ("v2 v3"),
# FAULTS ("crash stop linkdown"), DOC (markdown file to update, default docs/benchmarks.md;
# empty: don't write), SKIP_BUILD=1 (use what is built), AGENT_DLL (a managed build of the agent,
# run through dotnet, e.g. the Release build of src/NodeAgent; the default is the NativeAOT binary that
# scripts/publish-agent.sh builds).
#
# Topology, rebuilt for every run (nothing carries over from one run to the next):
#
#   bn-a (router A, 198.18.0.1, prio 200) --veth--+
#   bn-b (router B, 198.18.0.2, prio 100) --veth--+-- br0 in bn-br (no link to the host)
#   bn-c (client,   198.18.0.10)          --veth--+
#   VIP 198.18.0.100/24; each router serves its name on TCP 8080.
#
# A run: start both routers, wait until the VIP answers with A's banner, wait for A's next advert,
# fire the fault, and time until the client gets B's banner from the VIP (failover-probe).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
RUNS=${RUNS:-5}
IMPLS=${IMPLS:-keepalived ours}
VERSIONS=${VERSIONS:-v2 v3}
FAULTS=${FAULTS:-crash stop linkdown}
DOC=${DOC-docs/benchmarks.md}

readonly ns_bridge=bn-br ns_a=bn-a ns_b=bn-b ns_client=bn-c
readonly addr_a=198.18.0.1 addr_b=198.18.0.2 addr_client=198.18.0.10 vip=198.18.0.100 prefix=24
readonly port=8080 vrid=51 prio_a=200 prio_b=100 garp_repeat=5 garp_interval_ms=10
readonly settle_seconds=1.2 # after A answers: lets ARP locktime (1 s) pass and B settle in BACKUP

probe_dll=$repo/bench/FailoverProbe/bin/Release/net10.0/failover-probe.dll
# Default: the agent as it ships (scripts/publish-agent.sh: NativeAOT); AGENT_DLL: a managed build through dotnet.
agent_cmd=("$repo/artifacts/bench-agent/nginx-ha-agent")
[ -z "${AGENT_DLL:-}" ] || agent_cmd=(dotnet "$AGENT_DLL")

require_root
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, got '$RUNS'"
require_tools ip keepalived dotnet flock
for impl in $IMPLS; do [[ $impl == keepalived || $impl == ours ]] || die "IMPLS: unknown implementation '$impl'"; done
for version in $VERSIONS; do [[ $version == v2 || $version == v3 ]] || die "VERSIONS: unknown version '$version'"; done
for fault in $FAULTS; do [[ $fault == crash || $fault == stop || $fault == linkdown ]] || die "FAULTS: unknown fault '$fault'"; done

# One run at a time: the namespace names are fixed.
lock_and_make_work_dir bn-failover
started_pids=()
created_namespaces=()

# --- topology --------------------------------------------------------------------------------

build_topology() {
  add_bridged_namespaces $ns_bridge $ns_a $ns_b $ns_client
  connect_to_bridge $ns_bridge $ns_a pa $addr_a
  connect_to_bridge $ns_bridge $ns_b pb $addr_b
  connect_to_bridge $ns_bridge $ns_client pc $addr_client
}

# --- implementations -------------------------------------------------------------------------

# Sets: run_dir, pid_a, pid_b (the processes the faults hit), serve and router PIDs in started_pids.
start_keepalived() { # version
  local side ns prio conf
  for side in a b; do
    if [ $side = a ]; then ns=$ns_a prio=$prio_a; else ns=$ns_b prio=$prio_b; fi
    conf=$run_dir/keepalived-$side.conf
    {
      echo "global_defs {"
      echo "  router_id bn_$side"
      echo "  vrrp_version ${1#v}"
      echo "  vrrp_garp_master_repeat $garp_repeat"
      echo "  vrrp_garp_interval $(awk -v ms=$garp_interval_ms 'BEGIN { print ms / 1000 }')"
      echo "}"
      echo "vrrp_instance bench {"
      echo "  state BACKUP"
      echo "  interface eth0"
      echo "  virtual_router_id $vrid"
      echo "  priority $prio"
      if [ "$1" = v2 ]; then
        echo "  advert_int 1"
        echo "  authentication {"
        echo "    auth_type PASS"
        echo "    auth_pass $(<"$work/auth-pass")"
        echo "  }"
      else
        echo "  advert_int 0.1"
      fi
      echo "  virtual_ipaddress {"
      echo "    $vip/$prefix dev eth0"
      echo "  }"
      echo "}"
    } >"$conf"
    chmod 600 "$conf"
    # -P: VRRP only; -n: stay in the foreground so $! is the parent; own pid files per side.
    ip netns exec "$ns" keepalived -P -n -l -D -G -f "$conf" \
      -p "$run_dir/keepalived-$side.pid" -r "$run_dir/keepalived-vrrp-$side.pid" \
      >"$run_dir/router-$side.log" 2>&1 &
    started_pids+=($!); disown $!
    if [ $side = a ]; then pid_a=$!; else pid_b=$!; fi
  done
}

start_ours() { # version
  local side ns prio
  local -a timing
  if [ "$1" = v2 ]; then timing=(--version 2 --advert-interval 1s --auth-pass-file "$work/auth-pass")
  else timing=(--version 3 --advert-interval 100ms); fi
  for side in a b; do
    if [ $side = a ]; then ns=$ns_a prio=$prio_a; else ns=$ns_b prio=$prio_b; fi
    ip netns exec "$ns" "${agent_cmd[@]}" vrrp --interface eth0 --vrid $vrid --priority $prio \
      --vip $vip/$prefix "${timing[@]}" --garp-repeat $garp_repeat --garp-interval ${garp_interval_ms}ms \
      >"$run_dir/router-$side.log" 2>&1 &
    started_pids+=($!); disown $!
    if [ $side = a ]; then pid_a=$!; else pid_b=$!; fi
  done
}

# The fault as probe arguments: a signal the probe sends itself (it stamps t0 right before kill(2)), or a
# command it runs (t0 right before the process starts).
fault_args() { # impl fault
  case "$2" in
    crash)
      if [ "$1" = keepalived ]; then
        # Killing the parent alone is a clean stop (its VRRP child releases the VIP): kill the
        # child first, the parent right after so it cannot respawn the child.
        echo --signal "KILL:$(<"$run_dir/keepalived-vrrp-a.pid"),$pid_a"
      else
        echo --signal "KILL:$pid_a"
      fi ;;
    stop) echo --signal "TERM:$pid_a" ;;
    linkdown) echo -- ip netns exec $ns_a ip link set dev eth0 down ;;
  esac
}

# --- one run ---------------------------------------------------------------------------------

probe() { # target probe-arguments...
  ip netns exec $ns_client dotnet "$probe_dll" probe --target "$@"
}

# Sets result to "MS<TAB>WIRE-DETAILS", "timeout<TAB>..." or "error<TAB>reason". Runs in this
# shell (not a $(...) subshell) so teardown_run and the EXIT trap know every PID and namespace.
run_once() { # impl version fault
  local impl=$1 version=$2 fault=$3 ready output fault_timeout i
  run_dir=$work/run-$impl-$version-$fault-$run
  mkdir -p "$run_dir"
  started_pids=()
  build_topology
  ip netns exec $ns_a dotnet "$probe_dll" serve --name A --port $port >"$run_dir/serve-a.log" 2>&1 &
  started_pids+=($!); disown $!
  ip netns exec $ns_b dotnet "$probe_dll" serve --name B --port $port >"$run_dir/serve-b.log" 2>&1 &
  started_pids+=($!); disown $!
  "start_$impl" "$version"

  if ! ready=$(probe $vip:$port --expect A --timeout 20s); then
    result=$(printf 'error\tthe VIP never answered with A (%s)' "$ready"); return
  fi
  # Warm B's banner server (JIT) through its own address, so its first answer after the fault
  # costs what a warm server costs.
  if ! output=$(probe $addr_b:$port --expect B --timeout 5s); then
    result=$(printf 'error\tB does not serve on its own address (%s)' "$output"); return
  fi
  if [ "$impl" = keepalived ]; then
    for i in $(seq 50); do [ -s "$run_dir/keepalived-vrrp-a.pid" ] && break; sleep 0.1; done
  fi
  sleep $settle_seconds
  if ip -n $ns_b -4 addr show dev eth0 | grep -q " $vip/"; then
    result=$(printf 'error\tB holds the VIP too before the fault'); return
  fi
  [ "$version" = v2 ] && fault_timeout=15s || fault_timeout=5s
  # shellcheck disable=SC2046 # the fault arguments are split into words on purpose
  output=$(probe $vip:$port --expect B --timeout $fault_timeout --sync-advert-from $addr_a $(fault_args "$impl" "$fault") \
    2>>"$run_dir/probe.log") || true
  result=$(printf '%s\t%s' "$(sed -n 1p <<<"$output")" "$(sed -n 2p <<<"$output")")
}

teardown_run() {
  local pid
  if [ -n "${run_dir:-}" ]; then
    stop_by_pid_file "$run_dir/keepalived-vrrp-a.pid" keepalived
    stop_by_pid_file "$run_dir/keepalived-vrrp-b.pid" keepalived
  fi
  for pid in "${started_pids[@]}"; do stop_pid "$pid"; done
  if [ -n "${run_dir:-}" ]; then # a parent gone before its child: end the orphan too
    stop_by_pid_file "$run_dir/keepalived-vrrp-a.pid" keepalived
    stop_by_pid_file "$run_dir/keepalived-vrrp-b.pid" keepalived
  fi
  started_pids=()
  delete_namespaces
}

cleanup() {
  local rc=$?
  teardown_run
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- statistics and report -------------------------------------------------------------------

# Reads numbers (one per line) and prints "median min max" (0.1 ms, what the probe prints) or "-" when there are none.
stats() {
  sort -n | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "-"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.1f %.1f %.1f\n", m, v[1], v[NR] }'
}

# Values of one column for one row: results.tsv has impl version fault run ms wire...
values() { # impl version fault [wire-key]
  awk -F'\t' -v i="$1" -v v="$2" -v f="$3" -v k="${4:-}" '
    $1 == i && $2 == v && $3 == f {
      if (k == "") { if ($5 ~ /^[0-9.]+$/) print $5; next }
      n = split($6, parts, " ")
      for (j = 1; j <= n; j++) if (parts[j] ~ "^" k "=[0-9.]+$") { sub("^" k "=", "", parts[j]); print parts[j] } }' \
    "$work/results.tsv"
}

failures() { # impl version fault
  awk -F'\t' -v i="$1" -v v="$2" -v f="$3" '$1 == i && $2 == v && $3 == f && $5 !~ /^[0-9.]+$/ { n++ } END { print n + 0 }' \
    "$work/results.tsv"
}

cell() { # impl version fault [wire-key]
  local s n med min max text
  s=$(values "$@" | stats)
  n=$(failures "$1" "$2" "$3")
  if [ "$s" = - ]; then text="n/a"
  else
    read -r med min max <<<"$s"
    if [ -n "${4:-}" ]; then text=$med; else text="$med / $min / $max"; fi
  fi
  # A run with no measurement (timeout, error) is counted, never silently dropped.
  if [ -z "${4:-}" ] && [ "$n" -gt 0 ]; then text+=" ($n of $RUNS failed)"; fi
  echo "$text"
}

scenario_name() { # version fault
  local timing fault
  [ "$1" = v2 ] && timing="v2 1 s" || timing="v3 100 ms"
  case "$2" in crash) fault="master crash" ;; stop) fault="clean stop" ;; linkdown) fault="master link down" ;; esac
  echo "$timing, $fault"
}

print_table() {
  local version fault k o km om ratio
  echo "| scenario | keepalived ms (median / min / max) | ours ms (median / min / max) | ratio ours/keepalived (median) | ours - keepalived (median, ms) |"
  echo "|---|---|---|---|---|"
  for version in $VERSIONS; do
    for fault in $FAULTS; do
      k=$(cell keepalived "$version" "$fault"); o=$(cell ours "$version" "$fault")
      km=$(values keepalived "$version" "$fault" | stats | cut -d' ' -f1)
      om=$(values ours "$version" "$fault" | stats | cut -d' ' -f1)
      if [[ $km =~ ^[0-9.]+$ && $om =~ ^[0-9.]+$ ]] && awk -v k="$km" 'BEGIN { exit !(k > 0) }'; then
        ratio=$(awk -v o="$om" -v k="$km" 'BEGIN { printf "%.4f | %+.1f", o / k, o - k }')
      else ratio="n/a | n/a"; fi
      echo "| $(scenario_name "$version" "$fault") | $k | $o | $ratio |"
    done
  done
}

# Where the time goes: medians of what the client saw on the wire after the fault.
print_wire_table() {
  local version fault impl row
  echo "| scenario | impl | old master priority-0 advert ms | new master first advert ms | first ARP for the VIP ms | backup serves ms |"
  echo "|---|---|---|---|---|---|"
  for version in $VERSIONS; do
    for fault in $FAULTS; do
      for impl in $IMPLS; do
        row="| $(scenario_name "$version" "$fault") | $impl"
        row+=" | $(cell "$impl" "$version" "$fault" old_master_priority0_ms)"
        row+=" | $(cell "$impl" "$version" "$fault" new_master_advert_ms)"
        row+=" | $(cell "$impl" "$version" "$fault" vip_arp_ms)"
        row+=" | $(values "$impl" "$version" "$fault" | stats | cut -d' ' -f1) |"
        echo "$row"
      done
    done
  done
}

write_doc() {
  local doc=$repo/$DOC begin="<!-- bench/failover.sh: begin -->" end="<!-- bench/failover.sh: end -->" section
  section=$(
    echo "$begin"
    echo "## VRRP failover: keepalived vs nginx-ha-agent"
    echo
    doc_measured_line
    echo "Machine: $(nproc) CPUs ($(cpu_model), shared with other jobs),"
    echo "kernel $(uname -r), $(keepalived -v 2>&1 | head -n1), .NET $(dotnet --version). N = $RUNS runs per cell."
    echo "Load average at the start / end: $load_at_start / $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    echo "Time from the fault until a client in a third namespace gets a reply from the VIP served by the backup"
    echo "(a new TCP connection every 5 ms and one more on each ARP for the VIP the client receives, 200 ms timeout each;"
    echo "the probe sends crash and stop signals itself, so the fault starts within microseconds of its time stamp)."
    echo "Both pairs: priorities $prio_a/$prio_b, preempt on,"
    echo "$garp_repeat gratuitous ARPs $garp_interval_ms ms apart; v2 with auth PASS. Every run starts from a fresh"
    echo "topology and fresh processes, and fires the fault right after the master's advert reaches the client,"
    echo "so all runs start at the same point of the advert cycle (the worst case for crash and link down: a full"
    echo "Master_Down_Interval). Crash = SIGKILL of the VRRP process (keepalived: its VRRP child, then the parent);"
    echo "clean stop = SIGTERM; link down = the master's veth set down inside its namespace."
    echo
    print_table
    echo
    echo "What the client saw on the wire (medians, ms after the fault):"
    echo
    print_wire_table
    echo "$end"
  )
  replace_doc_section "$doc" "$begin" "$end" "$section"
  log "wrote $doc"
}

# --- main ------------------------------------------------------------------------------------

command_line="RUNS=$RUNS"
[ "$IMPLS" = "keepalived ours" ] || command_line+=" IMPLS=\"$IMPLS\""
[ "$VERSIONS" = "v2 v3" ] || command_line+=" VERSIONS=\"$VERSIONS\""
[ "$FAULTS" = "crash stop linkdown" ] || command_line+=" FAULTS=\"$FAULTS\""
[ -z "${AGENT_DLL:-}" ] || command_line+=" AGENT_DLL=$AGENT_DLL"
command_line+=" bench/failover.sh"

for ns in $ns_bridge $ns_a $ns_b $ns_client; do
  if [ -e "/run/netns/$ns" ]; then
    log "removing namespace $ns left by an interrupted run"
    ip netns del "$ns"
  fi
done

if [ "${SKIP_BUILD:-}" != 1 ]; then
  log "building the probe$([[ " $IMPLS " == *" ours "* ]] && echo " and the agent") (Release)"
  dotnet build -c Release -v q -nologo "$repo/bench/FailoverProbe/NginxHa.Bench.FailoverProbe.csproj" >"$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; die "probe build failed"; }
  if [[ " $IMPLS " == *" ours "* && -z "${AGENT_DLL:-}" ]]; then
    "$repo/scripts/publish-agent.sh" "$repo/artifacts/bench-agent" >"$work/build.log" 2>&1 \
      || { cat "$work/build.log" >&2; die "agent build failed"; }
  fi
fi
[ -f "$probe_dll" ] || die "$probe_dll is missing (build it or unset SKIP_BUILD)"
[[ " $IMPLS " != *" ours "* || -f "${agent_cmd[-1]}" ]] || die "${agent_cmd[-1]} is missing"

# The v2 password, shared by both pairs; never world-readable.
(umask 077; head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/auth-pass")

load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$work/results.tsv"
for version in $VERSIONS; do
  for fault in $FAULTS; do
    for run in $(seq "$RUNS"); do
      # Interleave the implementations so a busy moment on the machine hits both alike.
      for impl in $IMPLS; do
        run_once "$impl" "$version" "$fault"
        teardown_run
        printf '%s\t%s\t%s\t%s\t%s\n' "$impl" "$version" "$fault" "$run" "$result" >>"$work/results.tsv"
        log "$impl $version $fault run $run: $(cut -f1 <<<"$result") ms  $(cut -f2 <<<"$result")"
        if [[ $(cut -f1 <<<"$result") != [0-9]* ]]; then
          log "router logs of the failed run:"; tail -n 5 "$run_dir"/router-*.log >&2 || true
        fi
      done
    done
  done
done

echo
print_table
echo
print_wire_table
[ -z "$DOC" ] || write_doc

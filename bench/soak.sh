#!/usr/bin/env bash
# Soak under load: an nginx-ha-agent pair and a keepalived pair, side by side, VRRPv3 at 20 ms adverts, while a CPU
# hog and a memory hog run in every router namespace. Counts spurious transitions, finds the largest advert gap on
# the wire, and reads each speaker's CPU and VmRSS.
#
#   bench/soak.sh                      # root; SOAK_SECONDS=600 by default (about 11 minutes in all)
#   SOAK_SECONDS=60 bench/soak.sh      # a quick check
#
# Environment: SOAK_SECONDS (the soak window, default 600), ADVERT_MS (advert interval, a multiple of 10, default 20),
# HOG_CPUS (busy-loop workers per router namespace, default: the number of CPUs), HOG_VM_BYTES (memory each router
# namespace's memory hog keeps touching, default 1G), IMPLS ("ours keepalived"), SKIP_BUILD=1 (use the agent already
# in artifacts/bench-agent), KEEP_WORK=1 (keep logs and captures), DOC (a markdown file to write the results into, e.g.
# docs/benchmarks.md: its "Soak" section is replaced; default empty: print only), RT_PRIORITY (1..99: run every
# speaker, both pairs alike, under SCHED_RR at this priority through chrt; default empty: the normal scheduler).
#
# Topology (two private bridges, no link to the host, no route out; namespace names carry this run's id):
#
#   bs<id>-oa (ours A,       198.18.0.1, prio 200) --veth--+-- br0 in bs<id>-obr   VIP 198.18.0.100/24, VRID 61
#   bs<id>-ob (ours B,       198.18.0.2, prio 100) --veth--+
#   bs<id>-ka (keepalived A, 198.18.0.1, prio 200) --veth--+-- br0 in bs<id>-kbr   VIP 198.18.0.100/24, VRID 61
#   bs<id>-kb (keepalived B, 198.18.0.2, prio 100) --veth--+
#
# The hogs (stress-ng: HOG_CPUS busy loops and one worker touching HOG_VM_BYTES in a loop) run in each of the four
# router namespaces, so the CPUs are oversubscribed for both pairs alike. A capture in each bridge namespace records
# every advert; the window starts once both As are MASTER and both Bs BACKUP, and the hogs have started.
#
# Reported per pair, over the window:
#   - transitions in the speakers' logs (any is spurious: the roles were settled before the window);
#   - on the wire: adverts from B (a B that takes over sends them), B's take-overs (an advert of B after one of A),
#     priority-0 adverts, and the largest gap between A's consecutive adverts (a gap past Master_Down_Interval,
#     3 x interval + skew, lets B take over);
#   - CPU of each speaker (utime + stime from /proc/PID/stat over the window, keepalived: parent + VRRP child) and VmRSS.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
SOAK_SECONDS=${SOAK_SECONDS:-600}
ADVERT_MS=${ADVERT_MS:-20}
HOG_CPUS=${HOG_CPUS:-$(nproc)}
HOG_VM_BYTES=${HOG_VM_BYTES:-1G}
IMPLS=${IMPLS:-ours keepalived}
RT_PRIORITY=${RT_PRIORITY:-}
DOC=${DOC-}

readonly addr_a=198.18.0.1 addr_b=198.18.0.2 vip=198.18.0.100 prefix=24 vrid=61 prio_a=200 prio_b=100
readonly settle_seconds=3 # after both pairs settled: the window starts from steady state
agent_cmd=("$repo/artifacts/bench-agent/nginx-ha-agent")
id=$$
clock_ticks=$(getconf CLK_TCK)

require_root
[[ "$SOAK_SECONDS" =~ ^[1-9][0-9]*$ ]] || die "SOAK_SECONDS must be a positive number of seconds, got '$SOAK_SECONDS'"
[[ "$ADVERT_MS" =~ ^[1-9][0-9]*0$ ]] || die "ADVERT_MS must be a multiple of 10 ms (VRRPv3 counts centiseconds), got '$ADVERT_MS'"
[[ "$HOG_CPUS" =~ ^[0-9]+$ ]] || die "HOG_CPUS must be a non-negative integer, got '$HOG_CPUS'"
[[ "$HOG_VM_BYTES" =~ ^[0-9]+[KMG]?$ ]] || die "HOG_VM_BYTES must be a size like 512M or 1G, got '$HOG_VM_BYTES'"
for impl in $IMPLS; do [[ $impl == keepalived || $impl == ours ]] || die "IMPLS: unknown implementation '$impl'"; done
[[ -z "$RT_PRIORITY" || ( "$RT_PRIORITY" =~ ^[1-9][0-9]?$ ) ]] || die "RT_PRIORITY must be 1..99 or empty, got '$RT_PRIORITY'"
# Both pairs start the same way: plain, or under SCHED_RR (inherited by every thread and by keepalived's VRRP child).
speaker_prefix=()
[ -z "$RT_PRIORITY" ] || speaker_prefix=(chrt --rr "$RT_PRIORITY")
require_tools ip keepalived tshark stress-ng

work=$(mktemp -d /tmp/bs-soak.XXXXXX)
chmod 700 "$work"
started_pids=()
created_namespaces=()

cleanup() {
  local rc=$? pid impl side
  for impl in $IMPLS; do
    for side in a b; do stop_by_pid_file "$work/keepalived-vrrp-$side.pid" keepalived; done
  done
  for pid in "${started_pids[@]}"; do stop_pid "$pid"; done
  for side in a b; do stop_by_pid_file "$work/keepalived-vrrp-$side.pid" keepalived; done # an orphaned child
  delete_namespaces
  if [ "${KEEP_WORK:-}" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ns_of() { echo "bs$id-${1:0:1}$2"; } # impl side|br -> namespace name (o: ours, k: keepalived)

build_topology() { # impl
  local br a b
  br=$(ns_of "$1" br) a=$(ns_of "$1" a) b=$(ns_of "$1" b)
  add_bridged_namespaces "$br" "$a" "$b"
  connect_to_bridge "$br" "$a" pa $addr_a
  connect_to_bridge "$br" "$b" pb $addr_b
}

# Sets pid_<impl>_<side>; keepalived's VRRP child is found later through its pid file.
start_router() { # impl side
  local ns prio conf
  ns=$(ns_of "$1" "$2")
  [ "$2" = a ] && prio=$prio_a || prio=$prio_b
  if [ "$1" = keepalived ]; then
    conf=$work/keepalived-$2.conf
    printf 'global_defs {\n  router_id bs_%s\n  vrrp_version 3\n}\nvrrp_instance soak {\n  state BACKUP\n  interface eth0\n  virtual_router_id %s\n  priority %s\n  advert_int %s\n  virtual_ipaddress {\n    %s/%s dev eth0\n  }\n}\n' \
      "$2" $vrid $prio "$(awk -v ms="$ADVERT_MS" 'BEGIN { print ms / 1000 }')" $vip $prefix >"$conf"
    # -P: VRRP only; -n: foreground, so $! is the parent; -l -D: detailed log on the console.
    ip netns exec "$ns" "${speaker_prefix[@]}" keepalived -P -n -l -D -G -f "$conf" \
      -p "$work/keepalived-$2.pid" -r "$work/keepalived-vrrp-$2.pid" >"$work/$1-$2.log" 2>&1 &
  else
    ip netns exec "$ns" "${speaker_prefix[@]}" "${agent_cmd[@]}" vrrp --interface eth0 --vrid $vrid --priority $prio --vip $vip/$prefix \
      --version 3 --advert-interval "${ADVERT_MS}ms" >"$work/$1-$2.log" 2>&1 &
  fi
  started_pids+=($!); disown $!
  eval "pid_$1_$2=\$!"
}

holds_vip() { ip -n "$1" -4 addr show dev eth0 | grep -q " $vip/"; }

# The processes whose CPU and memory count for IMPL SIDE: the agent; keepalived's parent and VRRP child.
speaker_pids() { # impl side
  local var=pid_$1_$2
  echo "${!var}"
  if [ "$1" = keepalived ] && [ -s "$work/keepalived-vrrp-$2.pid" ]; then cat "$work/keepalived-vrrp-$2.pid"; fi
}

cpu_ticks() { # pid -> utime + stime (fields 14 and 15 of /proc/PID/stat; the command name may hold spaces)
  sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}
vm_rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# --- start ---------------------------------------------------------------------------------------

if [[ " $IMPLS " == *" ours "* && "${SKIP_BUILD:-}" != 1 ]]; then
  log "building the agent as it ships (scripts/publish-agent.sh)"
  "$repo/scripts/publish-agent.sh" "$repo/artifacts/bench-agent" >"$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; die "agent build failed"; }
fi
[[ " $IMPLS " != *" ours "* || -x "${agent_cmd[0]}" ]] || die "${agent_cmd[0]} is missing (build it or unset SKIP_BUILD)"

for impl in $IMPLS; do build_topology "$impl"; done
# A first, so it is MASTER before B joins; B then starts as its backup.
for impl in $IMPLS; do start_router "$impl" a; done
for impl in $IMPLS; do
  for i in $(seq 100); do holds_vip "$(ns_of "$impl" a)" && break; sleep 0.1; done
  holds_vip "$(ns_of "$impl" a)" || die "$impl: A never became MASTER ($(tail -n 3 "$work/$impl-a.log" | tr '\n' ' '))"
done
for impl in $IMPLS; do start_router "$impl" b; done
sleep $settle_seconds
for impl in $IMPLS; do
  holds_vip "$(ns_of "$impl" a)" || die "$impl: A lost the VIP before the soak began"
  ! holds_vip "$(ns_of "$impl" b)" || die "$impl: B holds the VIP before the soak began"
  [ "$impl" != keepalived ] || [ -s "$work/keepalived-vrrp-a.pid" ] || die "keepalived: no VRRP child pid file"
done

# Captures: every VRRP frame that crosses each bridge (from both routers' ports).
for impl in $IMPLS; do
  ip netns exec "$(ns_of "$impl" br)" tshark -q -i pa -i pb -f "ip proto 112" -w "$work/$impl.pcapng" \
    >"$work/tshark-$impl.log" 2>&1 &
  started_pids+=($!); disown $!
  eval "capture_$impl=\$!"
done
for impl in $IMPLS; do
  for i in $(seq 100); do [ -s "$work/$impl.pcapng" ] && break; sleep 0.1; done
done

# The hogs, in every router namespace, both pairs alike.
hogs=0
hog_cpu_args=()
[ "$HOG_CPUS" -eq 0 ] || hog_cpu_args=(--cpu "$HOG_CPUS" --cpu-method all)
for impl in $IMPLS; do
  for side in a b; do
    # (stress-ng reads --cpu 0 as "every CPU", so HOG_CPUS=0 leaves the option out)
    ip netns exec "$(ns_of "$impl" "$side")" stress-ng "${hog_cpu_args[@]}" \
      --vm 1 --vm-bytes "$HOG_VM_BYTES" --vm-keep --timeout "$((SOAK_SECONDS + 60))s" --quiet \
      >"$work/hog-$impl-$side.log" 2>&1 &
    started_pids+=($!); disown $!
    hogs=$((hogs + 1))
  done
done
sleep 2 # the hogs' memory is touched before the window starts

# --- the window ----------------------------------------------------------------------------------

declare -A cpu_start log_lines
for impl in $IMPLS; do
  for side in a b; do
    for pid in $(speaker_pids "$impl" "$side"); do cpu_start[$pid]=$(cpu_ticks "$pid"); done
    log_lines[$impl-$side]=$(wc -l <"$work/$impl-$side.log")
  done
done
window_start=$(date +%s.%N)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
log "soaking for $SOAK_SECONDS s: $IMPLS at ${ADVERT_MS} ms adverts, $hogs hog sets ($HOG_CPUS CPU workers + $HOG_VM_BYTES each)"
: >"$work/load.tsv"
end=$(( $(date +%s) + SOAK_SECONDS ))
while [ "$(date +%s)" -lt "$end" ]; do
  cut -d' ' -f1 /proc/loadavg >>"$work/load.tsv"
  left=$(( end - $(date +%s) ))
  sleep $(( left < 10 ? (left > 0 ? left : 1) : 10 ))
done
window_end=$(date +%s.%N)
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A log_lines_end
for impl in $IMPLS; do
  for side in a b; do log_lines_end[$impl-$side]=$(wc -l <"$work/$impl-$side.log"); done
done

declare -A cpu_pct rss_kb
for impl in $IMPLS; do
  for side in a b; do
    cpu_pct[$impl-$side]=0 rss_kb[$impl-$side]=
    for pid in $(speaker_pids "$impl" "$side"); do
      alive "$pid" || die "$impl $side: process $pid died during the soak"
      cpu_pct[$impl-$side]=$(awk -v acc="${cpu_pct[$impl-$side]}" -v t0="${cpu_start[$pid]}" -v t1="$(cpu_ticks "$pid")" \
        -v hz="$clock_ticks" -v s="$window_start" -v e="$window_end" 'BEGIN { printf "%.2f", acc + (t1 - t0) / hz / (e - s) * 100 }')
      rss_kb[$impl-$side]+="${rss_kb[$impl-$side]:+ + }$(awk '{ printf "%.1f", $1 / 1024 }' <<<"$(vm_rss_kb "$pid")")"
    done
  done
done
for impl in $IMPLS; do
  kill -INT "$(eval echo "\$capture_$impl")"
done
for impl in $IMPLS; do
  pid=$(eval echo "\$capture_$impl")
  for i in $(seq 100); do alive "$pid" || break; sleep 0.1; done
done

# --- report --------------------------------------------------------------------------------------

# Transitions a speaker logged in the window: ours "NAME: FROM -> TO (reason)", keepalived "Entering X STATE".
transitions() { # impl side
  local pattern
  [ "$1" = keepalived ] && pattern='Entering [A-Z]+ STATE' || pattern=': [A-Za-z]+ -> [A-Za-z]+ \('
  awk -v s="${log_lines[$1-$2]}" -v e="${log_lines_end[$1-$2]}" 'NR > s && NR <= e' "$work/$1-$2.log" |
    grep -cE "$pattern" || true
}

# From the capture, window only: "adverts_a max_gap_ms p999_gap_ms adverts_b prio0 takeovers_b", where takeovers_b
# counts B's adverts that follow one of A's (B has taken over; A keeps advertising, as B's priority is lower). The capture holds each
# frame twice (entering the bridge at the sender's port, flooded out of the other): only the sender's port counts,
# which is interface 0 (pa) for A and 1 (pb) for B.
wire() { # impl
  tshark -r "$work/$1.pcapng" -Y vrrp -T fields -e frame.time_epoch -e frame.interface_id -e ip.src -e vrrp.prio \
    2>/dev/null | sort -n | awk -v a=$addr_a -v b=$addr_b -v s="$window_start" -v e="$window_end" \
      -v gaps="$work/gaps-$1.txt" '
      BEGIN { printf "" >gaps }
      $1 < s || $1 > e { next }
      !(($3 == a && $2 == 0) || ($3 == b && $2 == 1)) { next }
      $4 == 0 { prio0++ }
      $3 == b && speaker == a { takeovers++ }
      { speaker = $3 }
      $3 == a { if (prev != "") { gap = ($1 - prev) * 1000; print gap >gaps; if (gap > max) max = gap } prev = $1; na++ }
      $3 == b { nb++ }
      END { printf "%d %.1f %d %d %d\n", na, max, nb, prio0, takeovers + 0 }' >"$work/wire-$1.txt"
  # the 99.9th percentile of the gaps, to tell one outlier from a pattern
  read -r na max nb prio0 takeovers <"$work/wire-$1.txt"
  p999=$(sort -n "$work/gaps-$1.txt" | awk '{ v[NR] = $1 } END { i = int(NR * 0.999); if (i < 1) i = 1; printf "%.1f", v[i] }')
  echo "$na $max $p999 $nb $prio0 $takeovers"
}

window_seconds=$(awk -v s="$window_start" -v e="$window_end" 'BEGIN { printf "%.1f", e - s }')
mdi_ms=$(awk -v i="$ADVERT_MS" -v p=$prio_b 'BEGIN { printf "%.1f", 3 * i + (256 - p) * i / 256 }')
load_max=$(sort -n "$work/load.tsv" | tail -n1)
load_mean=$(awk '{ s += $1 } END { printf "%.1f", s / NR }' "$work/load.tsv")

print_report() {
  local impl na max p999 nb prio0 takeovers
  echo "Soak: a window of ${window_seconds} s, VRRPv3 ${ADVERT_MS} ms adverts (B's Master_Down_Interval ${mdi_ms} ms), in each of the four router"
  echo "namespaces a hog of $HOG_CPUS CPU workers + 1 memory worker touching $HOG_VM_BYTES. Load average (1 min) at the start"
  echo "$load_start, at the end $load_end; sampled every 10 s: mean $load_mean, max $load_max. Speakers' scheduling:"
  echo "$([ -z "$RT_PRIORITY" ] && echo "normal (SCHED_OTHER, nice 0, as the hogs)" || echo "SCHED_RR priority $RT_PRIORITY (chrt), the hogs SCHED_OTHER")."
  echo
  echo "| pair | transitions logged (A / B) | adverts from A | largest gap between A's adverts ms | 99.9th pct gap ms | adverts from B | priority-0 adverts | B's take-overs on the wire | CPU % of one core (A / B) | VmRSS MB (A / B) |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for impl in $IMPLS; do
    read -r na max p999 nb prio0 takeovers <<<"$(wire "$impl")"
    echo "| $impl | $(transitions "$impl" a) / $(transitions "$impl" b) | $na | $max | $p999 | $nb | $prio0 | $takeovers | ${cpu_pct[$impl-a]} / ${cpu_pct[$impl-b]} | ${rss_kb[$impl-a]} / ${rss_kb[$impl-b]} |"
  done
  echo
  echo "keepalived's CPU is its parent's plus its VRRP child's; its VmRSS is listed as parent + child."
}

write_doc() {
  # A run with RT_PRIORITY has a section of its own.
  local doc=$repo/$DOC begin="<!-- bench/soak.sh${RT_PRIORITY:+ rt}: begin -->" end="<!-- bench/soak.sh${RT_PRIORITY:+ rt}: end -->" section
  section=$(
    echo "$begin"
    echo "## Soak: ${ADVERT_MS} ms adverts under CPU and memory hogs${RT_PRIORITY:+, speakers under SCHED_RR}"
    echo
    doc_measured_line
    echo "Machine: $(nproc) CPUs ($(cpu_model), shared with other jobs),"
    echo "kernel $(uname -r), $(keepalived -v 2>&1 | head -n1), $(stress-ng --version 2>&1 | head -n1)."
    echo
    echo "$report"
    echo "$end"
  )
  replace_doc_section "$doc" "$begin" "$end" "$section"
  log "wrote $doc"
}

command_line="SOAK_SECONDS=$SOAK_SECONDS"
[ "$ADVERT_MS" = 20 ] || command_line+=" ADVERT_MS=$ADVERT_MS"
[ "$HOG_CPUS" = "$(nproc)" ] || command_line+=" HOG_CPUS=$HOG_CPUS"
[ "$HOG_VM_BYTES" = 1G ] || command_line+=" HOG_VM_BYTES=$HOG_VM_BYTES"
[ "$IMPLS" = "ours keepalived" ] || command_line+=" IMPLS=\"$IMPLS\""
[ -z "$RT_PRIORITY" ] || command_line+=" RT_PRIORITY=$RT_PRIORITY"
command_line+=" bench/soak.sh"

report=$(print_report) # once: reading the captures takes a while
echo
echo "$report"
[ -z "$DOC" ] || write_doc

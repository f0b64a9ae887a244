#!/usr/bin/env bash
# nginx-failure failover and memory benchmark: nginx-ha-agent `run` vs keepalived with a vrrp_script.
#
#   bench/nginx-failover.sh            # root; RUNS=5 by default, about 4 minutes
#
# Environment: RUNS (failover runs per side, default 5), IMPLS ("keepalived ours"), MEMORY (1: also
# measure memory, default 1), MEM_SETTLE (seconds after start-up before reading VmRSS, default 10),
# DOC (markdown file to write, default docs/benchmarks-nginx.md; empty: don't write),
# NICE (niceness of every process the benchmark starts, both sides alike, default -10: shields the
# measurement from other jobs on a shared machine), SKIP_BUILD=1 (use what is built),
# AGENT_DLL (a managed build of the agent, run through dotnet; default: scripts/publish-agent.sh's NativeAOT binary),
# KEEP_WORK=1 (keep the work directory with every log and config).
#
# Topology, rebuilt for every run (nothing carries over from one run to the next):
#
#   bn3-a   (lb-a, 198.18.0.11, priority 254) --veth--+
#   bn3-b   (lb-b, 198.18.0.12, priority 253) --veth--+
#   bn3-web (web,  198.18.0.21:8080)          --veth--+-- br0 in bn3-br (no link to the host)
#   bn3-c   (client, 198.18.0.100)            --veth--+
#   VIP 198.18.0.200/24 (failover); 198.18.0.201 + 198.18.0.202 (memory, two instances per node).
#
# Real nginx everywhere. The web nginx answers with the name of the lb whose address the request came
# from (nginx proxies from the lb's own address), so the client can tell which lb served it. Each lb
# runs an nginx proxying port 80 to the web nginx, with a health endpoint on 127.0.0.1:18080/healthz:
#   keepalived: nginx started by this script (as a systemd unit would), keepalived VRRPv3, 1 s adverts,
#               vrrp_script curl of /healthz every 1 s, fall 1, no weight (a failure puts the instance in
#               FAULT, which sends priority 0);
#   ours:       `nginx-ha-agent run -f MANIFEST --node lb-X`, which renders, starts and supervises nginx.
# The fault, the same command on both sides: the lb's nginx binary (each lb runs its own copy) is
# removed, then the master's process group (master + workers) gets SIGKILL. Nothing can start nginx
# again, so the agent's immediate restart fails and it goes to FAULT; keepalived's next check fails.
# The probe in the client namespace opens a new connection to the VIP every 5 ms (GET /) and times
# from the fault to the first reply served by lb-b.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
RUNS=${RUNS:-5}
IMPLS=${IMPLS:-keepalived ours}
MEMORY=${MEMORY:-1}
MEM_SETTLE=${MEM_SETTLE:-10}
DOC=${DOC-docs/benchmarks-nginx.md}
NICE=${NICE:--10}

readonly ns_bridge=bn3-br ns_a=bn3-a ns_b=bn3-b ns_web=bn3-web ns_client=bn3-c
readonly addr_a=198.18.0.11 addr_b=198.18.0.12 addr_web=198.18.0.21 addr_client=198.18.0.100 prefix=24
readonly vip=198.18.0.200 mem_vip1=198.18.0.201 mem_vip2=198.18.0.202
readonly web_port=8080 lb_port=80 health_port=18080 prio_a=254 prio_b=253
readonly check_interval=1 settle_seconds=1.2 # settle: lets ARP locktime (1 s) pass and B settle in BACKUP

probe_dll=$repo/bench/FailoverProbe/bin/Release/net10.0/failover-probe.dll
# The agent as it ships (scripts/publish-agent.sh: NativeAOT); AGENT_DLL: a managed build through dotnet.
agent_cmd=("$repo/artifacts/bench-agent/nginx-ha-agent")
[ -z "${AGENT_DLL:-}" ] || agent_cmd=(dotnet "$AGENT_DLL")
nginx_binary=$(command -v nginx || echo /usr/sbin/nginx)

require_root
[[ "$RUNS" =~ ^[0-9]+$ ]] || die "RUNS must be a non-negative integer, got '$RUNS'"
[[ "$MEM_SETTLE" =~ ^[1-9][0-9]*$ ]] || die "MEM_SETTLE must be a positive number of seconds, got '$MEM_SETTLE'"
[[ "$NICE" =~ ^-?[0-9]+$ && $NICE -ge -20 && $NICE -le 19 ]] || die "NICE must be a niceness -20..19, got '$NICE'"
[[ "$MEMORY" == [01] ]] || die "MEMORY must be 0 or 1, got '$MEMORY'"
require_tools ip keepalived dotnet flock curl setsid
[ -x "$nginx_binary" ] || die "nginx is not installed (scripts/install-deps.sh)"
for impl in $IMPLS; do [[ $impl == keepalived || $impl == ours ]] || die "IMPLS: unknown implementation '$impl'"; done

# One run at a time: the namespace names are fixed.
lock_and_make_work_dir bn3-nginx-failover
started_pids=()
created_namespaces=()
run_dir=

# --- processes -------------------------------------------------------------------------------

# Direct children of PID (one level), from every thread's children list.
children_of() {
  cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9]+$' || true
}

# The watchdog process `run` starts for agent PID (docs/agent-faults.md): part of the agent's memory.
watchdog_of() { # agent-pid
  local dir
  for dir in /proc/[0-9]*; do
    [[ $(tr '\0' ' ' 2>/dev/null <"$dir/cmdline") == *" watchdog --agent-pid $1 "* ]] && echo "${dir#/proc/}"
  done
  return 0
}

vm_rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# --- topology --------------------------------------------------------------------------------

build_topology() {
  add_bridged_namespaces $ns_bridge $ns_a $ns_b $ns_web $ns_client
  connect_to_bridge $ns_bridge $ns_a pa $addr_a
  connect_to_bridge $ns_bridge $ns_b pb $addr_b
  connect_to_bridge $ns_bridge $ns_web pw $addr_web
  connect_to_bridge $ns_bridge $ns_client pc $addr_client
}

# --- nginx -----------------------------------------------------------------------------------

# Common top of every nginx.conf here: foreground, everything under DIR.
nginx_main_block() { # dir
  cat <<EOF
daemon off;
worker_processes auto;
pid $1/logs/nginx.pid;
error_log $1/logs/error.log;
events { worker_connections 1024; }
EOF
}

nginx_temp_paths() { # dir
  local kind
  for kind in client_body proxy fastcgi uwsgi scgi; do echo "  ${kind}_temp_path $1/tmp/$kind;"; done
}

# The web backend: answers with the name of the lb it was proxied through.
start_web() {
  local dir=$run_dir/web
  mkdir -p "$dir/conf" "$dir/logs" "$dir/tmp"
  {
    nginx_main_block "$dir"
    echo "http {"
    echo "  access_log off;"
    nginx_temp_paths "$dir"
    echo "  map \$remote_addr \$via_lb { $addr_a lb-a; $addr_b lb-b; default unknown; }"
    echo "  server {"
    echo "    listen $addr_web:$web_port;"
    echo "    default_type text/plain;"
    echo "    location / { return 200 \"\$via_lb\\n\"; }"
    echo "  }"
    echo "}"
  } >"$dir/conf/nginx.conf"
  ip netns exec $ns_web nice -n "$NICE" setsid "$nginx_binary" -p "$dir" -c "$dir/conf/nginx.conf" -e "$dir/logs/error.log" \
    >"$dir/logs/stderr.log" 2>&1 &
  started_pids+=($!); disown $!
}

# Each lb gets its own copy of the nginx binary: the fault removes it (nothing can start nginx again).
lb_nginx_binary() { # side
  local bin=$run_dir/lb-$1/bin/nginx
  mkdir -p "$(dirname "$bin")"
  [ -x "$bin" ] || cp "$nginx_binary" "$bin"
  echo "$bin"
}

# keepalived side: the lb nginx as a systemd unit would run it (nobody restarts it).
start_lb_nginx() { # side namespace
  local dir=$run_dir/lb-$1/nginx bin
  bin=$(lb_nginx_binary "$1")
  mkdir -p "$dir/conf" "$dir/logs" "$dir/tmp"
  {
    nginx_main_block "$dir"
    echo "http {"
    echo "  access_log off;"
    nginx_temp_paths "$dir"
    echo "  upstream web { server $addr_web:$web_port; }"
    echo "  server {"
    echo "    listen $lb_port;"
    echo "    location / { proxy_pass http://web; }"
    echo "  }"
    echo "  server {"
    echo "    listen 127.0.0.1:$health_port;"
    echo "    location = /healthz { return 200 \"ok\\n\"; }"
    echo "  }"
    echo "}"
  } >"$dir/conf/nginx.conf"
  # setsid: the master leads a process group with its workers, as under the agent.
  ip netns exec "$2" nice -n "$NICE" setsid "$bin" -p "$dir" -c "$dir/conf/nginx.conf" -e "$dir/logs/error.log" \
    >"$dir/logs/stderr.log" 2>&1 &
  started_pids+=($!); disown $!
  eval "nginx_pid_$1=\$!"
}

# --- implementations -------------------------------------------------------------------------

# keepalived.conf for one lb: one vrrp_instance per "vrid:vip:priority" argument.
keepalived_conf() { # side instance...
  local spec vrid address priority
  echo "global_defs {"
  echo "  router_id bn3_$1"
  echo "  vrrp_version 3"
  echo "  script_user root"
  echo "  enable_script_security"
  echo "}"
  echo "vrrp_script chk_nginx {"
  echo "  script \"$(command -v curl) -sf -o /dev/null --max-time 0.5 http://127.0.0.1:$health_port/healthz\""
  echo "  interval $check_interval"
  echo "  timeout 1"
  echo "  fall 1"
  echo "  rise 1"
  echo "}"
  shift
  for spec in "$@"; do
    IFS=: read -r vrid address priority <<<"$spec"
    echo "vrrp_instance vi_$vrid {"
    echo "  state BACKUP"
    echo "  interface eth0"
    echo "  virtual_router_id $vrid"
    echo "  priority $priority"
    echo "  advert_int 1"
    echo "  virtual_ipaddress {"
    echo "    $address/$prefix dev eth0"
    echo "  }"
    echo "  track_script {"
    echo "    chk_nginx"
    echo "  }"
    echo "}"
  done
}

# Sets router_pid_a/b, nginx_pid_a/b, nginx_bin_a/b.
start_keepalived() { # setup: failover | memory
  local side ns conf
  for side in a b; do
    [ $side = a ] && ns=$ns_a || ns=$ns_b
    start_lb_nginx $side "$ns"
    eval "nginx_bin_$side=\$run_dir/lb-\$side/bin/nginx"
    conf=$run_dir/lb-$side/keepalived.conf
    if [ "$1" = failover ]; then
      [ $side = a ] && keepalived_conf $side "51:$vip:$prio_a" >"$conf" || keepalived_conf $side "51:$vip:$prio_b" >"$conf"
    else # two instances, each lb preferred master of one VIP (as the agent's ActiveActive plans it)
      [ $side = a ] && keepalived_conf $side "61:$mem_vip1:$prio_a" "62:$mem_vip2:$prio_b" >"$conf" \
                    || keepalived_conf $side "61:$mem_vip1:$prio_b" "62:$mem_vip2:$prio_a" >"$conf"
    fi
    chmod 600 "$conf"
    # -P: VRRP only; -n: stay in the foreground so $! is the parent; own pid files per side.
    ip netns exec "$ns" nice -n "$NICE" keepalived -P -n -l -D -G -f "$conf" \
      -p "$run_dir/lb-$side/keepalived.pid" -r "$run_dir/lb-$side/keepalived-vrrp.pid" \
      >"$run_dir/lb-$side/router.log" 2>&1 &
    started_pids+=($!); disown $!
    eval "router_pid_$side=\$!"
  done
}

# The manifest both agents load, in the examples' style.
agent_manifest() { # setup: failover | memory
  cat <<EOF
apiVersion: v1
kind: Node
metadata:
  name: lb-a
  labels: {bench.nginx-ha.io/pool: edge}
status:
  addresses: [{type: InternalIP, address: $addr_a}]
---
apiVersion: v1
kind: Node
metadata:
  name: lb-b
  labels: {bench.nginx-ha.io/pool: edge}
status:
  addresses: [{type: InternalIP, address: $addr_b}]
---
apiVersion: nginx-ha.io/v1alpha1
kind: NginxBackendPool
metadata:
  name: web
  namespace: bench
spec:
  listeners: [{port: $lb_port}]
  backends:
    servers: [{address: $addr_web, port: $web_port}]
---
apiVersion: nginx-ha.io/v1alpha1
kind: VirtualIpGroup
metadata:
  name: web
  namespace: bench
spec:
EOF
  if [ "$1" = failover ]; then
    echo "  mode: ActivePassive"
    echo "  virtualIPs: [$vip/$prefix]"
  else
    echo "  mode: ActiveActive"
    echo "  virtualIPs: [$mem_vip1/$prefix, $mem_vip2/$prefix]"
  fi
  cat <<EOF
  nodeSelector:
    matchLabels: {bench.nginx-ha.io/pool: edge}
  vrrp:
    version: 3
    advertisementInterval: 1s
  backendPoolRef: web
EOF
}

# Sets router_pid_a/b, nginx_bin_a/b; nginx_pid_a/b once the agents' nginx is up (agent_nginx_pid).
start_ours() { # setup: failover | memory
  local side ns bin
  agent_manifest "$1" >"$run_dir/manifest.yaml"
  for side in a b; do
    [ $side = a ] && ns=$ns_a || ns=$ns_b
    bin=$(lb_nginx_binary $side)
    eval "nginx_bin_$side=\$bin"
    ip netns exec "$ns" nice -n "$NICE" "${agent_cmd[@]}" run -f "$run_dir/manifest.yaml" --node lb-$side \
      --state-dir "$run_dir/lb-$side/agent" --nginx "$bin" --health-port $health_port \
      >"$run_dir/lb-$side/router.log" 2>&1 &
    started_pids+=($!); disown $!
    eval "router_pid_$side=\$!"
  done
}

# The nginx master the agent runs (its child), from the supervisor's pid file.
agent_nginx_pid() { # side
  local pid_file=$run_dir/lb-$1/agent/nginx/logs/nginx.pid pid
  [ -s "$pid_file" ] || return 1
  pid=$(<"$pid_file")
  [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" && [[ $(cat "/proc/$pid/comm") == nginx ]] || return 1
  echo "$pid"
}

# --- one failover run ------------------------------------------------------------------------

probe() { # target probe-arguments...
  ip netns exec $ns_client nice -n "$NICE" dotnet "$probe_dll" probe --http / --target "$@"
}

# Sets result to "MS<TAB>WIRE-DETAILS", "timeout<TAB>..." or "error<TAB>reason". Runs in this
# shell (not a $(...) subshell) so teardown_run and the EXIT trap know every PID and namespace.
run_once() { # impl fault-delay-ms
  local impl=$1 delay_ms=$2 ready output master
  run_dir=$work/run-$impl-$run
  mkdir -p "$run_dir"
  started_pids=()
  build_topology
  start_web
  "start_$impl" failover

  if ! ready=$(probe $vip:$lb_port --expect lb-a --timeout 30s); then
    result=$(printf 'error\tthe VIP never answered through lb-a (%s)' "$ready"); return
  fi
  # Warm lb-b's nginx through its own address: it must serve before the fault, as in production.
  if ! output=$(probe $addr_b:$lb_port --expect lb-b --timeout 10s); then
    result=$(printf 'error\tlb-b does not serve on its own address (%s)' "$output"); return
  fi
  sleep $settle_seconds
  if ip -n $ns_b -4 addr show dev eth0 | grep -q " $vip/"; then
    result=$(printf 'error\tlb-b holds the VIP too before the fault'); return
  fi
  if [ "$impl" = ours ]; then
    master=$(agent_nginx_pid a) || { result=$(printf 'error\tno nginx master under the agent on lb-a'); return; }
  else
    master=$nginx_pid_a
  fi
  # The fault fires delay_ms after an advert of lb-a: the same point of the advert cycle on both sides.
  output=$(probe $vip:$lb_port --expect lb-b --timeout 10s --sync-advert-from $addr_a --fault-delay "${delay_ms}ms" -- \
    sh -c "rm -f '$nginx_bin_a' && kill -9 -$master" 2>>"$run_dir/probe.log") || true
  result=$(printf '%s\t%s' "$(sed -n 1p <<<"$output")" "$(sed -n 2p <<<"$output")")
}

teardown_run() {
  local side i
  if [ -n "$run_dir" ]; then
    for side in a b; do stop_by_pid_file "$run_dir/lb-$side/keepalived-vrrp.pid" keepalived; done
  fi
  # Reverse start order: the agents hand over and stop their nginx before the web server goes.
  for ((i = ${#started_pids[@]} - 1; i >= 0; i--)); do stop_pid "${started_pids[i]}"; done
  if [ -n "$run_dir" ]; then # orphans of a process that died first
    for side in a b; do
      stop_by_pid_file "$run_dir/lb-$side/keepalived-vrrp.pid" keepalived
      stop_by_pid_file "$run_dir/lb-$side/agent/nginx/logs/nginx.pid" nginx
    done
  fi
  started_pids=()
  delete_namespaces
}

cleanup() {
  local rc=$?
  teardown_run
  if [ "${KEEP_WORK:-}" = 1 ]; then log "kept $work (logs, configs)"; else rm -rf "$work"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- memory ----------------------------------------------------------------------------------

# Appends "impl<TAB>role<TAB>pid<TAB>kB" lines for lb-a to $work/memory.tsv.
measure_memory() { # impl
  local impl=$1 output master worker n=0
  run_dir=$work/memory-$impl
  mkdir -p "$run_dir"
  started_pids=()
  build_topology
  start_web
  "start_$impl" memory
  if ! output=$(probe $mem_vip1:$lb_port --expect lb-a --timeout 30s) \
     || ! output=$(probe $mem_vip2:$lb_port --expect lb-b --timeout 30s); then
    log "memory $impl: the VIPs never answered through their preferred lbs ($output)"
    tail -n 5 "$run_dir"/lb-*/router.log >&2 || true
    teardown_run
    return 1
  fi
  sleep "$MEM_SETTLE"
  if [ "$impl" = ours ]; then
    master=$(agent_nginx_pid a)
    printf '%s\tagent\t%s\t%s\n' "$impl" "$router_pid_a" "$(vm_rss_kb "$router_pid_a")" >>"$work/memory.tsv"
    local watchdog
    watchdog=$(watchdog_of "$router_pid_a")
    if [ -z "$watchdog" ]; then
      log "memory $impl: no watchdog process of agent $router_pid_a"; teardown_run; return 1
    fi
    printf '%s\tagent watchdog\t%s\t%s\n' "$impl" "$watchdog" "$(vm_rss_kb "$watchdog")" >>"$work/memory.tsv"
  else
    master=$nginx_pid_a
    printf '%s\tkeepalived parent\t%s\t%s\n' "$impl" "$router_pid_a" "$(vm_rss_kb "$router_pid_a")" >>"$work/memory.tsv"
    local child
    child=$(<"$run_dir/lb-a/keepalived-vrrp.pid")
    printf '%s\tkeepalived VRRP child\t%s\t%s\n' "$impl" "$child" "$(vm_rss_kb "$child")" >>"$work/memory.tsv"
  fi
  printf '%s\tnginx master\t%s\t%s\n' "$impl" "$master" "$(vm_rss_kb "$master")" >>"$work/memory.tsv"
  for worker in $(children_of "$master"); do
    n=$((n + 1))
    printf '%s\tnginx worker %s\t%s\t%s\n' "$impl" "$n" "$worker" "$(vm_rss_kb "$worker")" >>"$work/memory.tsv"
  done
  teardown_run
}

# --- statistics and report -------------------------------------------------------------------

# Reads numbers (one per line) and prints "median min max" or "-" when there are none.
stats() {
  sort -n | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "-"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.0f %.0f %.0f\n", m, v[1], v[NR] }'
}

# results.tsv has impl run fault-delay ms wire...; prints the times (or one wire value) of one implementation.
values() { # impl [wire-key]
  awk -F'\t' -v i="$1" -v k="${2:-}" '
    $1 == i {
      if (k == "") { if ($4 ~ /^[0-9.]+$/) print $4; next }
      n = split($5, parts, " ")
      for (j = 1; j <= n; j++) if (parts[j] ~ "^" k "=[0-9.]+$") { sub("^" k "=", "", parts[j]); print parts[j] } }' \
    "$work/results.tsv"
}

failures() { # impl
  awk -F'\t' -v i="$1" '$1 == i && $4 !~ /^[0-9.]+$/ { n++ } END { print n + 0 }' "$work/results.tsv"
}

impl_name() { [ "$1" = ours ] && echo "nginx-ha-agent run" || echo "keepalived + vrrp_script"; }

print_failover_table() {
  local impl s med min max n text km om ratio
  echo "| implementation | fault -> served by lb-b, ms (median / min / max) | old master priority-0 advert ms | new master first advert ms | first ARP for the VIP ms |"
  echo "|---|---|---|---|---|"
  for impl in $IMPLS; do
    s=$(values "$impl" | stats); n=$(failures "$impl")
    if [ "$s" = - ]; then text="n/a"; else read -r med min max <<<"$s"; text="$med / $min / $max"; fi
    # A run with no measurement (timeout, error) is counted, never silently dropped.
    [ "$n" -eq 0 ] || text+=" ($n of $RUNS failed)"
    echo "| $(impl_name "$impl") | $text | $(values "$impl" old_master_priority0_ms | stats | cut -d' ' -f1)" \
      "| $(values "$impl" new_master_advert_ms | stats | cut -d' ' -f1) | $(values "$impl" vip_arp_ms | stats | cut -d' ' -f1) |"
  done
  km=$(values keepalived | stats | cut -d' ' -f1); om=$(values ours | stats | cut -d' ' -f1)
  if [[ $km =~ ^[0-9]+$ && $om =~ ^[0-9]+$ && $om -gt 0 ]]; then
    ratio=$(awk -v o="$om" -v k="$km" 'BEGIN { printf "%.1f", k / o }')
  else ratio="n/a"; fi
  echo
  echo "Ratio keepalived / ours (medians): **$ratio** (target: at least 10)."
}

# One row per run: where the fault fell and what each side took.
print_runs_table() {
  local run impl row
  echo "| run | fault after lb-a's advert, ms | $(for impl in $IMPLS; do printf '%s ms | ' "$(impl_name "$impl")"; done)"
  echo "|---|---|$(for impl in $IMPLS; do printf -- '---|'; done)"
  for run in $(seq "$RUNS"); do
    row="| $run | $(awk -F'\t' -v r="$run" '$2 == r { print $3; exit }' "$work/results.tsv")"
    for impl in $IMPLS; do row+=" | $(awk -F'\t' -v r="$run" -v i="$impl" '$1 == i && $2 == r { print $4 }' "$work/results.tsv")"; done
    echo "$row |"
  done
}

mb() { awk -v kb="$1" 'BEGIN { printf "%.1f", kb / 1024 }'; }

print_memory_table() {
  local impl
  echo "| setup (lb-a, 2 VRRP instances) | process | VmRSS MB |"
  echo "|---|---|---|"
  for impl in keepalived ours; do
    awk -F'\t' -v i="$impl" '$1 == i' "$work/memory.tsv" | while IFS=$'\t' read -r _ role _ kb; do
      echo "| $(impl_name "$impl") | $role | $(mb "$kb") |"
    done
    echo "| $(impl_name "$impl") | **VRRP side total** (without nginx) | **$(mb "$(awk -F'\t' -v i="$impl" \
      '$1 == i && $2 !~ /^nginx/ { s += $4 } END { print s + 0 }' "$work/memory.tsv")")** |"
    echo "| $(impl_name "$impl") | **total with nginx** | **$(mb "$(awk -F'\t' -v i="$impl" \
      '$1 == i { s += $4 } END { print s + 0 }' "$work/memory.tsv")")** |"
  done
}

write_doc() {
  local doc=$repo/$DOC
  mkdir -p "$(dirname "$doc")"
  {
    echo "## nginx failure: keepalived + vrrp_script vs nginx-ha-agent"
    echo
    doc_measured_line
    echo "Machine: $(nproc) CPUs ($(cpu_model), shared with other jobs),"
    echo "kernel $(uname -r), $(keepalived -v 2>&1 | head -n1), $("$nginx_binary" -v 2>&1), .NET $(dotnet --version)."
    echo "Load average at the start / end: $load_at_start / $(cut -d' ' -f1-3 /proc/loadavg). Every process the benchmark"
    echo "starts (both sides alike, the probe too) runs at nice $NICE, to shield the measurement from the other jobs."
    echo
    echo "Setup (bench/nginx-failover.sh): lb-a and lb-b in their own network namespaces, a web nginx and a client in"
    echo "two more, all on a bridge in a fifth; real nginx on every lb, proxying port 80 to the web nginx, which"
    echo "answers with the name of the lb the request came through. VIP $vip/$prefix, VRRPv3 with 1 s adverts,"
    echo "priorities $prio_a / $prio_b on both sides, preemption on, the implementations' default gratuitous ARPs."
    echo
    echo "- keepalived: nginx started by the script (as a systemd unit would start it; nothing restarts it);"
    echo "  \`vrrp_script\` running \`curl -sf --max-time 0.5 http://127.0.0.1:$health_port/healthz\` every $check_interval s, \`fall 1\`,"
    echo "  \`rise 1\`, no weight, so a failed check puts the instance in FAULT, which sends a priority-0 advert."
    echo "- ours: \`nginx-ha-agent run -f manifest.yaml --node lb-X\` (two Node documents, an NginxBackendPool, an"
    echo "  ActivePassive VirtualIpGroup); the agent renders and starts nginx as its child and supervises it."
    echo
    echo "The fault, the same command on both sides: \`rm -f <lb-a's copy of the nginx binary> && kill -9 -<nginx"
    echo "master's process group>\`: nginx (master and workers) dies and cannot be started again. The agent sees its"
    echo "child exit at once, its immediate restart fails, and it sends priority 0; keepalived learns it at the next"
    echo "check. Time from the fault until a client in a third namespace gets a reply through lb-b from the VIP"
    echo "(a new connection and \`GET /\` every 5 ms, 200 ms timeout each). Every run starts from a fresh topology"
    echo "and fresh processes. keepalived's time depends on where in its ${check_interval} s check period the fault falls, so"
    echo "run r of N fires the fault (r - 0.5) / N of a period after an advert of lb-a reached the client: the runs"
    echo "spread evenly over the period and the median is keepalived's typical case (the agent, event-driven, gets"
    echo "the same delays). N = $RUNS runs per side, interleaved. Wire columns: medians, ms after the fault, as the"
    echo "client saw them."
    echo
    print_failover_table
    echo
    print_runs_table
    echo
    echo "Reading it: keepalived's time is what is left of its check period at the fault plus the handover, so it"
    echo "shrinks as the fault falls later; its median is about half a period. The agent's does not depend on"
    echo "where the fault falls: child exit -> one immediate restart attempt (fails: no binary) -> priority 0, then"
    echo "lb-b's Skew_Time ((256 - $prio_b) / 256 s = $(awk -v p=$prio_b 'BEGIN { printf "%.1f", (256 - p) / 256 * 1000 }') ms, RFC 5798), its VIP, gratuitous ARP and the client's next"
    echo "connection. Both sides pay the same fault-command start (a shell from the probe) inside their numbers."
    echo "A shorter keepalived \`interval\` narrows the gap at the cost of a curl per interval; its floor is the same"
    echo "Skew_Time + ARP path as the agent's."
    if [ "$MEMORY" = 1 ]; then
      echo
      echo "Memory: VmRSS from /proc/PID/status on lb-a, $MEM_SETTLE s after both VIPs answered, with two VRRP instances"
      echo "per node (VIPs $mem_vip1 and $mem_vip2, one preferred master each: ActiveActive for the agent, two"
      echo "\`vrrp_instance\`s with the same \`vrrp_script\` for keepalived) and nginx (\`worker_processes auto\`) running."
      if [ -z "${AGENT_DLL:-}" ]; then echo "The agent runs as it ships (\`scripts/publish-agent.sh\`: NativeAOT)."
      else echo "The agent runs as a managed build on the .NET runtime (AGENT_DLL=$AGENT_DLL)."; fi
      echo "The agent's side counts its watchdog process too (\`nginx-ha-agent watchdog\`, which \`run\` starts: docs/agent-faults.md)."
      echo
      print_memory_table
    fi
  } >"$doc"
  log "wrote $doc"
}

# --- main ------------------------------------------------------------------------------------

command_line="RUNS=$RUNS"
[ "$IMPLS" = "keepalived ours" ] || command_line+=" IMPLS=\"$IMPLS\""
[ "$MEMORY" = 1 ] || command_line+=" MEMORY=$MEMORY"
[ "$MEM_SETTLE" = 10 ] || command_line+=" MEM_SETTLE=$MEM_SETTLE"
[ "$NICE" = -10 ] || command_line+=" NICE=$NICE"
[ -z "${AGENT_DLL:-}" ] || command_line+=" AGENT_DLL=$AGENT_DLL"
command_line+=" bench/nginx-failover.sh"

for ns in $ns_bridge $ns_a $ns_b $ns_web $ns_client; do
  if [ -e "/run/netns/$ns" ]; then
    log "removing namespace $ns left by an interrupted run"
    ip netns del "$ns"
  fi
done

if [ "${SKIP_BUILD:-}" != 1 ]; then
  log "building the probe and the agent (Release)"
  dotnet build -c Release -v q -nologo "$repo/bench/FailoverProbe/NginxHa.Bench.FailoverProbe.csproj" >"$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; die "probe build failed"; }
  if [ -z "${AGENT_DLL:-}" ]; then
    "$repo/scripts/publish-agent.sh" "$repo/artifacts/bench-agent" >"$work/build.log" 2>&1 \
      || { cat "$work/build.log" >&2; die "agent build failed"; }
  fi
fi
[ -f "$probe_dll" ] || die "$probe_dll is missing (build it or unset SKIP_BUILD)"
[ -f "${agent_cmd[-1]}" ] || die "${agent_cmd[-1]} is missing (build it or unset SKIP_BUILD)"

load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$work/results.tsv"
: >"$work/memory.tsv"
for run in $(seq "$RUNS"); do
  # keepalived notices the fault at its next check, so its time depends on where in the check period the fault
  # falls. Run r fires at ((r - 0.5) / RUNS) of a period after lb-a's advert: the runs spread evenly over it and
  # the median is keepalived's typical case, not its best or worst. The agent gets the same delays.
  delay_ms=$(awk -v r="$run" -v n="$RUNS" -v p="$check_interval" 'BEGIN { printf "%.0f", (r - 0.5) / n * p * 1000 }')
  # Interleave the implementations so a busy moment on the machine hits both alike.
  for impl in $IMPLS; do
    run_once "$impl" "$delay_ms"
    if [[ $(cut -f1 <<<"$result") != [0-9]* ]]; then
      log "lb logs of the failed run:"; tail -n 8 "$run_dir"/lb-*/router.log >&2 || true
    fi
    teardown_run
    printf '%s\t%s\t%s\t%s\n' "$impl" "$run" "$delay_ms" "$result" >>"$work/results.tsv"
    log "$impl run $run (fault ${delay_ms} ms after an advert): $(cut -f1 <<<"$result") ms  $(cut -f2 <<<"$result")"
  done
done
if [ "$MEMORY" = 1 ]; then
  for impl in keepalived ours; do
    log "memory: $impl (settling $MEM_SETTLE s)"
    measure_memory "$impl" || die "memory measurement of $impl failed"
  done
fi

echo
if [ "$RUNS" -gt 0 ]; then print_failover_table; echo; print_runs_table; fi
if [ "$MEMORY" = 1 ]; then echo; print_memory_table; fi
[ -z "$DOC" ] || write_doc

#!/usr/bin/env bash
# The two-node demo: two nginx load balancers (lb1, lb2) run examples/dual-master.yaml with the
# standalone agent, each MASTER of one VIP. A client probes both VIPs while lb1 dies as a whole node;
# lb2 takes over, lb1 comes back and takes its VIP back. Run as root on Debian 12:  sudo scripts/demo.sh
#
# Everything lives in network namespaces created here (nha-lb1, nha-lb2, nha-web1, nha-web2,
# nha-client, and the switch nha-br): veth pairs are created inside them, nothing is linked to the
# host and there is no route out. Exit status 0 only when every step worked.
#
# scripts/demo.sh --cluster tells the same story driven by kubectl against the test cluster, with the operator and
# the agents' Kubernetes mode (scripts/demo-cluster.sh, sourced from here; its namespaces are nhk-*).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
manifest="$repo/examples/dual-master.yaml"
agent_dll="$repo/src/NodeAgent/bin/Release/net10.0/nginx-ha-agent.dll"

vip1=198.18.0.201 # lb1 is preferred master
vip2=198.18.0.202 # lb2 is preferred master
declare -A address=([lb1]=198.18.0.11 [lb2]=198.18.0.12 [web1]=198.18.0.21 [web2]=198.18.0.22 [client]=198.18.0.100)
# ip_hash keys on the first three octets of the client address, so a second client subnet is what
# makes the other web server answer: 198.18.0.x hashes to web1, 198.18.1.x to web2.
client_second_address=198.18.1.100
case "${1:-}" in
  "") variant=standalone ;;
  --cluster) variant=cluster ;;
  *) echo "usage: $0 [--cluster]" >&2; exit 2 ;;
esac
# The cluster variant has namespaces of its own, so it can run beside the default demo: the same addresses on two
# separate switches never meet.
prefix=nha
[ "$variant" = standalone ] || prefix=nhk
bridge_namespace=$prefix-br
namespaces=("$prefix-lb1" "$prefix-lb2" "$prefix-web1" "$prefix-web2" "$prefix-client" "$bridge_namespace")

probe_interval=0.02   # s between probes
probe_timeout=0.2     # s curl waits for a reply
max_failover_gap_ms=3000
max_preempt_gap_ms=2000

work=""
declare -A agent_pid=()
declare -A web_pid=()

# ---------------------------------------------------------------- output and timing helpers
now_ms() { local us=${EPOCHREALTIME//[.,]/}; echo $((us / 1000)); }
started_ms=$(now_ms)
stamp() { printf '%6.1fs' "$(( $(now_ms) - started_ms ))e-3"; }
step() { printf '\n== %s\n' "$*"; }
say() { printf '%s  %s\n' "$(stamp)" "$*"; }
fail() { printf '%s  FAILED: %s\n' "$(stamp)" "$*" >&2; exit 1; }

# Polls "$@" every 50 ms until it succeeds or TIMEOUT_MS pass.
wait_until() {
  local what=$1 timeout_ms=$2; shift 2
  local deadline=$(( $(now_ms) + timeout_ms ))
  until "$@"; do
    (( $(now_ms) < deadline )) || fail "timed out after ${timeout_ms} ms waiting for $what"
    sleep 0.05
  done
}

# ---------------------------------------------------------------- topology
# Kills by PID whatever runs in the namespace (a leftover of an interrupted run, or a "crashed" node), then deletes it.
remove_namespace() {
  local ns=$1 pid deadline
  [ -e "/run/netns/$ns" ] || return 0
  for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  deadline=$(( $(now_ms) + 3000 ))
  while [ -n "$(ip netns pids "$ns" 2>/dev/null)" ] && (( $(now_ms) < deadline )); do sleep 0.05; done
  ip netns delete "$ns"
}

create_switch() {
  ip netns add "$bridge_namespace"
  ip -n "$bridge_namespace" link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
  ip -n "$bridge_namespace" link set br0 up
}

# Namespace deletion frees its devices asynchronously: delete the switch port first (that removes both
# ends of the pair at once), so the port's name is free when the host is created again.
remove_host() {
  ip -n "$bridge_namespace" link delete "$1" 2>/dev/null || true
  remove_namespace "$prefix-$1"
}

# A host: namespace PREFIX-NAME whose eth0 is a veth pair with its other end (named NAME) on the switch.
create_host() {
  local name=$1 ns=$prefix-$1
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
  ip -n "$bridge_namespace" link add "$name" type veth peer name eth0 netns "$ns"
  ip -n "$bridge_namespace" link set "$name" master br0 up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.eth0.accept_dad=0
  ip -n "$ns" addr add "${address[$name]}/24" dev eth0
  ip -n "$ns" link set eth0 up
}

create_topology() {
  create_switch
  for host in lb1 lb2 web1 web2 client; do create_host "$host"; done
  ip -n "$prefix-client" addr add "$client_second_address/24" dev eth0
  for lb in lb1 lb2; do ip -n "$prefix-$lb" route add 198.18.1.0/24 dev eth0 scope link; done
}

# ---------------------------------------------------------------- web servers
# Real nginx on :8080 that names itself and the load balancer the request came through ($remote_addr).
start_web() {
  local name=$1 dir=$work/$1
  mkdir -p "$dir/tmp"
  cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    server {
        listen ${address[$name]}:8080;
        default_type text/plain;
        location / { return 200 "$name (via \$remote_addr)\n"; }
    }
}
EOF
  ip netns exec "$prefix-$name" nginx -c "$dir/nginx.conf" -e "$dir/error.log" -g 'daemon off;' &
  web_pid[$name]=$!
}

# ---------------------------------------------------------------- agents
start_agent() {
  local lb=$1 state=$work/state/$1
  prepare_state_dir "$lb"
  echo "---- agent started $(date -u +%FT%T.%3NZ)" >>"$work/$lb.log"
  ip netns exec "$prefix-$lb" dotnet "$agent_dll" "${agent_source[@]}" --node "$lb" --state-dir "$state" >>"$work/$lb.log" 2>&1 &
  agent_pid[$lb]=$!
}

# The status page's htpasswd: examples/dual-master.yaml names "htpasswd", relative to the agent's nginx
# config directory STATE/nginx/conf. nginx workers run as nobody:nogroup and read it on each request, so
# the path is group nogroup (0750 / 0640) and nothing is world-readable. The agent keeps existing modes.
prepare_state_dir() {
  local state=$work/state/$1 hash
  mkdir -p "$state/nginx/conf"
  chgrp nogroup "$work" "$work/state" "$state" "$state/nginx" "$state/nginx/conf"
  chmod 0750 "$work" "$work/state" "$state" "$state/nginx" "$state/nginx/conf"
  # nginx's {SHA} scheme: base64 of the binary SHA-1 (coreutils only: hex digest -> bytes via printf).
  hash=$(printf '%s' "$status_password" | sha1sum | cut -c1-40 | sed 's/../\\x&/g')
  hash=$(printf "$hash" | base64)
  (umask 077; printf 'admin:{SHA}%s\n' "$hash" >"$state/nginx/conf/htpasswd")
  chgrp nogroup "$state/nginx/conf/htpasswd"
  chmod 0640 "$state/nginx/conf/htpasswd"
}

# SIGKILL every process of the node (agent, nginx master and workers) and pull its cable: a node that
# loses power sends no goodbye (no priority-0 advert) and keeps nothing on the wire.
crash_node() {
  local lb=$1 pid
  for pid in $(ip netns pids "$prefix-$lb"); do kill -KILL "$pid" 2>/dev/null || true; done
  ip -n "$prefix-$lb" link set eth0 down
  { wait "${agent_pid[$lb]}"; } 2>/dev/null || true
  unset "agent_pid[$lb]"
}

# Stops an agent as a service manager would (SIGTERM); it must release its VIPs, stop nginx and exit 0.
stop_agent() {
  local lb=$1 pid=${agent_pid[$1]} rc=0
  terminate "$pid" "$lb agent" || rc=$?
  unset "agent_pid[$lb]"
  [ "$rc" -eq 0 ] || fail "$lb agent exited with $rc after SIGTERM"
}

# SIGTERM to PID (a child of this shell), then up to 10 s for it to exit; returns its exit status.
terminate() { # PID NAME
  local pid=$1 deadline
  kill -TERM "$pid"
  deadline=$(( $(now_ms) + 10000 ))
  while kill -0 "$pid" 2>/dev/null && (( $(now_ms) < deadline )); do sleep 0.05; done
  kill -0 "$pid" 2>/dev/null && fail "$2 did not exit within 10 s of SIGTERM"
  wait "$pid"
}

# ---------------------------------------------------------------- client side
fetch() { # VIP [SOURCE] -> body
  ip netns exec "$prefix-client" curl -sf --max-time 1 --interface "${2:-${address[client]}}" "http://$1/"
}

serves_via() { # VIP LB
  local body
  body=$(fetch "$1" 2>/dev/null) && [[ $body == *"(via ${address[$2]})" ]]
}

holds_vip() { # LB VIP
  ip -n "$prefix-$1" -o -4 addr show dev eth0 2>/dev/null | grep -qF " $2/"
}

# A few requests per VIP from both client subnets; remembers "VIP WEB LB_ADDRESS)" per reply in $work/seen.
show_requests() {
  local vip source body
  : >"$work/seen"
  for vip in "$vip1" "$vip2"; do
    for source in "${address[client]}" "$client_second_address" "${address[client]}" "$client_second_address"; do
      body=$(fetch "$vip" "$source") || fail "no reply from $vip to $source"
      say "curl http://$vip/ from $source -> $body"
      echo "$vip ${body%% *} ${body##* }" >>"$work/seen"
    done
  done
}

web_servers_answer() {
  ip netns exec "$prefix-lb1" curl -sf --max-time 1 "http://${address[web1]}:8080/" >/dev/null &&
    ip netns exec "$prefix-lb1" curl -sf --max-time 1 "http://${address[web2]}:8080/" >/dev/null
}

each_lb_serves_its_vip() { serves_via "$vip1" lb1 && serves_via "$vip2" lb2; }

# One loop per VIP inside the client namespace: a line per probe, "MICROSECONDS ok BODY" or "MICROSECONDS fail".
probe_loop() {
  local vip=$1 stop=$2 timeout=$3 interval=$4 body
  while [ ! -e "$stop" ]; do
    if body=$(curl -sf --max-time "$timeout" "http://$vip/"); then
      echo "${EPOCHREALTIME//[.,]/} ok $body"
    else
      echo "${EPOCHREALTIME//[.,]/} fail"
    fi
    sleep "$interval"
  done
}

start_probes() { # NAME
  local name=$1 vip
  rm -f "$work/$name.stop"
  for vip in "$vip1" "$vip2"; do
    ip netns exec "$prefix-client" bash -c "$(declare -f probe_loop); probe_loop $vip $work/$name.stop $probe_timeout $probe_interval" \
      >"$work/$name-$vip.probe" &
    probe_pids+=("$!")
  done
}

stop_probes() { # NAME
  touch "$work/$1.stop"
  wait "${probe_pids[@]}"
  probe_pids=()
}

# The longest time without a successful reply (the outage a user sees: between two replies, or from the
# last reply to the end of probing) as "GAP_MS REPLIES FAILED VIA", VIA like "lb1:18,lb2:36".
probe_summary() { # FILE
  awk -v lb1="${address[lb1]}" -v lb2="${address[lb2]}" '
    { now = $1 }
    $2 == "ok" {
      ok++
      if (last) { gap = $1 - last; if (gap > max) max = gap }
      last = $1
      lb = $NF; sub(/\)$/, "", lb)
      via[lb == lb1 ? "lb1" : lb == lb2 ? "lb2" : lb]++
    }
    $2 == "fail" { failed++ }
    END {
      if (last && now - last > max) max = now - last
      list = ""
      for (name in via) list = list (list == "" ? "" : ",") name ":" via[name]
      printf "%d %d %d %s\n", max / 1000, ok, failed + 0, (list == "" ? "none" : list)
    }' "$1"
}

report_probes() { # NAME MAX_GAP_MS
  local name=$1 limit=$2 vip gap ok failed via
  for vip in "$vip1" "$vip2"; do
    read -r gap ok failed via < <(probe_summary "$work/$name-$vip.probe")
    say "$vip: longest gap without a reply ${gap} ms ($ok replies, $failed failed probes; replies via ${via//,/, })"
    [ "$ok" -gt 0 ] || fail "$vip never answered during the probe"
    [ "$gap" -le "$limit" ] || fail "$vip was unreachable for ${gap} ms (limit ${limit} ms)"
  done
}

show_transitions() { # LB SINCE_LINE
  local lb=$1 since=$2
  tail -n "+$since" "$work/$lb.log" | grep -E 'MASTER|BACKUP|FAULT' | sed "s/^/            $lb agent: /" || true
}

log_lines() { wc -l <"$work/$1.log"; }

# ---------------------------------------------------------------- cleanup
# The cluster variant redefines stop_extras (its operator, relays and test cluster) and adds the operator's log.
stop_extras() { :; }
failure_logs=(lb1 lb2)

cleanup() {
  local rc=$? lb name pid log
  set +e
  trap - EXIT INT TERM
  for pid in "${probe_pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for lb in "${!agent_pid[@]}"; do kill -TERM "${agent_pid[$lb]}" 2>/dev/null; done
  for lb in "${!agent_pid[@]}"; do
    for _ in $(seq 100); do kill -0 "${agent_pid[$lb]}" 2>/dev/null || break; sleep 0.05; done
  done
  for name in "${!web_pid[@]}"; do kill -TERM "${web_pid[$name]}" 2>/dev/null; done
  for pid in "${agent_pid[@]}" "${web_pid[@]}" "${probe_pids[@]}"; do { wait "$pid"; } 2>/dev/null; done
  stop_extras
  for ns in "${namespaces[@]}"; do remove_namespace "$ns"; done
  if [ "$rc" -ne 0 ] && [ -n "$work" ]; then
    for log in "${failure_logs[@]}"; do
      log=$work/$log.log
      [ -e "$log" ] && { echo "---- last lines of $log"; tail -n 25 "$log"; }
    done
    if [ "$rc" -eq 130 ]; then echo "demo interrupted; logs kept in $work" >&2
    else echo "demo FAILED (exit $rc); logs kept in $work" >&2; fi
  elif [ -n "$work" ]; then
    rm -rf "$work"
  fi
  exit "$rc"
}

# ---------------------------------------------------------------- steps both variants take
# NHA_DEMO_PREBUILT=1 (ClusterDemoScriptTests, after scripts/test.sh built the solution) uses the binaries as they
# are: MSBuild compiles a project built through another one's ProjectReference again (minutes on a loaded machine).
build() { # PROJECT DLL
  if [ "${NHA_DEMO_PREBUILT:-}" = 1 ]; then
    [ -f "$2" ] || fail "NHA_DEMO_PREBUILT=1 but $2 is missing: build it first"
    say "using $2 as built (NHA_DEMO_PREBUILT=1)"
    return 0
  fi
  dotnet build "$repo/$1" -c Release -nologo -v q -clp:ErrorsOnly >/dev/null \
    || { dotnet build "$repo/$1" -c Release -nologo -v q -clp:ErrorsOnly; fail "build failed"; }
  [ -f "$2" ] || fail "build produced no $2"
  say "built $2"
}

# Leftovers of an interrupted run (the same namespace names) go first, so the demo can always be run again.
prepare_run() {
  for ns in "${namespaces[@]}"; do remove_namespace "$ns"; done
  work=$(mktemp -d /tmp/nha-demo.XXXXXX)
  status_password=$(head -c 12 /dev/urandom | base64)
}

network_step() {
  step "1) network: switch $bridge_namespace, lb1 ${address[lb1]}, lb2 ${address[lb2]}, web1 ${address[web1]}, web2 ${address[web2]}, client ${address[client]} (+ $client_second_address)"
  create_topology
  start_web web1
  start_web web2
  wait_until "web servers" 5000 web_servers_answer
  say "web1 and web2 answer on :8080"
}

each_lb_holds_its_vip() {
  wait_until "$vip1 served through lb1 and $vip2 through lb2" 30000 each_lb_serves_its_vip
  say "lb1 holds $vip1, lb2 holds $vip2"
  show_transitions lb1 1
  show_transitions lb2 1
}

# Requests to both VIPs reach both web servers through their masters; the status page wants the demo's credentials.
both_vips_serve() {
  local vip_lb vip lb_address web code status
  show_requests
  for vip_lb in "$vip1 ${address[lb1]}" "$vip2 ${address[lb2]}"; do
    read -r vip lb_address <<<"$vip_lb"
    for web in web1 web2; do
      grep -qF "$vip $web $lb_address)" "$work/seen" || fail "$vip never reached $web through $lb_address"
    done
  done
  code=$(ip netns exec "$prefix-client" curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://$vip1/nginx_status")
  [ "$code" = 401 ] || fail "status page without credentials answered $code, expected 401"
  status=$(ip netns exec "$prefix-client" curl -sf --max-time 1 -K - "http://$vip1/nginx_status" <<<"user = \"admin:$status_password\"") \
    || fail "status page refused the demo's credentials"
  say "status page /nginx_status: 401 without credentials; with them: $(head -n 1 <<<"$status")"
}

# "$@" takes lb1 down while the client probes both VIPs; lb2 must take lb1's VIP within the failover limit.
lb1_fails_while_probing() {
  local lb2_mark
  start_probes failover
  sleep 1
  lb2_mark=$(log_lines lb2)
  "$@"
  wait_until "lb2 to hold $vip1" 10000 holds_vip lb2 "$vip1"
  say "lb2 holds $vip1"
  show_transitions lb2 "$((lb2_mark + 1))"
  sleep 1.5
  stop_probes failover
  report_probes failover "$max_failover_gap_ms"
}

both_vips_served_by_lb2() {
  local vip body
  for vip in "$vip1" "$vip2"; do
    body=$(fetch "$vip") || fail "no reply from $vip"
    say "curl http://$vip/ -> $body"
    [[ $body == *"(via ${address[lb2]})" ]] || fail "$vip is not served through lb2"
  done
}

# "$@" brings lb1 back while the client probes both VIPs: lb1 preempts its own VIP, lb2 keeps the other.
lb1_rejoins_while_probing() {
  local lb1_mark lb2_mark vip
  start_probes rejoin
  sleep 0.5
  lb1_mark=$(( $(log_lines lb1) + 1 ))
  lb2_mark=$(log_lines lb2)
  "$@"
  say "lb1 agent restarted"
  wait_until "$vip1 served through lb1 again" 30000 serves_via "$vip1" lb1
  say "$vip1 is back on lb1"
  show_transitions lb1 "$lb1_mark"
  show_transitions lb2 "$((lb2_mark + 1))"
  sleep 1
  stop_probes rejoin
  report_probes rejoin "$max_preempt_gap_ms"
  serves_via "$vip2" lb2 || fail "$vip2 moved away from lb2"
  holds_vip lb2 "$vip1" && fail "lb2 still holds $vip1 after lb1 took it back"
  for vip in "$vip1" "$vip2"; do say "curl http://$vip/ -> $(fetch "$vip")"; done
}

# After its agent stopped: no VIP on the node and, soon, no process left in its namespace (the agent's watchdog
# exits just after the agent: it sees the agent gone and finds nothing to release).
node_released() { # LB
  local lb=$1 deadline
  holds_vip "$lb" "$vip1" || holds_vip "$lb" "$vip2" && fail "$lb still holds a VIP after it stopped"
  deadline=$(( $(now_ms) + 3000 ))
  until [ -z "$(ip netns pids "$prefix-$lb")" ]; do
    (( $(now_ms) < deadline )) || fail "processes left in $prefix-$lb 3 s after its agent stopped: $(ip netns pids "$prefix-$lb" | tr '\n' ' ')"
    sleep 0.05
  done
  say "$lb agent exited 0, no VIP and no process left"
}

# ---------------------------------------------------------------- the standalone story
# A node that loses power: every process SIGKILLed, link down (crash_node).
lb1_loses_power() {
  say "killing lb1"
  crash_node lb1
}

# lb1 comes back as a fresh node: new namespace, agent started.
lb1_replaced() {
  remove_host lb1
  create_host lb1
  ip -n "$prefix-lb1" route add 198.18.1.0/24 dev eth0 scope link
  start_agent lb1
}

standalone_demo() {
  step "0) install dependencies, build the agent"
  "$repo/scripts/install-deps.sh"
  build src/NodeAgent/NginxHa.NodeAgent.csproj "$agent_dll"
  prepare_run

  network_step
  agent_source=(run -f "$manifest")
  start_agent lb1
  start_agent lb2
  say "agents started: nginx-ha-agent run -f examples/dual-master.yaml --node lb1 | lb2"
  each_lb_holds_its_vip

  step "2a) both VIPs serve through nginx to both web servers (ip_hash: each client subnet sticks to one)"
  both_vips_serve

  step "2b) lb1 dies (SIGKILL agent + nginx, link down) while the client probes both VIPs (curl in a loop, ${probe_interval}s pause)"
  lb1_fails_while_probing lb1_loses_power

  step "2c) both VIPs still serve, now from lb2"
  both_vips_served_by_lb2

  step "2d) lb1 comes back (fresh node, agent restarted) and takes $vip1 back (preempt)"
  lb1_rejoins_while_probing lb1_replaced

  step "2e) clean stop (SIGTERM): each agent releases its VIPs and stops its nginx"
  for lb in lb1 lb2; do
    stop_agent "$lb"
    node_released "$lb"
  done
  say "demo passed; removing namespaces"
}

# ================================================================ main
[ "$(id -u)" -eq 0 ] || { echo "demo.sh needs root (network namespaces): sudo $0" >&2; exit 1; }
probe_pids=()
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$variant" = cluster ]; then
  source "$repo/scripts/demo-cluster.sh"
  cluster_demo
else
  standalone_demo
fi

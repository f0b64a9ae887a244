# The cluster variant of the demo, sourced by `scripts/demo.sh --cluster` (it uses demo.sh's topology, web servers,
# probes and checks). The same story as the default demo, driven by kubectl: the test cluster (scripts/cluster.sh up),
# crds/ and examples/dual-master.yaml applied, `nginx-ha-operator run` on the host, and two agents
# `nginx-ha-agent kubernetes --node lb1|lb2` in the namespaces nhk-lb1 and nhk-lb2.
#
# The cluster listens on the host's 127.0.0.1 only, and the namespaces have no link to the host. Each lb namespace
# gets a relay on its own 127.0.0.1:6443 (socat) to a Unix socket in the work directory (mode 0600), where a relay
# on the host passes the connection on to the cluster's front: no traffic leaves the machine.

operator_dll="$repo/src/Operator/bin/Release/net10.0/nginx-ha-operator.dll"
cluster_dir=""       # set once scripts/cluster.sh up has started; cleanup stops it
operator_pid=""
declare -A relay_pid=()
group=(vipg web -n edge) # the example's VirtualIpGroup
relay_port=6443          # on each lb namespace's own loopback
max_status_ms=10000      # kubectl get vipg names the new master within this (plus a heartbeat Lease's duration)

k() { kubectl --kubeconfig "$cluster_dir/kubeconfig" "$@"; }

# kubectl's output, indented under the line that announced it.
show() { sed 's/^/            /'; }

# ---------------------------------------------------------------- the test cluster and the relays
cluster_up() {
  cluster_dir=$work/cluster # before up: an interrupted up still gets its down
  "$repo/scripts/cluster.sh" up "$cluster_dir" >/dev/null 2>"$work/cluster-up.log" \
    || { cat "$work/cluster-up.log" >&2; fail "scripts/cluster.sh up failed"; }
  front_url=$(sed -n 's/^FRONT_URL=//p' "$cluster_dir/cluster.env")
  say "test cluster up: $(grep -o 'up in .*' "$work/cluster-up.log" | head -n 1)"
  say "export KUBECONFIG=$cluster_dir/kubeconfig   (front $front_url: the CRD API server on etcd, a stand-in for core/v1)"
}

# One relay on the host (Unix socket -> the front) and one per lb namespace (127.0.0.1:6443 -> the Unix socket).
start_relays() {
  local lb
  socat "UNIX-LISTEN:$work/api.sock,fork,mode=600" "TCP:127.0.0.1:${front_url##*:}" 2>>"$work/relay.log" &
  relay_pid[host]=$!
  for lb in lb1 lb2; do
    ip netns exec "$prefix-$lb" socat "TCP-LISTEN:$relay_port,bind=127.0.0.1,reuseaddr,fork" "UNIX-CONNECT:$work/api.sock" 2>>"$work/relay.log" &
    relay_pid[$lb]=$!
  done
  cat >"$work/agent.kubeconfig" <<EOF
apiVersion: v1
kind: Config
current-context: demo
contexts: [{name: demo, context: {cluster: demo, user: agent}}]
clusters: [{name: demo, cluster: {server: "http://127.0.0.1:$relay_port"}}]
users: [{name: agent, user: {token: not-checked}}]
EOF
  chmod 600 "$work/agent.kubeconfig"
  wait_until "the relays to reach the cluster" 10000 relays_reach_cluster
  say "relays: 127.0.0.1:$relay_port in $prefix-lb1 and $prefix-lb2 -> $work/api.sock -> the front (loopback and a Unix socket only)"
}

relays_reach_cluster() {
  ip netns exec "$prefix-lb1" curl -sf --max-time 1 "http://127.0.0.1:$relay_port/healthz" >/dev/null &&
    ip netns exec "$prefix-lb2" curl -sf --max-time 1 "http://127.0.0.1:$relay_port/healthz" >/dev/null
}

# A relay by PID, and the children it forked for open connections.
stop_relay() { # lb1 | lb2 | host
  local pid=${relay_pid[$1]:-} child
  [ -n "$pid" ] || return 0
  for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do kill -TERM "$child" 2>/dev/null || true; done
  kill -TERM "$pid" 2>/dev/null || true
  { wait "$pid"; } 2>/dev/null || true
  unset "relay_pid[$1]"
}

# Redefines demo.sh's hook: after the agents, before the namespaces go.
stop_extras() {
  local name
  if [ -n "$operator_pid" ]; then
    kill -TERM "$operator_pid" 2>/dev/null
    for _ in $(seq 200); do kill -0 "$operator_pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$operator_pid" 2>/dev/null
    { wait "$operator_pid"; } 2>/dev/null
  fi
  for name in "${!relay_pid[@]}"; do stop_relay "$name"; done
  [ -z "$cluster_dir" ] || "$repo/scripts/cluster.sh" down "$cluster_dir" >/dev/null 2>&1
}

# ---------------------------------------------------------------- what kubectl applies
# The Nodes a kubelet would register for lb1 and lb2: the group's label, Ready, and the InternalIP the agents use.
nodes_yaml() {
  local lb
  for lb in lb1 lb2; do
    cat <<EOF
---
apiVersion: v1
kind: Node
metadata: {name: $lb, labels: {nginx-ha.io/role: edge}}
status:
  addresses: [{type: InternalIP, address: ${address[$lb]}}]
  conditions: [{type: Ready, status: "True"}]
EOF
  done
}

# examples/dual-master.yaml without its Node documents (they are for standalone mode; the cluster has its Nodes).
example_without_nodes() {
  awk 'function flush() { if (doc !~ /\nkind: Node\n/) printf "%s", doc; doc = "\n---\n" }
       BEGIN { doc = "\n" }
       /^---$/ { flush(); next }
       { doc = doc $0 "\n" }
       END { flush() }' "$manifest"
}

# ---------------------------------------------------------------- the operator and the agents
start_operator() {
  echo "---- operator started $(date -u +%FT%T.%3NZ)" >>"$work/operator.log"
  dotnet "$operator_dll" run --kubeconfig "$cluster_dir/kubeconfig" --identity demo --lease-namespace default \
    --metrics-address none >>"$work/operator.log" 2>&1 &
  operator_pid=$!
  say "operator started: nginx-ha-operator run --kubeconfig \$KUBECONFIG"
}

stop_operator() {
  local rc=0
  terminate "$operator_pid" operator || rc=$?
  operator_pid=""
  [ "$rc" -eq 0 ] || fail "the operator exited with $rc after SIGTERM"
  say "operator exited 0 ($(grep -o 'released Lease.*' "$work/operator.log" | tail -n 1))"
}

operator_lines() { # SINCE_LINE PATTERN
  tail -n "+$1" "$work/operator.log" | grep -E "$2" | sed 's/^/            operator: /' || true
}

# The agent is SIGKILLed (no goodbye, no final status); its watchdog removes its VIPs and sends priority 0.
lb1_agent_killed() {
  say "kill -KILL ${agent_pid[lb1]} (lb1's agent)"
  kill -KILL "${agent_pid[lb1]}"
  { wait "${agent_pid[lb1]}"; } 2>/dev/null || true
  unset "agent_pid[lb1]"
}

lb1_agent_restarted() { start_agent lb1; }

# ---------------------------------------------------------------- the group's status as kubectl shows it
masters() { k get "${group[@]}" -o 'jsonpath={.status.masters}' 2>/dev/null; }
ready_reason() { k get "${group[@]}" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].reason}' 2>/dev/null; }
masters_are() { [ "$(masters)" = "$1" ]; }

# The duration in seconds of lb1's agent heartbeat Lease (nginx-ha-agent-lb1), empty when the agents write none.
lb1_heartbeat_seconds() {
  k get leases -A -o jsonpath='{range .items[*]}{.metadata.name} {.spec.leaseDurationSeconds}{"\n"}{end}' 2>/dev/null |
    awk '$1 ~ /-lb1$/ { print $2; exit }'
}

# After lb1's agent was SIGKILLed: lb2 is master of both VIPs once lb1's heartbeat Lease expired (a SIGKILLed agent
# writes no final status: its last report, MASTER of VIP 1, stops counting only then).
status_after_kill() {
  local heartbeat deadline
  heartbeat=$(lb1_heartbeat_seconds)
  [ -n "$heartbeat" ] || fail "lb1's agent holds no heartbeat Lease (nginx-ha-agent-lb1)"
  deadline=$(( $(now_ms) + heartbeat * 1000 + max_status_ms ))
  say "lb1's heartbeat Lease lasts ${heartbeat} s: waiting for it to expire"
  until masters_are "lb2,lb2"; do
    (( $(now_ms) < deadline )) || { k get "${group[@]}" -o wide >&2; fail "kubectl get vipg did not show lb2 master of both in time"; }
    sleep 0.2
  done
  k get "${group[@]}" -o wide | show
  say "kubectl get vipg: lb2 is master of both VIPs"
}

# ---------------------------------------------------------------- the pool edit
reloaded_since() { # LB SINCE_LINE
  tail -n "+$2" "$work/$1.log" | grep -q 'nginx: config reloaded'
}

both_reloaded_since() { reloaded_since lb1 "$1" && reloaded_since lb2 "$2"; }

# The second client subnet through both VIPs (each on its own node's nginx) reaches WEB.
second_subnet_reaches() { # WEB
  local vip body
  for vip in "$vip1" "$vip2"; do
    body=$(fetch "$vip" "$client_second_address" 2>/dev/null) || return 1
    [[ $body == "$1 "* ]] || return 1
  done
}

# kubectl patch of the pool (what `kubectl edit` sends): both nodes reload nginx, and the change is served through both VIPs.
patch_pool() { # DESCRIPTION JSON_PATCH WEB_EXPECTED
  local lb1_mark lb2_mark vip
  lb1_mark=$(( $(log_lines lb1) + 1 ))
  lb2_mark=$(( $(log_lines lb2) + 1 ))
  k patch nbp web -n edge --type json -p "$2" >/dev/null || fail "kubectl patch nbp web failed"
  say "kubectl patch nbp web -n edge --type json -p '$2'   ($1)"
  wait_until "nginx to reload on lb1 and lb2" 30000 both_reloaded_since "$lb1_mark" "$lb2_mark"
  tail -n "+$lb1_mark" "$work/lb1.log" | grep 'nginx: config reloaded' | sed 's/^/            lb1 agent: /'
  tail -n "+$lb2_mark" "$work/lb2.log" | grep 'nginx: config reloaded' | sed 's/^/            lb2 agent: /'
  wait_until "$client_second_address to reach $3 through both VIPs" 10000 second_subnet_reaches "$3"
  for vip in "$vip1" "$vip2"; do say "curl http://$vip/ from $client_second_address -> $(fetch "$vip" "$client_second_address")"; done
}

# ---------------------------------------------------------------- deletion
group_http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$front_url/apis/nginx-ha.io/v1alpha1/namespaces/edge/virtualipgroups/web"; }
group_gone() { [ "$(group_http_code)" = 404 ]; }
any_node_holds_a_vip() { holds_vip lb1 "$vip1" || holds_vip lb1 "$vip2" || holds_vip lb2 "$vip1" || holds_vip lb2 "$vip2"; }

# kubectl delete: the finalizer keeps the object until no node holds its VIPs; then it goes.
delete_group() {
  local mark deadline code
  mark=$(( $(wc -l <"$work/operator.log") + 1 ))
  k delete "${group[@]}" --wait=false | show
  deadline=$(( $(now_ms) + 30000 ))
  while any_node_holds_a_vip; do
    code=$(group_http_code)
    [ "$code" = 200 ] || fail "the VirtualIpGroup answered $code (gone?) while a node still held one of its VIPs"
    (( $(now_ms) < deadline )) || fail "the VIPs did not leave the nodes within 30 s of kubectl delete"
    sleep 0.05
  done
  code=$(group_http_code)
  say "no node holds $vip1 or $vip2 any more; the VirtualIpGroup is still there (HTTP $code: its finalizer waits for the agents)"
  [ "$code" = 200 ] || fail "the VirtualIpGroup was gone (HTTP $code) when the last VIP left"
  wait_until "the VirtualIpGroup to go" 30000 group_gone
  say "the VirtualIpGroup is gone: $(k get vipg -n edge 2>&1 | head -n 1)"
  operator_lines "$mark" 'finalizers|NodeHaConfig'
}

# ================================================================ the cluster story
cluster_demo() {
  step "0) install dependencies, build the agent, the operator and the test cluster (scripts/cluster.sh build: cached)"
  "$repo/scripts/install-deps.sh"
  build src/NodeAgent/NginxHa.NodeAgent.csproj "$agent_dll"
  build src/Operator/NginxHa.Operator.csproj "$operator_dll"
  "$repo/scripts/cluster.sh" build 2>&1 | sed 's/^/            /'
  prepare_run
  failure_logs=(lb1 lb2 operator)

  network_step
  step "1b) the test cluster (scripts/cluster.sh up), the CRDs, the Nodes, the operator and two agents"
  cluster_up
  k apply -f "$repo/crds" | show
  k wait --for condition=Established --timeout=60s crd/virtualipgroups.nginx-ha.io crd/nginxbackendpools.nginx-ha.io \
    crd/nodehaconfigs.nginx-ha.io >/dev/null || fail "the CRDs did not become Established"
  say "kubectl apply -f crds/: the CRDs are Established"
  nodes_yaml | k apply -f - | show
  say "kubectl apply: Nodes lb1 and lb2 as a kubelet registers them (label nginx-ha.io/role=edge, InternalIP, Ready)"
  start_relays
  start_operator
  # A 4 s heartbeat (default 20 s): the status drops a killed agent's last report 4 s after its last renewal.
  agent_source=(kubernetes --kubeconfig "$work/agent.kubeconfig" --heartbeat-duration 4s)
  start_agent lb1
  start_agent lb2
  say "agents started: nginx-ha-agent kubernetes --node lb1 | lb2 --kubeconfig (each follows its NodeHaConfig)"
  wait_until "the operator to lead" 30000 grep -q ' leads (Lease' "$work/operator.log"
  say "the operator leads (Lease default/nginx-ha-operator)"

  step "2) kubectl apply -f examples/dual-master.yaml (without its Node documents): the operator writes a NodeHaConfig per node"
  example_without_nodes | k apply -f - | show
  each_lb_holds_its_vip
  wait_until "kubectl get vipg to show lb1,lb2" 15000 masters_are "lb1,lb2"
  k get "${group[@]}" -o wide | show
  k get nhc | show
  say "kubectl get vipg: lb1 master of $vip1, lb2 of $vip2"

  step "2a) both VIPs serve through nginx to both web servers (ip_hash: each client subnet sticks to one)"
  both_vips_serve

  step "2b) lb1's agent is killed (SIGKILL) while the client probes both VIPs (curl in a loop, ${probe_interval}s pause)"
  lb1_fails_while_probing lb1_agent_killed
  both_vips_served_by_lb2
  status_after_kill

  step "2c) lb1's agent comes back and takes $vip1 back (preempt)"
  lb1_rejoins_while_probing lb1_agent_restarted
  wait_until "kubectl get vipg to show lb1,lb2 again" 15000 masters_are "lb1,lb2"
  k get "${group[@]}" -o wide | show
  say "kubectl get vipg: lb1 master of $vip1 again, lb2 of $vip2"

  step "2d) kubectl patch of the NginxBackendPool: nginx reloads on both nodes and serves the change"
  patch_pool "web2 leaves the pool" '[{"op": "remove", "path": "/spec/backends/servers/1"}]' web1
  patch_pool "web2 comes back" '[{"op": "add", "path": "/spec/backends/servers/-", "value": {"address": "'"${address[web2]}"'", "port": 8080}}]' web2

  step "2e) kubectl delete vipg web: the VIPs leave both nodes before the object goes"
  delete_group

  step "2f) clean stop: the agents (SIGTERM), the operator (SIGTERM: it gives its Lease up), the relays, the test cluster"
  for lb in lb1 lb2; do
    stop_agent "$lb"
    stop_relay "$lb"
    node_released "$lb"
  done
  stop_operator
  say "demo passed; removing namespaces and the test cluster"
}

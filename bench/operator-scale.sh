#!/usr/bin/env bash
# Operator at scale (issue 9 section 5): on a test cluster of its own, 200 Nodes (the stand-in), 500 VirtualIpGroups and
# 500 NginxBackendPools, 200 simulated agents reporting status, and `nginx-ha-operator run` (Release build) as a process.
# bench/OperatorScale (operator-scale) does the work and measures:
#   - the initial full reconcile: from the operator's start to every NodeHaConfig written (and then quiet for 2 s);
#   - the initial reconcile's tail: the operator's requests after its last NodeHaConfig write (the groups' finalizers,
#     the first status of every group and pool) until it sends nothing for 2 s; the changes start after it, so their
#     counts are the steady state's;
#   - 100 changes, one at a time (even: a backend added to a pool, odd: a group's first VIP moved): the latency from
#     the write to the last affected NodeHaConfig seen written by a watch, p50 and p99; the NodeHaConfig writes per
#     change against the nodes it affects (it fails the run unless every affected node is written exactly once and no
#     other node at all);
#   - API requests per change, counted by the test cluster's front (GET /_testcluster/requests, by User-Agent, verb
#     and resource), the operator's apart from the simulator's;
#   - the operator's VmHWM and VmRSS (/proc).
#
#   bench/operator-scale.sh                  # no root needed; no network beyond 127.0.0.1
#   DOC=docs/benchmarks.md bench/operator-scale.sh   # also replace the "Operator at scale" section there
#
# Environment: NODES (200), GROUPS_COUNT (500), POOLS (500), RACK_SIZE (4: nodes per rack; each group selects one rack,
# on that rack's interface), CHANGES (100), SKIP_BUILD=1 (use the Release builds as they are), KEEP_WORK=1 (keep the
# cluster's and the operator's logs), DOC (a markdown file to write the results into; default empty: print only),
# OPERATOR_ARGS (more arguments for `nginx-ha-operator run`, split on spaces; e.g. "--metrics-address none"),
# OPERATOR (the operator executable to run, default the Release build; its whole folder is copied, so a wrapper script
# that sets DOTNET_* variables and execs another build works for trying runtime settings).
# The Release build carries the runtime settings the image ships (its runtimeconfig.json: GC and JIT settings); the
# image sets no DOTNET_* variables, so neither does this script.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
NODES=${NODES:-200}
GROUPS_COUNT=${GROUPS_COUNT:-500}
POOLS=${POOLS:-500}
RACK_SIZE=${RACK_SIZE:-4}
CHANGES=${CHANGES:-100}
DOC=${DOC-}


for v in NODES GROUPS_COUNT POOLS RACK_SIZE CHANGES; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number, got '${!v}'"
done

operator=${OPERATOR:-$repo/src/Operator/bin/Release/net10.0/nginx-ha-operator}
sim=$repo/bench/OperatorScale/bin/Release/net10.0/operator-scale
if [ -z "${SKIP_BUILD:-}" ]; then
  log "building the operator and the simulator (Release)"
  dotnet build "$repo/bench/OperatorScale" -c Release -warnaserror -v q -nologo >/dev/null || die "build failed"
fi
[ -x "$operator" ] && [ -x "$sim" ] || die "not built: $operator, $sim"
"$repo/scripts/cluster.sh" build >&2 || die "scripts/cluster.sh build failed"

work=$(mktemp -d /tmp/nha-operator-scale.XXXXXX)
cluster=$work/cluster
# Run copies: a build during the run (someone else's tests) must not replace the binaries under a running process.
cp -r "$(dirname "$operator")" "$work/operator-bin" && operator=$work/operator-bin/nginx-ha-operator
cp -r "$(dirname "$sim")" "$work/sim-bin" && sim=$work/sim-bin/operator-scale
cleanup() {
  "$repo/scripts/cluster.sh" down "$cluster" >/dev/null 2>&1 || true # every process by its recorded PID
  if [ -n "${KEEP_WORK:-}" ]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
log "starting a test cluster in $cluster"
"$repo/scripts/cluster.sh" up "$cluster" >"$work/up.log" 2>&1 || { tail -20 "$work/up.log" >&2; die "scripts/cluster.sh up failed"; }
export KUBECONFIG=$cluster/kubeconfig
kubectl apply -f "$repo/crds/" >/dev/null
for plural in virtualipgroups nginxbackendpools nodehaconfigs; do
  for _ in $(seq 300); do kubectl get --raw "/apis/nginx-ha.io/v1alpha1/$plural" >/dev/null 2>&1 && break; sleep 0.1; done
  kubectl get --raw "/apis/nginx-ha.io/v1alpha1/$plural" >/dev/null || die "$plural not served"
done

log "running operator-scale: $NODES nodes, $GROUPS_COUNT groups, $POOLS pools, $CHANGES changes"
status=0
extra=()
for a in ${OPERATOR_ARGS:-}; do extra+=(--operator-arg "$a"); done
for p in etcd apiserver front; do extra+=(--cpu-pid "$p=$(cat "$cluster/$p.pid")"); done
"$sim" --kubeconfig "$KUBECONFIG" --operator "$operator" --operator-log "$work/operator.log" \
  --nodes "$NODES" --groups "$GROUPS_COUNT" --pools "$POOLS" --rack-size "$RACK_SIZE" --changes "$CHANGES" "${extra[@]}" \
  --markdown "$work/table.md" --json "$work/result.json" >"$work/report.txt" 2>"$work/sim.log" || status=$?
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
cat "$work/report.txt"
[ -s "$work/table.md" ] || { tail -30 "$work/sim.log" >&2; tail -30 "$work/operator.log" >&2; die "operator-scale failed ($status)"; }
cluster_rss=$(for p in etcd apiserver front; do
  printf '%s %s MB\n' "$p" "$(awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$(cat "$cluster/$p.pid")/status" 2>/dev/null)"
done | paste -sd, - | sed 's/,/, /g')

if [ -n "$DOC" ]; then
  begin="<!-- bench/operator-scale.sh: begin -->" end="<!-- bench/operator-scale.sh: end -->"
  command_line="bench/operator-scale.sh"
  [ "$NODES/$GROUPS_COUNT/$POOLS/$RACK_SIZE/$CHANGES" = 200/500/500/4/100 ] \
    || command_line="NODES=$NODES GROUPS_COUNT=$GROUPS_COUNT POOLS=$POOLS RACK_SIZE=$RACK_SIZE CHANGES=$CHANGES $command_line"
  section=$(
    echo "$begin"
    echo "## Operator at scale: $NODES nodes, $GROUPS_COUNT VirtualIpGroups, $POOLS pools (issue 9 section 5)"
    echo
    doc_measured_line
    echo "Machine: $(nproc) CPUs ($(cpu_model)), shared with other jobs:"
    echo "load average $load_before at the start, $load_after at the end. Everything ran on it: etcd, the CRD API server, the"
    echo "stand-in and front, the operator (JIT, one process, no leader election) and the simulator (VmRSS at the end: $cluster_rss)."
    echo
    cat "$work/table.md"
    echo
    echo "How (bench/OperatorScale): Nodes in racks of $RACK_SIZE; group i selects rack i mod racks on interface vlanRACK (VRIDs are"
    echo "per segment), even groups ActivePassive with one VIP, odd ones ActiveActive with two, each with its own pool of one"
    echo "static backend. Everything is created before the operator starts. The simulated agents watch every NodeHaConfig"
    echo "(one watch, not one per node) and write a status after each new generation: each instance MASTER on its"
    echo "highest-priority node among the configs seen so far, BACKUP elsewhere, and again when that role changes (a"
    echo "higher-priority peer's config arrives, as keepalived preempts), at most one write per node per second (the real"
    echo "agent's limit). A change is"
    echo "one merge patch; its latency ends at the arrival, on the simulator's watch, of the last affected NodeHaConfig that"
    echo "carries it; its writes and requests are counted until 1.5 s after that. Requests are counted at the test cluster's"
    echo "front by User-Agent: the operator's are its own (the plan's applies, group and pool status, Events), the simulator's are"
    echo "the change itself and the agents' status writes."
    echo "$end"
  )
  replace_doc_section "$repo/$DOC" "$begin" "$end" "$section"
  log "wrote $DOC"
fi
exit "$status"

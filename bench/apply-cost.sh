#!/usr/bin/env bash
# The API server's share of the operator's initial reconcile (issue 9 section 5), without the operator: on a test
# cluster of its own, the NodeHaConfigs the planner makes for the operator-scale model (200 nodes, 500 groups, 500
# pools) are written by server-side apply as the operator writes them, 16 in flight, timed, deleted, ROUNDS times
# (bench/OperatorScale/ApplyCost.cs). Then the same on a second cluster whose NodeHaConfig CRD has no CEL rules
# (x-kubernetes-validations removed from a copy made here): the difference is what those rules cost the server. Since
# d2114a0 the committed NodeHaConfig CRD keeps only its root rule, so "crds" and "no-cel" differ by that one rule; the
# numbers of the 24 rules it had are in docs/benchmarks.md.
#
#   bench/apply-cost.sh            # no root needed; no network beyond 127.0.0.1
#
# Environment: ROUNDS (5), NODES (200), GROUPS_COUNT (500), POOLS (500), RACK_SIZE (4), SKIP_BUILD=1,
# VARIANTS ("crds no-cel": which CRD sets to measure, in that order; also no-duration, and at:REV for crds/ as the git
# revision REV had them: VARIANTS="at:9ed8d22 crds" measures the NodeHaConfig CRD with its 24 rules against today's).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
ROUNDS=${ROUNDS:-5}
NODES=${NODES:-200}
GROUPS_COUNT=${GROUPS_COUNT:-500}
POOLS=${POOLS:-500}
RACK_SIZE=${RACK_SIZE:-4}
VARIANTS=${VARIANTS:-crds no-cel}
for v in ROUNDS NODES GROUPS_COUNT POOLS RACK_SIZE; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number, got '${!v}'"
done

sim=$repo/bench/OperatorScale/bin/Release/net10.0/operator-scale
if [ -z "${SKIP_BUILD:-}" ]; then
  log "building the simulator (Release)"
  dotnet build "$repo/bench/OperatorScale" -c Release -warnaserror -v q -nologo >/dev/null || die "build failed"
fi
[ -x "$sim" ] || die "not built: $sim"
"$repo/scripts/cluster.sh" build >&2 || die "scripts/cluster.sh build failed"

work=$(mktemp -d /tmp/nha-apply-cost.XXXXXX)
cluster=
cleanup() {
  [ -z "$cluster" ] || "$repo/scripts/cluster.sh" down "$cluster" >/dev/null 2>&1 || true # every process by its recorded PID
  rm -rf "$work"
}
trap cleanup EXIT

# The committed CRDs, and copies whose NodeHaConfig CRD carries no CEL rule (no-cel) or none of the rules that parse
# durations (no-duration: the advertisement interval's and preemptDelay's five, each a regex match and a duration()).
for variant in no-cel no-duration; do
  mkdir -p "$work/$variant"
  cp "$repo"/crds/*.yaml "$work/$variant/"
  python3 - "$work/$variant/nginx-ha.io_nodehaconfigs.yaml" "$variant" <<'EOF'
import sys, yaml
path, variant = sys.argv[1], sys.argv[2]
crd = yaml.safe_load(open(path))
def keep(rule):
    return variant == "no-duration" and "duration(" not in rule["rule"]
def strip(node):
    if isinstance(node, dict):
        if "x-kubernetes-validations" in node:
            node["x-kubernetes-validations"] = [r for r in node["x-kubernetes-validations"] if keep(r)]
            if not node["x-kubernetes-validations"]: del node["x-kubernetes-validations"]
        for value in node.values(): strip(value)
    elif isinstance(node, list):
        for value in node: strip(value)
strip(crd)
yaml.safe_dump(crd, open(path, "w"), sort_keys=False)
EOF
done

for variant in $VARIANTS; do
  case "$variant" in
    crds) crds=$repo/crds ;;
    no-cel|no-duration) crds=$work/$variant ;;
    at:*)
      mkdir -p "$work/at-${variant#at:}"
      git -C "$repo" archive "${variant#at:}" crds | tar -x -C "$work/at-${variant#at:}" || die "no crds/ at ${variant#at:}"
      crds=$work/at-${variant#at:}/crds ;;
    *) die "unknown variant '$variant' (crds, no-cel, no-duration, at:REV)" ;;
  esac
  cluster=$work/cluster-${variant//:/-} # no ':' in KUBECONFIG's path (it separates a list there)
  log "$variant: starting a test cluster in $cluster"
  "$repo/scripts/cluster.sh" up "$cluster" >"$work/up.log" 2>&1 || { tail -20 "$work/up.log" >&2; die "scripts/cluster.sh up failed"; }
  export KUBECONFIG=$cluster/kubeconfig
  kubectl apply -f "$crds/" >/dev/null
  for _ in $(seq 300); do kubectl get --raw /apis/nginx-ha.io/v1alpha1/nodehaconfigs >/dev/null 2>&1 && break; sleep 0.1; done
  kubectl get --raw /apis/nginx-ha.io/v1alpha1/nodehaconfigs >/dev/null || die "nodehaconfigs not served"
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  result=$("$sim" --apply-cost "$ROUNDS" --kubeconfig "$KUBECONFIG" --nodes "$NODES" --groups "$GROUPS_COUNT" --pools "$POOLS" \
    --rack-size "$RACK_SIZE") || die "operator-scale --apply-cost failed"
  echo "$variant (load $load): $result"
  "$repo/scripts/cluster.sh" down "$cluster" >/dev/null 2>&1 || true
  cluster=
done

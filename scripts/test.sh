#!/usr/bin/env bash
# The project's test command: installs what it needs, builds, runs every test project
# (unit and integration; integration tests need root for network namespaces) and prints
# one closing line "tests: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh || exit 1
# The test cluster's CRD API server (about 3 minutes from scratch, cached after): built here, not inside a test's hang timeout.
scripts/cluster.sh build || { echo "scripts/cluster.sh build failed: the test cluster cannot start"; echo "tests: 0 passed, 1 failed"; exit 1; }
dotnet build NginxHaOperator.sln -c Release -warnaserror 2>&1 | tail -n 30
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "build failed"; echo "tests: 0 passed, 1 failed"; exit 1; }

# The agent as it ships (NativeAOT), published once: the container image tests (tests/Integration/Containers) put this
# binary into their image, and the second run below tests it directly.
aot_failed=0
agent=$(scripts/publish-agent.sh artifacts/test-agent 2>&1 | tail -n 1)
if [ -x "$agent" ]; then export NGINX_HA_IMAGE_AGENT=$PWD/$agent; fi

results=artifacts/test-results
rm -rf "$results"
dotnet test NginxHaOperator.sln -c Release --no-build -m:1 --logger trx --results-directory "$results" \
  --blame-hang-timeout 8m -- RunConfiguration.TreatNoTestsAsError=true
rc=$?

# Again, the agent as it ships (scripts/publish-agent.sh: NativeAOT, trimmed): against keepalived and in
# standalone mode, so a trimming or AOT difference from the build above fails here, not on a user's host.
if [ -x "$agent" ]; then
  NGINX_HA_AGENT=$PWD/$agent dotnet test tests/Integration/NginxHa.Integration.Tests.csproj -c Release --no-build \
    --filter "FullyQualifiedName~.Vrrp.Interop.|FullyQualifiedName~.Standalone." \
    --logger "trx;LogFileName=integration-nativeaot.trx" --results-directory "$results" \
    --blame-hang-timeout 8m -- RunConfiguration.TreatNoTestsAsError=true || rc=1
else
  echo "NativeAOT publish failed: $agent"
  aot_failed=1
fi

# A test that did not run proves nothing: skipped, not executed, inconclusive, timed out or aborted counts as failed.
counter() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$2"; }
passed=0; failed=$aot_failed; projects=0; not_run=0
for f in "$results"/*.trx; do
  [ -e "$f" ] || continue
  projects=$((projects + 1))
  counters=$(grep -o '<Counters [^>]*>' "$f" | head -n 1)
  p=$(counter passed "$counters"); fl=$(counter failed "$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${fl:-0}))
  for c in notExecuted inconclusive notRunnable error timeout aborted; do
    n=$(counter "$c" "$counters")
    if [ "${n:-0}" -gt 0 ]; then
      echo "$(basename "$f"): $n test(s) $c"
      not_run=$((not_run + n))
    fi
  done
  # xunit's skipped tests are written as outcome="NotExecuted" (counted above); name them.
  grep -o '<UnitTestResult [^>]*outcome="NotExecuted"[^>]*>' "$f" | sed -n 's/.*testName="\([^"]*\)".*/  not executed: \1/p'
done
failed=$((failed + not_run))
expected=$(( $(ls tests/*/*.Tests.csproj | wc -l) + 1 - aot_failed )) # + the NativeAOT run
if [ "$projects" -lt "$expected" ]; then
  echo "only $projects of $expected test projects wrote results (a test host crashed?)"
  failed=$((failed + expected - projects))
fi
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

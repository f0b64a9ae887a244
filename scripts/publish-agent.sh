#!/usr/bin/env bash
# Builds the node agent as it ships: NativeAOT, self-contained (no .NET runtime on the host, no JIT at a failover,
# a fraction of the JIT build's memory), into artifacts/agent/ (run it as `artifacts/agent/nginx-ha-agent ...`).
# Needs clang (the signal handler, src/NodeAgent/Platform/ProcessSignals.c, and the link) with binutils and libc6-dev,
# see scripts/install-deps.sh.
# Trim/AOT warnings are errors (Directory.Build.props), so a build that prints a path is free of them.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-artifacts/agent}
# Left by the former framework-dependent layout; a stale nginx-ha-agent.dll next to the binary would mislead.
rm -f "$out"/*.dll "$out"/*.deps.json "$out"/*.runtimeconfig.json
dotnet publish src/NodeAgent/NginxHa.NodeAgent.csproj -c Release -r linux-x64 -p:PublishAot=true \
  -v q -nologo -o "$out"
echo "$out/nginx-ha-agent"

#!/usr/bin/env bash
# Builds the node agent as it ships: framework-dependent, ReadyToRun (precompiled, so the first failover does
# not wait for the JIT), into artifacts/agent/ (run it as `artifacts/agent/nginx-ha-agent ...`).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-artifacts/agent}
dotnet publish src/NodeAgent/NginxHa.NodeAgent.csproj -c Release -r linux-x64 --self-contained false \
  -p:PublishReadyToRun=true -v q -nologo -o "$out"
echo "$out/nginx-ha-agent"

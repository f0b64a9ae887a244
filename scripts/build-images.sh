#!/usr/bin/env bash
# Builds the container images with buildah from files made on this machine (no image registry is reachable):
#   localhost/nginx-ha-agent:TAG     FROM scratch: the NativeAOT agent (scripts/publish-agent.sh) and the libraries
#                                    ldd lists; nothing else (no shell, no libc tools): the smallest attack surface.
#   localhost/nginx-ha-nginx:TAG     FROM scratch: the host's Debian nginx binary, its libraries, mime.types, and
#                                    dash + grep/sleep/mkdir for the chart's start and preStop scripts; nobody/nogroup.
#   localhost/nginx-ha-operator:TAG  FROM scratch: the operator published self-contained (JIT; KubernetesClient is not
#                                    AOT-clean) with the libraries ldd lists for its native parts; runs as 65532.
#   scripts/build-images.sh [TAG]    TAG defaults to the chart's appVersion; prints each image's name and size
# Needs buildah (apt-get install buildah podman runc; scripts/install-deps.sh does not install them by default).
set -euo pipefail
cd "$(dirname "$0")/.."
TAG=${1:-$(awk '/^appVersion:/{gsub(/"/, "", $2); print $2}' charts/nginx-ha-operator/Chart.yaml)}
work=$(mktemp -d /tmp/nha-images-XXXXXX)
trap 'rm -rf "$work"' EXIT
command -v buildah >/dev/null || { echo "build-images: buildah is required (apt-get install buildah)" >&2; exit 1; }

# Copies every library ldd lists for each FILE (and the dynamic loader) into ROOT, at the host's paths.
libraries() {
  local root=$1; shift
  local f lib
  for f in "$@"; do
    for lib in $(ldd "$f" 2>/dev/null | awk '/=> \//{print $3} /^\t\/lib/{print $1}'); do
      case $lib in "$root"/*) continue ;; esac # the app's own libraries are in place already
      [ -e "$root$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
    done
  done
}

image() { # NAME ROOT USER ENTRYPOINT...
  local name=$1 root=$2 user=$3; shift 3
  local entry
  entry=$(printf '"%s",' "$@"); entry="[${entry%,}]"
  mkdir -p "$root/tmp" "$root/etc"
  printf 'FROM scratch\nCOPY rootfs/ /\nUSER %s\nENTRYPOINT %s\n' "$user" "$entry" > "$root/../Containerfile"
  buildah bud --quiet --layers=false -t "localhost/$name:$TAG" -f "$root/../Containerfile" "$root/.." >/dev/null
  echo "localhost/$name:$TAG $(buildah inspect --format '{{.Docker.Size}}' "localhost/$name:$TAG" 2>/dev/null || true) $(du -sb "$root" | cut -f1)"
}

# Agent.
agent=$(scripts/publish-agent.sh artifacts/image-agent | tail -n 1)
root=$work/agent/rootfs
install -D -m 0755 "$agent" "$root/usr/bin/nginx-ha-agent"
libraries "$root" "$agent"
# `survey` opens libpcap at run time (dlopen, so ldd does not list it): Debian libpcap0.8, with its own libraries.
pcap=$(ldconfig -p | awk '/libpcap\.so\.0\.8 / { print $NF; exit }')
[ -n "$pcap" ] || { echo "build-images.sh: libpcap.so.0.8 not found (scripts/install-deps.sh installs libpcap0.8)" >&2; exit 1; }
install -D -m 0755 "$(readlink -f "$pcap")" "$root$pcap"
libraries "$root" "$pcap"
mkdir -p "$root/etc"
printf 'root:x:0:0:root:/:/nonexistent\n' > "$root/etc/passwd"
image nginx-ha-agent "$root" 0 /usr/bin/nginx-ha-agent

# nginx sidecar.
root=$work/nginx/rootfs
for f in /usr/sbin/nginx /bin/dash /bin/grep /bin/sleep /bin/mkdir; do install -D -m 0755 "$f" "$root$f"; done
libraries "$root" /usr/sbin/nginx /bin/dash /bin/grep /bin/sleep /bin/mkdir
ln -s dash "$root/bin/sh"
install -D -m 0644 /etc/nginx/mime.types "$root/etc/nginx/mime.types"
mkdir -p "$root/var/lib/nginx" "$root/var/log/nginx" "$root/run"
printf 'root:x:0:0:root:/:/nonexistent\nnobody:x:65534:65534:nobody:/nonexistent:/nonexistent\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
image nginx-ha-nginx "$root" 0 /usr/sbin/nginx

# Operator.
root=$work/operator/rootfs
dotnet publish src/Operator/NginxHa.Operator.csproj -c Release -r linux-x64 --self-contained -v q -nologo -o "$root/app" >/dev/null
libraries "$root" "$root/app/nginx-ha-operator" $(find "$root/app" -name '*.so')
mkdir -p "$root/etc"
printf 'root:x:0:0:root:/:/nonexistent\nnonroot:x:65532:65532:nonroot:/nonexistent:/nonexistent\n' > "$root/etc/passwd"
mkdir -p "$root/etc/ssl/certs" && cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/" 2>/dev/null || true
image nginx-ha-operator "$root" 65532 /app/nginx-ha-operator

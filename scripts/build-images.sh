#!/usr/bin/env bash
# Builds the container images with buildah from files made on this machine (no image registry is reachable):
#   localhost/nginx-ha-agent:TAG     FROM scratch: the NativeAOT agent (scripts/publish-agent.sh), the nginx binary it
#                                    runs `nginx -t` with (the same build as the sidecar's, so a config that passes here
#                                    loads there), the libraries ldd lists and libssl/libcrypto (opened at run time for
#                                    HTTPS to the API server); no shell, no libc tools.
#   localhost/nginx-ha-nginx:TAG     FROM scratch: the host's Debian nginx binary, its libraries, mime.types, and
#                                    dash + grep/sleep/mkdir for the chart's start and preStop scripts; nobody/nogroup.
#   localhost/nginx-ha-operator:TAG  FROM scratch: the operator published self-contained (JIT; KubernetesClient is not
#                                    AOT-clean) with the libraries ldd lists for its native parts and libssl/libcrypto;
#                                    runs as 65532.
#   scripts/build-images.sh [TAG [IMAGE...]]  TAG defaults to the chart's appVersion; IMAGE is agent, nginx or operator
#                                    (default all three); prints each image's name, size and build seconds.
#                                    NGINX_HA_IMAGE_AGENT=FILE uses that NativeAOT agent instead of publishing one.
# Needs buildah (scripts/install-deps.sh installs it with podman, runc and catatonit for the pod tests).
set -euo pipefail
cd "$(dirname "$0")/.."
TAG=${1:-$(awk '/^appVersion:/{gsub(/"/, "", $2); print $2}' charts/nginx-ha-operator/Chart.yaml)}
shift || true
WANT=" ${*:-agent nginx operator} "
wanted() { [[ $WANT == *" $1 "* ]]; }
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

# .NET's TLS and X509 (in-cluster config: HTTPS to the API server, the service account's ca.crt) open libssl and libcrypto
# at run time (dlopen, so ldd does not list them; without them: "No usable version of libssl was found" and an abort).
openssl_libraries() {
  local root=$1 so lib
  for so in libssl.so.3 libcrypto.so.3; do
    lib=$(ldconfig -p | awk -v so="$so" '$1 == so && /x86-64/ { print $NF; exit }')
    [ -n "$lib" ] || { echo "build-images.sh: $so not found (apt-get install libssl3)" >&2; exit 1; }
    [ -e "$root$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
    libraries "$root" "$lib"
  done
}

image() { # NAME ROOT USER ENTRYPOINT...   ($extra: more Containerfile lines after the COPY)
  local name=$1 root=$2 user=$3; shift 3
  local entry
  entry=$(printf '"%s",' "$@"); entry="[${entry%,}]"
  mkdir -p "$root/tmp" "$root/etc"
  printf 'FROM scratch\nCOPY rootfs/ /\n%bUSER %s\nENTRYPOINT %s\n' "${extra:-}" "$user" "$entry" > "$root/../Containerfile"
  buildah bud --quiet --layers=false -t "localhost/$name:$TAG" -f "$root/../Containerfile" "$root/.." >/dev/null
  echo "localhost/$name:$TAG built in ${SECONDS}s, $(du -sb "$root" | cut -f1) bytes"
}

# Agent.
if wanted agent; then
SECONDS=0
# NGINX_HA_IMAGE_AGENT: an agent scripts/publish-agent.sh already built from this tree (scripts/test.sh passes its own, so
# CI compiles the NativeAOT agent once).
agent=${NGINX_HA_IMAGE_AGENT:-$(scripts/publish-agent.sh artifacts/image-agent | tail -n 1)}
[ -x "$agent" ] || { echo "build-images.sh: no agent binary at $agent" >&2; exit 1; }
root=$work/agent/rootfs
install -D -m 0755 "$agent" "$root/usr/bin/nginx-ha-agent"
install -D -m 0755 /usr/sbin/nginx "$root/usr/sbin/nginx"
install -D -m 0644 /etc/nginx/mime.types "$root/etc/nginx/mime.types"
# setsid starts the watchdog (it releases the VIPs if the agent dies).
install -D -m 0755 /usr/bin/setsid "$root/usr/bin/setsid"
libraries "$root" "$agent" /usr/sbin/nginx /usr/bin/setsid
# `survey` opens libpcap at run time (dlopen, so ldd does not list it): Debian libpcap0.8, with its own libraries.
pcap=$(ldconfig -p | awk '/libpcap\.so\.0\.8 / { print $NF; exit }')
[ -n "$pcap" ] || { echo "build-images.sh: libpcap.so.0.8 not found (scripts/install-deps.sh installs libpcap0.8)" >&2; exit 1; }
install -D -m 0755 "$(readlink -f "$pcap")" "$root$pcap"
libraries "$root" "$pcap"
openssl_libraries "$root"
mkdir -p "$root/etc" "$root/var/log/nginx" "$root/var/lib/nginx"
# nginx -t resolves the workers' user (nobody) like the sidecar's master does.
printf 'root:x:0:0:root:/:/nonexistent\nnobody:x:65534:65534:nobody:/nonexistent:/nonexistent\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
# nginx's temp paths (the chart passes --nginx-temp-dir /var/lib/nginx), owned by its worker user and read-only: the
# agent's `nginx -t` finds them in place and needs no chown (the agent has no CAP_CHOWN).
mkdir -p "$work/agent/nginx-temp/client_body" "$work/agent/nginx-temp/proxy" "$work/agent/nginx-temp/fastcgi" \
  "$work/agent/nginx-temp/uwsgi" "$work/agent/nginx-temp/scgi"
chmod -R 0700 "$work/agent/nginx-temp"
extra='COPY --chown=65534:65534 nginx-temp/ /var/lib/nginx/\n' image nginx-ha-agent "$root" 0 /usr/bin/nginx-ha-agent
fi

# nginx sidecar.
if wanted nginx; then
SECONDS=0
root=$work/nginx/rootfs
for f in /usr/sbin/nginx /bin/dash /bin/grep /bin/sleep /bin/mkdir; do install -D -m 0755 "$f" "$root$f"; done
libraries "$root" /usr/sbin/nginx /bin/dash /bin/grep /bin/sleep /bin/mkdir
ln -s dash "$root/bin/sh"
install -D -m 0644 /etc/nginx/mime.types "$root/etc/nginx/mime.types"
mkdir -p "$root/var/lib/nginx" "$root/var/log/nginx" "$root/run"
printf 'root:x:0:0:root:/:/nonexistent\nnobody:x:65534:65534:nobody:/nonexistent:/nonexistent\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
image nginx-ha-nginx "$root" 0 /usr/sbin/nginx
fi

# Operator.
if wanted operator; then
SECONDS=0
root=$work/operator/rootfs
dotnet publish src/Operator/NginxHa.Operator.csproj -c Release -r linux-x64 --self-contained -v q -nologo -o "$root/app" >/dev/null
libraries "$root" "$root/app/nginx-ha-operator" $(find "$root/app" -name '*.so')
openssl_libraries "$root"
mkdir -p "$root/etc"
printf 'root:x:0:0:root:/:/nonexistent\nnonroot:x:65532:65532:nonroot:/nonexistent:/nonexistent\n' > "$root/etc/passwd"
mkdir -p "$root/etc/ssl/certs" && cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/" 2>/dev/null || true
image nginx-ha-operator "$root" 65532 /app/nginx-ha-operator
fi

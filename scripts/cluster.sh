#!/usr/bin/env bash
# The test cluster: the real Kubernetes CRD API server (upstream k8s.io/apiextensions-apiserver, built
# offline from Debian sid Go source packages) on a real etcd, plus the project's stand-in for core/v1 and
# apps/v1 (tests/TestCluster), behind one front URL. docs/test-cluster.md says what is real and what is not.
#
#   scripts/cluster.sh build            fetch + build the server once (cached in $CACHE, package versions in
#                                       $CACHE/versions.txt); a no-op when the cached build is current
#   scripts/cluster.sh up [DIR]         start etcd, the server, the stand-in/front; apply the stand-in CRDs for
#                                       the built-in groups; print `export KUBECONFIG=DIR/kubeconfig`
#   scripts/cluster.sh down [DIR]       stop everything `up` started in DIR, by recorded PID
#   scripts/cluster.sh status [DIR]     PIDs, VmRSS, health
#   scripts/cluster.sh compact [DIR]    compact etcd and the stand-in's history at their current revisions
#   scripts/cluster.sh stop-server [DIR]   stop the real API server only (etcd and the front keep running): an
#                                          API outage as clients see it (the front answers 502 for /apis)
#   scripts/cluster.sh start-server [DIR]  start it again on the same port (a fresh watch cache)
#
# DIR defaults to $CLUSTER_DIR, then (down/status/compact) to the directory of $KUBECONFIG; `up` without
# either makes a fresh directory under /tmp, so clusters started at the same time never share anything.
# Every port is chosen free at start; everything listens on 127.0.0.1 only.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${NHA_CLUSTER_CACHE:-/var/cache/nginx-ha-test-cluster}
ROOT=$CACHE/root             # sid packages unpacked with dpkg -x (never installed into the system)
DEBS=$CACHE/debs
APTDIR=$CACHE/apt
BIN=$CACHE/bin
BUILTIN_CRDS=$repo/tests/TestCluster/BuiltinCrds
FRONT_PROJECT=$repo/tests/TestCluster/NginxHa.TestCluster.csproj
FRONT_DLL=$repo/tests/TestCluster/bin/Release/net10.0/NginxHa.TestCluster.dll
KUBECTL=${KUBECTL:-kubectl}
MIRROR=${MIRROR:-$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
[ -n "$MIRROR" ] || MIRROR=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------- build
A_OPTS=(-o "Dir::Etc::sourcelist=$APTDIR/sid.list" -o Dir::Etc::sourceparts=-
        -o "Dir::State::Lists=$APTDIR/lists" -o "Dir::Cache=$APTDIR/cache"
        -o "Dir::State::status=$APTDIR/status" -o Debug::NoLocking=1)

fetch() {
  local t0=$SECONDS
  [ -n "$MIRROR" ] || die "no Debian mirror found in /etc/apt (set MIRROR)"
  mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$DEBS"
  : > "$APTDIR/status" # an empty private dpkg status: apt resolves the whole closure
  echo "deb [signed-by=$KEYRING] $MIRROR sid main" > "$APTDIR/sid.list"
  apt-get "${A_OPTS[@]}" update -qq || die "apt-get update of sid failed"
  local top=(golang-k8s-apiextensions-apiserver-dev golang-k8s-apiserver-dev
             golang-1.27-go golang-1.27-src etcd-server etcd-client)
  # Only Go source packages, the Go toolchain and etcd (static binaries): never libc or other system parts.
  apt-get "${A_OPTS[@]}" -s install --no-install-recommends "${top[@]}" \
    | awk '/^Inst /{gsub(/[()]/, "", $3); print $2, $3}' \
    | grep -E '^(golang-.*-dev|golang-1\.27-[a-z]+|etcd-(server|client)) ' | sort > "$APTDIR/want.txt"
  [ -s "$APTDIR/want.txt" ] || die "sid resolved no packages"
  local missing=() pkg ver
  while read -r pkg ver; do
    ls "$DEBS/${pkg}_${ver//:/%3a}_"*.deb >/dev/null 2>&1 || missing+=("$pkg=$ver")
  done < "$APTDIR/want.txt"
  if [ ${#missing[@]} -gt 0 ]; then
    log "downloading ${#missing[@]} of $(wc -l < "$APTDIR/want.txt") sid packages into $DEBS"
    (cd "$DEBS" && apt-get "${A_OPTS[@]}" download "${missing[@]}" >/dev/null) || die "download from sid failed"
  fi
  log "unpacking into $ROOT"
  rm -rf "$ROOT"; mkdir -p "$ROOT"
  while read -r pkg ver; do dpkg -x "$DEBS/${pkg}_${ver//:/%3a}_"*.deb "$ROOT"; done < "$APTDIR/want.txt"
  cp "$APTDIR/want.txt" "$CACHE/versions.txt"
  log "fetch done in $((SECONDS - t0))s: $("$ROOT/usr/lib/go-1.27/bin/go" version), $("$ROOT/usr/bin/etcd" --version | head -1)"
}

build_stamp() { cat "$repo"/tests/TestCluster/RealServer/*.go "$CACHE/versions.txt" 2>/dev/null | sha256sum | cut -d' ' -f1; }
# One binary per source hash: worktrees with different wrapper sources share the cache without rebuilding each
# other's binary (or starting one with flags it does not know).
server_bin() { echo "$BIN/apiext-standalone-$(build_stamp | cut -c1-16)"; }

build_server() {
  local t0=$SECONDS
  export GOROOT=$ROOT/usr/lib/go-1.27 GOPATH=$CACHE/gopath:$ROOT/usr/share/gocode
  export GO111MODULE=off GOTOOLCHAIN=local GOPROXY=off GOFLAGS= CGO_ENABLED=0 GOTELEMETRY=off
  export GOCACHE=$CACHE/gocache PATH=$ROOT/usr/lib/go-1.27/bin:$PATH
  local src=$CACHE/gopath/src/nginxha/apiext-standalone
  rm -rf "$src"; mkdir -p "$src" "$BIN"
  cp "$repo"/tests/TestCluster/RealServer/*.go "$src/"
  log "building the CRD API server (GOPATH mode, offline; about 3 minutes on a cold cache)"
  local bin; bin=$(server_bin)
  (cd "$CACHE" && go build -trimpath -ldflags='-s -w' -o "$bin.new" nginxha/apiext-standalone) \
    || die "go build of the CRD API server failed"
  mv "$bin.new" "$bin"
  # keep the four newest (73 MB each)
  ls -t "$BIN"/apiext-standalone-* 2>/dev/null | grep -v '\.new$' | tail -n +5 | xargs -r rm -f
  log "built in $((SECONDS - t0))s: $bin"
}

build_front() {
  if [ ! -f "$FRONT_DLL" ] || [ -n "$(find "$repo/tests/TestCluster" -name '*.cs' -newer "$FRONT_DLL" -print -quit)" ]; then
    log "building the stand-in and front ($FRONT_PROJECT)"
    dotnet build "$FRONT_PROJECT" -c Release -warnaserror -v q -nologo >"$CACHE/front-build.log" 2>&1 \
      || { tail -30 "$CACHE/front-build.log" >&2; die "build of tests/TestCluster failed"; }
  fi
}

cmd_build() {
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"
  flock 9 # concurrent builds (several test runs starting at once) wait for the first
  if [ -x "$(server_bin)" ] && [ -x "$ROOT/usr/bin/etcd" ]; then
    log "server is current: $(server_bin) (sid versions in $CACHE/versions.txt)"
  else
    [ -x "$ROOT/usr/bin/etcd" ] && [ -s "$CACHE/versions.txt" ] || fetch
    build_server
  fi
  if [ -f "$FRONT_PROJECT" ]; then build_front; fi
  exec 9>&-
}

# ------------------------------------------------------------------------------------------------- run
cluster_dir() { # $1: explicit DIR or empty; $2: create?
  local d=${1:-${CLUSTER_DIR:-}}
  if [ -z "$d" ] && [ -n "${KUBECONFIG:-}" ] && [ -f "$(dirname "$KUBECONFIG")/cluster.env" ]; then d=$(dirname "$KUBECONFIG"); fi
  if [ -z "$d" ]; then
    [ "$2" = create ] || die "which cluster? give DIR, or set CLUSTER_DIR or KUBECONFIG"
    d=$(mktemp -d /tmp/nginx-ha-cluster.XXXXXX)
  fi
  mkdir -p "$d"; chmod 700 "$d"
  (cd "$d" && pwd)
}

free_port() { # a port no socket uses now; the caller still retries when a start loses a race
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 40000))
    ss -Htan "sport = :$p" | grep -q . || { echo "$p"; return 0; }
  done
  die "no free port found"
}

alive() { # a recorded PID that is still our process (not a zombie or an unreaped leftover)
  local f=$1/$2.pid st
  [ -f "$f" ] || return 1
  st=$(awk '{print $3}' "/proc/$(cat "$f")/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

certs() {
  local d=$1/pki
  mkdir -p "$d"; chmod 700 "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 -subj "/CN=nginx-ha-test-cluster-ca" \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=kube-apiserver" -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > "$d/server.ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 30 \
    -extfile "$d/server.ext" -out "$d/server.crt" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/O=system:masters/CN=admin" -keyout "$d/admin.key" -out "$d/admin.csr" 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' > "$d/admin.ext"
  openssl x509 -req -in "$d/admin.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 30 \
    -extfile "$d/admin.ext" -out "$d/admin.crt" 2>/dev/null
  chmod 600 "$d"/*.key
}

kubeconfig() { # $1 path, $2 server URL, $3 pki dir (TLS) or empty (plain http)
  {
    echo "apiVersion: v1"; echo "kind: Config"; echo "clusters:"; echo "- name: nginx-ha-test"; echo "  cluster:"
    echo "    server: $2"
    [ -z "$3" ] || echo "    certificate-authority: $3/ca.crt"
    echo "users:"; echo "- name: admin"; echo "  user:"
    if [ -n "$3" ]; then echo "    client-certificate: $3/admin.crt"; echo "    client-key: $3/admin.key"; else echo "    token: test-cluster-admin"; fi
    echo "contexts:"; echo "- name: nginx-ha-test"; echo "  context: {cluster: nginx-ha-test, user: admin, namespace: default}"
    echo "current-context: nginx-ha-test"
  } > "$1"
  chmod 600 "$1"
}

start_etcd() {
  local d=$1 port peer metrics
  for attempt in 1 2 3; do
    port=$(free_port); peer=$(free_port); metrics=$(free_port)
    rm -rf "$d/etcd-data"
    "$ROOT/usr/bin/etcd" --name default --data-dir "$d/etcd-data" \
      --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
      --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
      --initial-cluster "default=http://127.0.0.1:$peer" --listen-metrics-urls "http://127.0.0.1:$metrics" \
      --unsafe-no-fsync --quota-backend-bytes 2147483648 > "$d/etcd.log" 2>&1 &
    echo $! > "$d/etcd.pid"
    for _ in $(seq 100); do
      alive "$d" etcd || break
      if "$ROOT/usr/bin/etcdctl" --endpoints "http://127.0.0.1:$port" endpoint health >/dev/null 2>&1; then
        echo "ETCD_ENDPOINT=http://127.0.0.1:$port" >> "$d/cluster.env"; return 0
      fi
      sleep 0.1
    done
    stop_one "$d" etcd
    log "etcd start attempt $attempt failed: $(tail -2 "$d/etcd.log")"
  done
  die "etcd did not start; see $d/etcd.log"
}

start_server() { # $2: a fixed port (restart), else a free one
  local d=$1 port
  for attempt in 1 2 3; do
    port=${2:-$(free_port)}
    # Flags (PLATFORM-NOTES.md): --kubeconfig points at itself (its core informers need one; they never
    # sync, so /readyz stays 503 and we wait on /healthz); --always-allow (wrapper flag) authorizes every
    # request; the admission plugins that wait on APIs this server does not serve are off. The upstream
    # ValidatingAdmissionPolicy plugin is on: its informers read Namespaces and the policies through the front
    # (wrapper flag --policy-admission-front-port-file; wait_policy_admission waits until it is ready), and
    # --test-service-account-tokens gives tests service account users with a node claim.
    "$(server_bin)" \
      --etcd-servers="$(sed -n 's/^ETCD_ENDPOINT=//p' "$d/cluster.env")" \
      --bind-address=127.0.0.1 --secure-port="$port" \
      --tls-cert-file="$d/pki/server.crt" --tls-private-key-file="$d/pki/server.key" \
      --client-ca-file="$d/pki/ca.crt" --kubeconfig="$d/server.kubeconfig" \
      --always-allow --authentication-skip-lookup --enable-priority-and-fairness=false \
      --disable-admission-plugins=NamespaceLifecycle,MutatingAdmissionPolicy,MutatingAdmissionWebhook,ValidatingAdmissionWebhook \
      --enable-admission-plugins=ValidatingAdmissionPolicy --policy-admission-front-port-file="$d/front.port" \
      --test-service-account-tokens \
      >> "$d/apiserver.log" 2>&1 &
    echo $! > "$d/apiserver.pid"
    kubeconfig "$d/server.kubeconfig" "https://127.0.0.1:$port" "$d/pki"
    for _ in $(seq 300); do
      alive "$d" apiserver || break
      if curl -sf --cacert "$d/pki/ca.crt" "https://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
        [ -n "${2:-}" ] || echo "SERVER_URL=https://127.0.0.1:$port" >> "$d/cluster.env"
        return 0
      fi
      sleep 0.1
    done
    stop_one "$d" apiserver
    log "server start attempt $attempt failed: $(tail -3 "$d/apiserver.log")"
    [ -z "${2:-}" ] || sleep 1 # the fixed port may still be in TIME_WAIT's hands or a lingering listener's
  done
  die "the CRD API server did not start; see $d/apiserver.log"
}

launch_front() { # returns at once: the front starts while the stand-in CRDs are applied (wait_front)
  local d=$1
  [ -f "$FRONT_DLL" ] || die "the stand-in is not built: run scripts/cluster.sh build"
  rm -f "$d/front.port"
  dotnet "$FRONT_DLL" --upstream "$(sed -n 's/^SERVER_URL=//p' "$d/cluster.env")" \
    --ca "$d/pki/ca.crt" --cert "$d/pki/admin.crt" --key "$d/pki/admin.key" --port-file "$d/front.port" \
    > "$d/front.log" 2>&1 &
  echo $! > "$d/front.pid"
}

wait_front() {
  local d=$1 port
  for _ in $(seq 300); do
    alive "$d" front || break
    if [ -s "$d/front.port" ]; then
      port=$(cat "$d/front.port")
      echo "FRONT_URL=http://127.0.0.1:$port" >> "$d/cluster.env"
      return 0
    fi
    sleep 0.1
  done
  tail -20 "$d/front.log" >&2
  die "the stand-in and front did not start; see $d/front.log"
}

wait_policy_admission() { # until then the ValidatingAdmissionPolicy plugin holds every write (up to 10 s, then 403)
  local d=$1 url
  url=$(sed -n 's/^SERVER_URL=//p' "$d/cluster.env")
  for _ in $(seq 300); do
    curl -sf --cacert "$d/pki/ca.crt" "$url/readyz/nha-policy-admission" >/dev/null 2>&1 && return 0
    alive "$d" apiserver || break
    sleep 0.1
  done
  die "ValidatingAdmissionPolicy admission did not become ready: $(curl -s --cacert "$d/pki/ca.crt" "$url/readyz/nha-policy-admission?verbose" | tail -3); see $d/apiserver.log"
}

apply_builtin_crds() {
  local d=$1
  "$KUBECTL" --kubeconfig "$d/server.kubeconfig" apply -f "$BUILTIN_CRDS" >/dev/null \
    || die "applying the stand-in CRDs of $BUILTIN_CRDS failed"
  "$KUBECTL" --kubeconfig "$d/server.kubeconfig" wait --for condition=Established --timeout=60s -f "$BUILTIN_CRDS" >/dev/null \
    || die "the stand-in CRDs did not become Established"
  # Established is not served yet: a resource's watch cache answers 429 "storage is (re)initializing" for a moment
  # after it. Wait until every stand-in resource lists, so the first client of the cluster never sees that.
  local resources deadline=$((SECONDS + 60))
  resources=$("$KUBECTL" --kubeconfig "$d/server.kubeconfig" get -f "$BUILTIN_CRDS" -o jsonpath='{range .items[*]}{.spec.names.plural}.{.spec.group},{end}')
  until "$KUBECTL" --kubeconfig "$d/server.kubeconfig" get "${resources%,}" -A -o name >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "the stand-in resources did not list within 60 s: ${resources%,}"
    sleep 0.1
  done
}

cmd_up() {
  local d t0=$SECONDS
  d=$(cluster_dir "${1:-}" create)
  [ -f "$d/cluster.env" ] && alive "$d" apiserver && die "a cluster already runs in $d (scripts/cluster.sh down $d)"
  [ -x "$(server_bin)" ] || die "not built (or tests/TestCluster/RealServer changed since): run scripts/cluster.sh build"
  : > "$d/cluster.env"
  trap 'log "up failed; stopping what started"; cmd_down "$d" >/dev/null 2>&1 || true' EXIT
  local t=$EPOCHREALTIME phases=""
  lap() { phases+=" $1 $(awk -v a="$t" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1fs", b-a}')"; t=$EPOCHREALTIME; }
  certs "$d"; lap certs
  start_etcd "$d"; lap etcd
  start_server "$d"; lap server
  launch_front "$d"
  apply_builtin_crds "$d"; lap crds
  wait_front "$d"; lap front
  wait_policy_admission "$d"; lap admission
  # Plain http on 127.0.0.1: kubectl, helm and KubernetesClient all take it (the front talks TLS to the server).
  kubeconfig "$d/kubeconfig" "$(sed -n 's/^FRONT_URL=//p' "$d/cluster.env")" ""
  trap - EXIT
  log "up in $((SECONDS - t0))s ($phases ): $d"
  echo "export KUBECONFIG=$d/kubeconfig"
}

stop_one() {
  local d=$1 name=$2 pid
  alive "$d" "$name" || { rm -f "$d/$name.pid"; return 0; }
  pid=$(cat "$d/$name.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do alive "$d" "$name" || break; sleep 0.05; done
  alive "$d" "$name" && kill -9 "$pid" 2>/dev/null || true
  rm -f "$d/$name.pid"
}

cmd_down() {
  local d
  d=$(cluster_dir "${1:-}" find)
  for p in front apiserver etcd; do stop_one "$d" "$p"; done
  rm -rf "$d/etcd-data"
  log "stopped the cluster in $d"
}

cmd_stop_server() {
  local d
  d=$(cluster_dir "${1:-}" find)
  alive "$d" apiserver || die "no API server runs in $d"
  stop_one "$d" apiserver
  log "stopped the API server in $d (etcd and the front still run)"
}

cmd_start_server() {
  local d port
  d=$(cluster_dir "${1:-}" find)
  alive "$d" apiserver && die "the API server already runs in $d"
  port=$(sed -n 's/^SERVER_URL=https:\/\/127.0.0.1://p' "$d/cluster.env")
  [ -n "$port" ] || die "$d/cluster.env: no SERVER_URL (was the cluster started with up?)"
  start_server "$d" "$port"
  wait_policy_admission "$d"
  log "started the API server in $d again on port $port"
}

cmd_status() {
  local d p
  d=$(cluster_dir "${1:-}" find)
  for p in etcd apiserver front; do
    if alive "$d" "$p"; then echo "$p pid=$(cat "$d/$p.pid") $(grep VmRSS "/proc/$(cat "$d/$p.pid")/status" | tr -s ' \t' ' ')"
    else echo "$p not running"; fi
  done
  echo "kubeconfig: $d/kubeconfig"
  "$KUBECTL" --kubeconfig "$d/kubeconfig" get --raw /healthz; echo
}

cmd_compact() {
  local d rev
  d=$(cluster_dir "${1:-}" find)
  local ep; ep=$(sed -n 's/^ETCD_ENDPOINT=//p' "$d/cluster.env")
  rev=$("$ROOT/usr/bin/etcdctl" --endpoints "$ep" endpoint status -w json | grep -o '"revision":[0-9]*' | head -1 | cut -d: -f2)
  "$ROOT/usr/bin/etcdctl" --endpoints "$ep" compact "$rev" >/dev/null
  echo "etcd compacted at $rev"
  echo "stand-in $(curl -sf -X POST "$(sed -n 's/^FRONT_URL=//p' "$d/cluster.env")/_testcluster/compact")"
}

case "${1:-}" in
  build) cmd_build ;;
  up) cmd_up "${2:-}" ;;
  down) cmd_down "${2:-}" ;;
  status) cmd_status "${2:-}" ;;
  compact) cmd_compact "${2:-}" ;;
  stop-server) cmd_stop_server "${2:-}" ;;
  start-server) cmd_start_server "${2:-}" ;;
  *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac

# Shared by the bench/*.sh scripts (sourced): their checks and messages, ending processes by PID, a private bridge of
# network namespaces, and their sections of the docs. The caller sets `prefix` (address prefix length) and keeps
# `created_namespaces=()`.

# Messages name the script that sourced this file.
die() { echo "$(basename "$0"): $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

require_root() { [ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces)"; }

require_tools() { # tool...
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || die "'$tool' is not installed (scripts/install-deps.sh)"
  done
}

# One run at a time (the namespace names are fixed): holds /run/lock/NAME.lock on fd 9 until the script exits, and
# sets `work` to a new private directory /tmp/NAME.XXXXXX.
lock_and_make_work_dir() { # name
  exec 9>"/run/lock/$1.lock"
  flock -n 9 || die "another bench/$(basename "$0") is running"
  work=$(mktemp -d "/tmp/$1.XXXXXX")
  chmod 700 "$work"
}

# The first line of a benchmark's section in the docs; the caller sets `command_line`.
doc_measured_line() {
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') with \`$command_line\` (commit $(git -C "$repo" rev-parse --short HEAD))."
}

cpu_model() { grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'; }

# True while PID is a live process (a zombie or a vanished PID is not).
alive() {
  local state
  state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ -n $state && $state != Z && $state != X ]]
}

# Ends one process by PID: SIGTERM, then SIGKILL after 5 s. Started processes are disowned (no job
# notices like "Killed" in the output); bash still reaps them, so a dead one leaves /proc at once.
stop_pid() {
  local pid=$1 i
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 50); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
}

# A process we did not start ourselves (keepalived's VRRP child, an nginx master the agent started)
# is ended by the PID in its pid file, and only if it still is that program.
stop_by_pid_file() { # pid-file program
  local pid
  [ -s "$1" ] || return 0
  pid=$(<"$1")
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  if alive "$pid" && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$2" ]]; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

delete_namespaces() {
  local ns
  for ns in "${created_namespaces[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  created_namespaces=()
}

# Creates the namespaces (loopback up) and, in the first one, bridge br0: no link to the host, no route out.
add_bridged_namespaces() { # bridge-namespace namespace...
  local ns
  for ns in "$@"; do
    ip netns add "$ns"
    created_namespaces+=("$ns")
    ip -n "$ns" link set lo up
  done
  ip -n "$1" link add br0 type bridge stp_state 0 mcast_snooping 0
  ip -n "$1" link set br0 up
}

# Gives NAMESPACE an eth0 with ADDRESS/$prefix, its veth peer PORT a port of br0.
connect_to_bridge() { # bridge-namespace namespace port address
  ip -n "$1" link add "$3" type veth peer name eth0 netns "$2"
  ip -n "$1" link set "$3" master br0 up
  ip -n "$2" addr add "$4/$prefix" dev eth0
  ip -n "$2" link set eth0 up
}

# Puts SECTION (which starts with BEGIN and ends with END) into DOC: in place of the previous one, or at the end.
# Other benchmarks' sections stay as they are.
replace_doc_section() { # doc begin end section
  local doc=$1 begin=$2 end=$3 section=$4
  mkdir -p "$(dirname "$doc")"
  [ -f "$doc" ] || printf '# Benchmarks\n' >"$doc"
  if grep -qF "$begin" "$doc"; then
    SECTION="$section" awk -v b="$begin" -v e="$end" '
      $0 == b { print ENVIRON["SECTION"]; skip = 1; next }
      $0 == e { skip = 0; next }
      !skip { print }' "$doc" >"$doc.new"
    mv "$doc.new" "$doc"
  else
    printf '\n%s\n' "$section" >>"$doc"
  fi
}

#!/usr/bin/env bash
# Mount benchmark: runs one workload, in one run, on
#   tmpfs        the ceiling: no FUSE, no disk
#   passthrough  libfuse's own low-level passthrough example (the cost of FUSE itself)
#   gocryptfs    an encrypting FUSE filesystem (the closest well-known neighbour)
#   vishwafs     ours: 5 vishwa-shard hosts on 127.0.0.1, a vault, the mount
# and prints the medians as a table, one column per target, with the ratios of one target
# (vishwafs by default) to each of the others.
#
#   scripts/bench.sh [--runs N] [--size 1G] [--only tmpfs,passthrough,gocryptfs,vishwafs]
#                    [--base vishwafs] [--json FILE]
#
# Workload, per target and run (caches cold before every read phase: the FUSE targets are
# remounted and the kernel's caches dropped):
#   1. write: dd of a SIZE file of random bytes into the mount with conv=fsync (MiB/s)
#   2. sequential read: dd of that file to /dev/null (MiB/s)
#   3. 4 KiB preads at random offsets: p50 and p99 latency (ms)
#   4. 1 MiB preads at random offsets, as a player seeking: p50 latency (ms)
#   5. creating 10,000 empty files (files/s); then, after a remount, `ls -l` of that folder (s);
#      then removing the files (files/s)
#   6. peak RSS of the FUSE daemon (VmHWM, the highest over the mounts of the run)
# Everything lives in one temporary folder under /var/tmp (on disk, so the backing stores of
# passthrough and gocryptfs are on disk too), removed at exit; every mount made is unmounted and
# every process started is stopped by pid, on success, failure or Ctrl-C.
# Needs root (tmpfs mounts, drop_caches, apt-get). vishwafs is skipped, saying so, until
# .build/release/vishwafs exists (swift build -c release); VISHWA_BIN=DIR takes the three
# programs from DIR instead (/usr/bin for the installed package); VISHWAFS_OPTS=cache_size=64M,...
# adds mount options to vishwafs.
set -euo pipefail
export LC_ALL=C                       # '.' as the decimal separator in EPOCHREALTIME and awk
CALLER_DIR=$(pwd)
cd "$(dirname "$0")/.."
ROOT=$(pwd)
# VISHWA_BIN: where vishwa, vishwa-shard and vishwafs are (e.g. /usr/bin for the .deb).
BIN=${VISHWA_BIN:-$ROOT/.build/release}
ALL_TARGETS=(tmpfs passthrough gocryptfs vishwafs)

RUNS=3
SIZE_ARG=1G
ONLY=$(IFS=,; echo "${ALL_TARGETS[*]}")
BASE=vishwafs
JSON_OUT=""
FILES=10000          # entries for the create / ls -l / remove phases
RAND4K_COUNT=2000    # 4 KiB random reads per run
RAND1M_COUNT=200     # 1 MiB random reads per run
VISHWA_HOSTS=5

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit "${1:-0}"
}

while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS=${2:?--runs needs a number}; shift 2 ;;
        --size) SIZE_ARG=${2:?--size needs a size such as 64M or 1G}; shift 2 ;;
        --only) ONLY=${2:?--only needs a list}; shift 2 ;;
        --base) BASE=${2:?--base needs a target}; shift 2 ;;
        --json) JSON_OUT=${2:?--json needs a file}; shift 2 ;;
        -h|--help) usage 0 ;;
        *) echo "bench: unknown argument '$1'" >&2; usage 2 >&2 ;;
    esac
done

fail() { echo "bench: FAILED: $*" >&2; exit 1; }
log() { echo "bench: $*"; }

[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || fail "--runs must be a positive number, not '$RUNS'"
SIZE=$(numfmt --from=iec "${SIZE_ARG^^}" 2>/dev/null) || fail "--size '$SIZE_ARG' is not a size such as 64M or 1G"
# Whole MiB so that dd bs=1M writes exactly SIZE; at least 2 MiB so a 1 MiB read has room to move.
if [ $((SIZE % 1048576)) -ne 0 ] || [ "$SIZE" -lt 2097152 ]; then fail "--size must be a whole number of MiB, at least 2M"; fi
TARGETS=()
IFS=, read -r -a wanted <<< "$ONLY"
for t in "${wanted[@]}"; do
    case " ${ALL_TARGETS[*]} " in *" $t "*) TARGETS+=("$t") ;; *) fail "unknown target '$t' (known: ${ALL_TARGETS[*]})" ;; esac
done
[ ${#TARGETS[@]} -gt 0 ] || fail "--only names no target"
if [ -n "$JSON_OUT" ] && [ "${JSON_OUT:0:1}" != / ]; then JSON_OUT="$CALLER_DIR/$JSON_OUT"; fi
[ "$(id -u)" -eq 0 ] || fail "run as root: it mounts tmpfs, drops the kernel's caches and may apt-get install"

# ---------------------------------------------------------------------------------------------
# State that the exit trap cleans up. Each mount is pushed on MOUNTS when made; each process we
# start is pushed on PIDS. The trap unmounts in reverse order, then stops what is still running.
WORK=""
MOUNTS=()
PIDS=()
declare -A MNT=()        # target -> mountpoint
declare -A DAEMON=()     # target -> pid of the FUSE daemon serving the current mount
declare -A PEAK_KB=()    # target -> highest VmHWM seen in this run (kB)
RESULTS=""               # tab-separated: target, run, metric, value
HELPER=""
CURRENT="starting"       # what we are doing, for the failure message

is_mounted() {
    # /proc/self/mountinfo rather than stat(2): a FUSE mount whose daemon died answers stat
    # with ENOTCONN, yet it is still mounted and must still be unmounted.
    local info
    info=$(cat /proc/self/mountinfo)
    awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' <<< "$info"
}

unmount_path() {
    local mnt=$1 fstype=$2 i
    is_mounted "$mnt" || return 0
    for i in $(seq 20); do
        if [ "$fstype" = fuse ]; then fusermount3 -u "$mnt" 2>/dev/null && break
        else umount "$mnt" 2>/dev/null && break; fi
        sleep 0.25   # busy right after a phase: a closing file handle still in flight
    done
    if is_mounted "$mnt"; then
        echo "bench: $mnt stays busy; detaching it lazily" >&2
        umount -l "$mnt" || true
    fi
    local kept=() m
    for m in "${MOUNTS[@]:-}"; do [ -n "$m" ] && [ "$m" != "$mnt|$fstype" ] && kept+=("$m"); done
    MOUNTS=("${kept[@]:-}")
}

stop_pid() {
    # SIGTERM first (the daemons unmount and flush on it), SIGKILL after 10 s.
    local pid=$1 i
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true   # reap it if it is our child; harmless if it is not
    local kept=() p
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && [ "$p" != "$pid" ] && kept+=("$p"); done
    PIDS=("${kept[@]:-}")
}

cleanup() {
    local status=$?
    set +e
    trap - EXIT INT TERM
    [ "$status" -eq 0 ] || echo "bench: stopped with status $status while: $CURRENT; cleaning up" >&2
    local i entry
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        entry=${MOUNTS[$i]}
        [ -n "$entry" ] && unmount_path "${entry%|*}" "${entry#*|}"
    done
    for i in "${PIDS[@]:-}"; do [ -n "$i" ] && stop_pid "$i"; done
    # Whatever was measured before a failure is still worth seeing.
    if [ "$status" -ne 0 ] && [ -n "$RESULTS" ] && [ -s "$RESULTS" ] && [ -n "$HELPER" ]; then
        echo "bench: partial results (medians of what was measured):" >&2
        python3 "$HELPER" report "$RESULTS" "$BASE" "$SIZE" "$RUNS" "" "${TARGETS[*]}" >&2
    fi
    # --one-file-system: never follow into a mount that somehow survived.
    [ -n "$WORK" ] && rm -rf --one-file-system "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Starts "$@" in the background with stdout/stderr to files; its pid is left in LAST_PID (not
# printed: a $(...) subshell would make it the subshell's child, out of our reach).
LAST_PID=""
start_bg() {
    local out=$1 err=$2; shift 2
    "$@" > "$out" 2> "$err" &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}

# Waits until MNT is mounted. PID is the process that mounts it: if it dies first, that is a
# failure; if it exits 0 after mounting (a daemon that forked), the daemon's pid is looked up.
# Leaves the serving pid in LAST_PID.
wait_mounted() {
    local mnt=$1 pid=$2 err=$3 exe=$4 timeout=${5:-30} i
    for ((i = 0; i < timeout * 10; i++)); do
        if is_mounted "$mnt"; then
            if kill -0 "$pid" 2>/dev/null; then LAST_PID=$pid; return 0; fi
            LAST_PID=$(find_daemon "$exe" "$mnt")
            [ -n "$LAST_PID" ] || fail "$mnt is mounted but no $exe process serves it"
            PIDS+=("$LAST_PID")
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "--- $err:" >&2; tail -20 "$err" >&2 || true
            fail "$exe exited before $mnt was mounted"
        fi
        sleep 0.1
    done
    fail "$mnt not mounted after ${timeout}s (see $err)"
}

# The pid of a running EXE whose command line names MNT: for a daemon that forked away from us.
find_daemon() {
    local exe=$1 mnt=$2 dir pid cmd
    for dir in /proc/[0-9]*; do
        pid=${dir#/proc/}
        [ "$(readlink "$dir/exe" 2>/dev/null)" = "$(readlink -f "$exe")" ] || continue
        cmd=$(tr '\0' ' ' < "$dir/cmdline" 2>/dev/null) || continue
        case " $cmd " in *" $mnt "*) echo "$pid"; return 0 ;; esac
    done
}

drop_caches() {
    sync
    echo 3 > /proc/sys/vm/drop_caches
}

apt_updated=0
APT_LOG=/dev/null   # main() points it into the work folder
ensure_command() {
    # ensure_command COMMAND DEBIAN-PACKAGE: installs the package when the command is missing.
    local cmd=$1 pkg=$2
    command -v "$cmd" > /dev/null 2>&1 && return 0
    log "installing $pkg (for $cmd)"
    if [ "$apt_updated" -eq 0 ]; then apt-get update -qq; apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" > "$APT_LOG" 2>&1 \
        || { cat "$APT_LOG" >&2; fail "apt-get install $pkg"; }
    command -v "$cmd" > /dev/null 2>&1 || fail "$pkg installed but $cmd is still missing"
}

# ---------------------------------------------------------------------------------------------
# Targets. Each has setup_T (everything, ending mounted at ${MNT[T]}), teardown_T, and, for the
# FUSE ones, mount_T / unmount_T, which `cold` uses to start each read phase from a fresh daemon.

# Records the daemon's VmHWM (peak RSS) before it goes away; the run keeps the highest.
sample_rss() {
    local t=$1 pid=${DAEMON[$1]:-} status kb
    [ -n "$pid" ] && [ -r "/proc/$pid/status" ] || return 0
    status=$(cat "/proc/$pid/status" 2>/dev/null) || return 0
    kb=$(awk '/^VmHWM:/ { print $2 }' <<< "$status")
    [ -n "$kb" ] && [ "$kb" -gt "${PEAK_KB[$t]:-0}" ] && PEAK_KB[$t]=$kb
    return 0
}

unmount_fuse() {
    local t=$1
    sample_rss "$t"
    unmount_path "${MNT[$t]}" fuse
    [ -n "${DAEMON[$t]:-}" ] && stop_pid "${DAEMON[$t]}"
    DAEMON[$t]=""
}

# --- tmpfs: no daemon; its files live in the page cache, so it cannot be made cold (dropping
# caches does not evict tmpfs pages). It is the ceiling, not a cold-cache figure.
setup_tmpfs() {
    MNT[tmpfs]="$WORK/mnt-tmpfs"
    mkdir -p "${MNT[tmpfs]}"
    mount -t tmpfs -o "size=$((SIZE * 2 + 268435456)),mode=0755" vishwa-bench "${MNT[tmpfs]}"
    MOUNTS+=("${MNT[tmpfs]}|tmpfs")
}
teardown_tmpfs() { unmount_path "${MNT[tmpfs]}" tmpfs; }

# --- passthrough: libfuse's passthrough_ll, built from the example source Debian ships, over a
# folder on disk. Default options (cache=auto, no writeback), multithreaded, in the foreground
# (-f) so the pid we start is the daemon.
PASSTHROUGH_BIN=""
build_passthrough() {
    ensure_command gcc gcc
    ensure_command pkg-config pkg-config
    ensure_command fusermount3 fuse3
    local examples=/usr/share/doc/libfuse3-dev/examples
    if [ ! -e "$examples/passthrough_ll.c" ] && [ ! -e "$examples/passthrough_ll.c.gz" ]; then
        if [ "$apt_updated" -eq 0 ]; then apt-get update -qq; apt_updated=1; fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libfuse3-dev > "$APT_LOG" 2>&1 \
            || { cat "$APT_LOG" >&2; fail "apt-get install libfuse3-dev"; }
    fi
    local dir="$WORK/passthrough-build" f
    mkdir -p "$dir"
    # Debian may gzip the example sources; the helper header comes along either way.
    for f in passthrough_ll.c passthrough_helpers.h; do
        if [ -e "$examples/$f" ]; then cp "$examples/$f" "$dir/$f"
        elif [ -e "$examples/$f.gz" ]; then gunzip -c "$examples/$f.gz" > "$dir/$f"
        else fail "$examples has no $f (libfuse3-dev's examples)"; fi
    done
    local flags
    flags=$(pkg-config fuse3 --cflags --libs)
    # shellcheck disable=SC2086  # the flags are meant to split into words
    gcc -O2 -Wall -o "$dir/passthrough_ll" "$dir/passthrough_ll.c" $flags 2> "$dir/gcc.log" \
        || { cat "$dir/gcc.log" >&2; fail "passthrough_ll.c did not build"; }
    PASSTHROUGH_BIN="$dir/passthrough_ll"
    log "built libfuse $(pkg-config --modversion fuse3) passthrough_ll"
}
mount_passthrough() {
    local err="$WORK/passthrough.log"
    start_bg "$WORK/passthrough.out" "$err" \
        "$PASSTHROUGH_BIN" -f -o "source=$WORK/passthrough-backing,auto_unmount" "${MNT[passthrough]}"
    MOUNTS+=("${MNT[passthrough]}|fuse")
    wait_mounted "${MNT[passthrough]}" "$LAST_PID" "$err" "$PASSTHROUGH_BIN"
    DAEMON[passthrough]=$LAST_PID
}
unmount_passthrough() { unmount_fuse passthrough; }
setup_passthrough() {
    build_passthrough
    MNT[passthrough]="$WORK/mnt-passthrough"
    mkdir -p "${MNT[passthrough]}" "$WORK/passthrough-backing"
    mount_passthrough
}
teardown_passthrough() { unmount_passthrough; }

# --- gocryptfs: a throwaway cipher folder on disk; scrypt cost kept low (-scryptn 10) so that
# mounting, which we do before every read phase, is not dominated by key derivation.
setup_gocryptfs() {
    ensure_command fusermount3 fuse3
    ensure_command gocryptfs gocryptfs
    MNT[gocryptfs]="$WORK/mnt-gocryptfs"
    mkdir -p "${MNT[gocryptfs]}" "$WORK/gocryptfs-cipher"
    echo pw > "$WORK/gocryptfs.pass"
    gocryptfs -init -q -scryptn 10 -passfile "$WORK/gocryptfs.pass" "$WORK/gocryptfs-cipher" \
        > "$WORK/gocryptfs-init.log" 2>&1 || { cat "$WORK/gocryptfs-init.log" >&2; fail "gocryptfs -init"; }
    log "$(gocryptfs -version 2>/dev/null | head -1)"
    mount_gocryptfs
}
mount_gocryptfs() {
    local err="$WORK/gocryptfs.log"
    # -fg: stay in the foreground so the pid we start is the daemon whose RSS we read.
    start_bg "$WORK/gocryptfs.out" "$err" \
        gocryptfs -fg -q -nosyslog -passfile "$WORK/gocryptfs.pass" "$WORK/gocryptfs-cipher" "${MNT[gocryptfs]}"
    MOUNTS+=("${MNT[gocryptfs]}|fuse")
    wait_mounted "${MNT[gocryptfs]}" "$LAST_PID" "$err" "$(command -v gocryptfs)"
    DAEMON[gocryptfs]=$LAST_PID
}
unmount_gocryptfs() { unmount_fuse gocryptfs; }
teardown_gocryptfs() { unmount_gocryptfs; }

# --- vishwafs: as scripts/demo.sh, but everything under the temp folder and on ports the kernel
# picks (--listen 127.0.0.1:0), so it never meets a running demo: VISHWA_HOSTS vishwa-shard hosts,
# a vault without a passphrase, each host paired, then the mount.
VISHWA_HOME_DIR=""
VISHWA_HOST_PIDS=()   # also in PIDS, so the exit trap stops them if teardown never runs
vishwafs_available() { [ -x "$BIN/vishwafs" ] && [ -x "$BIN/vishwa" ] && [ -x "$BIN/vishwa-shard" ]; }
setup_vishwafs() {
    ensure_command fusermount3 fuse3
    local base="$WORK/vishwa" i dir address code
    VISHWA_HOME_DIR="$base/home"
    MNT[vishwafs]="$WORK/mnt-vishwafs"
    mkdir -p "$base" "${MNT[vishwafs]}"
    VISHWA_HOME="$VISHWA_HOME_DIR" "$BIN/vishwa" init --no-passphrase > "$base/init.txt"
    for i in $(seq 1 "$VISHWA_HOSTS"); do
        dir="$base/host$i"
        "$BIN/vishwa-shard" init --dir "$dir" --listen 127.0.0.1:0 --reserve 0 > /dev/null
        start_bg "$dir.out" "$dir.log" "$BIN/vishwa-shard" serve --dir "$dir"
        local pid=$LAST_PID
        VISHWA_HOST_PIDS+=("$pid")
        for _ in $(seq 100); do grep -q "listening on" "$dir.out" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        address=$(sed -n 's/^listening on //p' "$dir.out" | head -1)
        [ -n "$address" ] || { tail -20 "$dir.log" >&2; fail "vishwa-shard host$i did not start"; }
        code=$("$BIN/vishwa-shard" invite --dir "$dir" --address "$address")
        VISHWA_HOME="$VISHWA_HOME_DIR" "$BIN/vishwa" host add "$code" --name "host$i" > /dev/null
    done
    log "vishwafs: $VISHWA_HOSTS vishwa-shard hosts on 127.0.0.1 paired with a throwaway vault"
    mount_vishwafs
}
mount_vishwafs() {
    local err="$WORK/vishwafs.log"
    # -f: stay in the foreground (logging to $err), so the pid we start is the daemon whose RSS we
    # read; wait_mounted still finds the daemon should it fork. auto_unmount: a crash of vishwafs
    # leaves no dead mount behind.
    start_bg "$WORK/vishwafs.out" "$err" env VISHWA_HOME="$VISHWA_HOME_DIR" \
        "$BIN/vishwafs" "${MNT[vishwafs]}" --home "$VISHWA_HOME_DIR" -f -o auto_unmount \
        ${VISHWAFS_OPTS:+-o "$VISHWAFS_OPTS"}
    MOUNTS+=("${MNT[vishwafs]}|fuse")
    # 60 s: the mount opens the vault and reaches the hosts before it answers.
    wait_mounted "${MNT[vishwafs]}" "$LAST_PID" "$err" "$BIN/vishwafs" 60
    DAEMON[vishwafs]=$LAST_PID
}
unmount_vishwafs() { unmount_fuse vishwafs; }
teardown_vishwafs() {
    unmount_vishwafs
    local pid
    for pid in "${VISHWA_HOST_PIDS[@]:-}"; do [ -n "$pid" ] && stop_pid "$pid"; done
    VISHWA_HOST_PIDS=()
}

is_fuse() { [ "$1" != tmpfs ]; }

# Cold start for a read phase: a fresh FUSE daemon (its own caches gone, the kernel's cache of
# the mount's pages with it) and the kernel's page, dentry and inode caches dropped.
cold() {
    local t=$1
    if is_fuse "$t"; then "unmount_$t"; drop_caches; "mount_$t"; else drop_caches; fi
}

# ---------------------------------------------------------------------------------------------
# Measurements.

record() {   # record TARGET RUN METRIC VALUE
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$RESULTS"
    printf '  %-12s run %s/%s  %-20s %s\n' "$1" "$2" "$RUNS" "$3" "$4"
}
seconds_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }
mib_per_s() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", n / 1048576 / s }'; }

run_workload() {
    local t=$1 run=$2 mnt=${MNT[$1]} t0 t1 out p50 p99 rate lines
    PEAK_KB[$t]=0
    CURRENT="$t run $run: cold start"
    cold "$t"   # each run starts from a fresh daemon, so its peak RSS is this run's alone

    CURRENT="$t run $run: write"
    cat "$SRC" > /dev/null   # the source in the page cache: time the mount, not /var/tmp's disk
    t0=$EPOCHREALTIME
    dd if="$SRC" of="$mnt/f" bs=1M conv=fsync status=none
    t1=$EPOCHREALTIME
    record "$t" "$run" write_mibps "$(mib_per_s "$SIZE" "$(seconds_between "$t0" "$t1")")"

    CURRENT="$t run $run: sequential read"
    cold "$t"
    t0=$EPOCHREALTIME
    dd if="$mnt/f" of=/dev/null bs=1M status=none
    t1=$EPOCHREALTIME
    record "$t" "$run" seqread_mibps "$(mib_per_s "$SIZE" "$(seconds_between "$t0" "$t1")")"

    # The offsets are seeded by the run number: every target reads the same offsets.
    CURRENT="$t run $run: random 4 KiB reads"
    cold "$t"
    out=$(python3 "$HELPER" randread "$mnt/f" "$SIZE" 4096 "$RAND4K_COUNT" "$run")
    read -r p50 p99 <<< "$out"
    record "$t" "$run" rand4k_p50_ms "$p50"
    record "$t" "$run" rand4k_p99_ms "$p99"

    CURRENT="$t run $run: random 1 MiB reads"
    cold "$t"
    out=$(python3 "$HELPER" randread "$mnt/f" "$SIZE" 1048576 "$RAND1M_COUNT" "$run")
    read -r p50 p99 <<< "$out"
    record "$t" "$run" rand1m_p50_ms "$p50"

    # A benchmark of a filesystem that returns the wrong bytes means nothing: check once.
    if [ "$run" -eq 1 ]; then
        CURRENT="$t: checking the file read back equals the source"
        cmp -s "$SRC" "$mnt/f" || fail "$t: the file read back differs from the one written"
    fi

    CURRENT="$t run $run: creating $FILES files"
    mkdir "$mnt/many"
    rate=$(python3 "$HELPER" create "$mnt/many" "$FILES")
    record "$t" "$run" create_files_per_s "$rate"

    CURRENT="$t run $run: ls -l of $FILES entries"
    cold "$t"
    t0=$EPOCHREALTIME
    ls -l "$mnt/many" > "$WORK/ls.out"
    t1=$EPOCHREALTIME
    lines=$(wc -l < "$WORK/ls.out")
    [ "$lines" -eq $((FILES + 1)) ] || fail "$t: ls -l listed $((lines - 1)) entries, not $FILES"
    record "$t" "$run" ls_10k_s "$(seconds_between "$t0" "$t1")"

    CURRENT="$t run $run: removing $FILES files"
    rate=$(python3 "$HELPER" unlink "$mnt/many" "$FILES")
    record "$t" "$run" unlink_files_per_s "$rate"
    rmdir "$mnt/many"
    rm -f "$mnt/f"

    if is_fuse "$t"; then
        sample_rss "$t"
        record "$t" "$run" peak_rss_mib "$(awk -v k="${PEAK_KB[$t]}" 'BEGIN { printf "%.1f", k / 1024 }')"
    fi
}

# ---------------------------------------------------------------------------------------------
# The Python side: timing loops that bash cannot do finely, and the report.
write_helper() {
    cat > "$HELPER" <<'PY'
import json, os, random, statistics, sys, time

def percentile(values, p):
    """Nearest-rank percentile of a list (p in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * p // 100)))
    return ordered[int(rank) - 1]

def randread(path, size, block, count, seed):
    # Offsets aligned to 4 KiB (as an application's page-sized reads are); the same seed gives
    # every target the same offsets. Each pread must return the whole block.
    rng = random.Random(seed)
    slots = (size - block) // 4096
    fd = os.open(path, os.O_RDONLY)
    times = []
    try:
        for _ in range(count):
            offset = rng.randint(0, slots) * 4096
            start = time.perf_counter_ns()
            data = os.pread(fd, block, offset)
            times.append((time.perf_counter_ns() - start) / 1e6)
            if len(data) != block:
                sys.exit(f"short read: {len(data)} bytes at {offset}")
    finally:
        os.close(fd)
    print(f"{percentile(times, 50):.3f} {percentile(times, 99):.3f}")

def create(folder, n):
    start = time.perf_counter()
    for i in range(n):
        os.close(os.open(os.path.join(folder, f"f{i:05d}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    print(f"{n / (time.perf_counter() - start):.0f}")

def unlink(folder, n):
    start = time.perf_counter()
    for i in range(n):
        os.unlink(os.path.join(folder, f"f{i:05d}"))
    print(f"{n / (time.perf_counter() - start):.0f}")

# key, label, unit, True if higher is better, FUSE daemons only
METRICS = [
    ("write_mibps", "write (dd conv=fsync)", "MiB/s", True),
    ("seqread_mibps", "sequential read, cold", "MiB/s", True),
    ("rand4k_p50_ms", "4 KiB random read p50", "ms", False),
    ("rand4k_p99_ms", "4 KiB random read p99", "ms", False),
    ("rand1m_p50_ms", "1 MiB random read p50", "ms", False),
    ("ls_10k_s", "ls -l 10k entries, cold", "s", False),
    ("create_files_per_s", "create empty files", "files/s", True),
    ("unlink_files_per_s", "remove files", "files/s", True),
    ("peak_rss_mib", "daemon peak RSS (VmHWM)", "MiB", False),
]

def fmt(v):
    if v is None:
        return "-"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}" if v >= 0.01 else f"{v:.2g}"

def report(results, base, size, runs, json_out, targets):
    targets = targets.split()
    samples = {}
    with open(results) as f:
        for line in f:
            t, run, metric, value = line.rstrip("\n").split("\t")
            samples.setdefault(t, {}).setdefault(metric, []).append(float(value))
    med = {t: {m: statistics.median(v) for m, v in ms.items()} for t, ms in samples.items()}
    shown = [t for t in targets if t in med]
    others = [t for t in shown if t != base]
    have_base = base in med
    ratio_cols = [f"{base}/{t}" for t in others] if have_base else []

    header = ["metric", "unit"] + [t if t in med else f"{t}*" for t in targets] + ratio_cols
    rows = []
    for key, label, unit, higher in METRICS:
        row = [label, unit + (" ^" if higher else " v")]
        row += [fmt(med.get(t, {}).get(key)) for t in targets]
        for t in others if have_base else []:
            b, o = med[base].get(key), med[t].get(key)
            row.append(f"{b / o:.2f}x" if b is not None and o else "-")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    line = lambda r: "  ".join(c.ljust(widths[i]) if i < 2 else c.rjust(widths[i]) for i, c in enumerate(r))
    print()
    print(f"Medians of {runs} run(s), file size {int(size) // 1048576} MiB "
          "(^ higher is better, v lower is better):")
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))
    missing = [t for t in targets if t not in med]
    if missing:
        print(f"* not measured: {', '.join(missing)}")
    if not have_base:
        print(f"No {base} figures, so no ratios (ratios are {base} / each other target).")
    if json_out:
        doc = {
            "size_bytes": int(size), "runs": int(runs), "base": base,
            "host": {"kernel": os.uname().release, "cpus": os.cpu_count()},
            "metrics": {k: {"label": l, "unit": u, "higher_is_better": h} for k, l, u, h in METRICS},
            "targets": {t: {m: {"median": med[t][m], "samples": samples[t][m]} for m in samples[t]}
                        for t in shown},
            "not_measured": missing,
            "ratios": {t: {m: med[base][m] / med[t][m] for m in med[base] if med[t].get(m)}
                       for t in others} if have_base else {},
        }
        with open(json_out, "w") as f:
            json.dump(doc, f, indent=2, sort_keys=True)
            f.write("\n")
        print(f"Figures written to {json_out}")

if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "randread":
        randread(args[0], int(args[1]), int(args[2]), int(args[3]), int(args[4]))
    elif cmd == "create":
        create(args[0], int(args[1]))
    elif cmd == "unlink":
        unlink(args[0], int(args[1]))
    elif cmd == "report":
        report(*args)
    else:
        sys.exit(f"unknown command {cmd}")
PY
}

# ---------------------------------------------------------------------------------------------
main() {
    WORK=$(mktemp -d /var/tmp/vishwa-bench.XXXXXX)
    RESULTS="$WORK/results.tsv"
    APT_LOG="$WORK/apt.log"
    ensure_command python3 python3
    HELPER="$WORK/bench_helper.py"
    : > "$RESULTS"
    write_helper

    local t run
    log "targets: ${TARGETS[*]}; file $((SIZE / 1048576)) MiB; $RUNS run(s); work folder $WORK"
    log "kernel $(uname -r), $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"

    CURRENT="generating the source file"
    SRC="$WORK/source.bin"
    head -c "$SIZE" /dev/urandom > "$SRC"

    for t in "${TARGETS[@]}"; do
        if [ "$t" = vishwafs ] && ! vishwafs_available; then
            log "vishwafs: SKIPPED: $BIN/vishwafs (with vishwa and vishwa-shard) not built yet; build with 'swift build -c release'"
            continue
        fi
        CURRENT="setting up $t"
        log "$t: setting up"
        "setup_$t"
        for run in $(seq 1 "$RUNS"); do run_workload "$t" "$run"; done
        CURRENT="tearing down $t"
        "teardown_$t"
    done

    CURRENT="reporting"
    python3 "$HELPER" report "$RESULTS" "$BASE" "$SIZE" "$RUNS" "$JSON_OUT" "${TARGETS[*]}"
}

main

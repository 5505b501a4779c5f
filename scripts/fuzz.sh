#!/usr/bin/env bash
# Builds the libFuzzer targets of Fuzz/ (release, -sanitize=fuzzer,address) and runs each for
# SECONDS (default 60), one after the other, then prints a summary. scripts/test.sh runs it with
# a short time per target (VISHWA_FUZZ_SECONDS).
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]      (default: every target in ALL_TARGETS below)
#
# Corpus:  Fuzz/corpus/<target>/ (seed-* committed, what libFuzzer adds is git-ignored).
# Crashes: a new crash, timeout or leak input is copied to Fuzz/crashes/<target>/; the script
#          then exits 1. Inputs already in Fuzz/crashes/ (known bugs, Fuzz/README.md) are replayed
#          first with FUZZ_KNOWN_BUGS=crash, to say whether each still reproduces.
# Logs:    Fuzz/.build/fuzz-logs/<target>.log
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
export PATH="/opt/swift/usr/bin:$PATH"

SECONDS_PER_TARGET=${1:-60}
shift || true
TARGETS=("$@")
ALL_TARGETS=(FuzzFrames FuzzHandshake FuzzPairingCode FuzzSecureFrames FuzzShardCodec FuzzBackupBlob FuzzVaultKey
             FuzzHostRegistry)
if [ "${#TARGETS[@]}" -eq 0 ]; then TARGETS=("${ALL_TARGETS[@]}"); fi
case "$SECONDS_PER_TARGET" in ''|*[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2; exit 2 ;; esac

log() { echo "fuzz.sh: $*"; }

# The fuzz package compiles the main package's modules itself: their dependency lists must match.
if ! python3 Fuzz/check-dependencies.py; then
    log "Fuzz/Package.swift is out of step with Package.swift (see above)"
    exit 1
fi

# -sanitize=fuzzer adds libFuzzer's coverage instrumentation (and links libFuzzer), address adds
# ASan; both apply to every module of the fuzz package, ours and swift-nio's alike.
BUILD=(swift build --package-path Fuzz -c release -Xswiftc -sanitize=fuzzer,address)
LOGS="$ROOT/Fuzz/.build/fuzz-logs"
mkdir -p "$LOGS"
log "building: ${BUILD[*]}"
if ! "${BUILD[@]}" >"$LOGS/build.log" 2>&1; then
    cat "$LOGS/build.log"
    log "build failed"
    exit 1
fi
BIN=$("${BUILD[@]}" --show-bin-path)

# Targets that read files (the vault key, the host registry) write them under $TMPDIR: a scratch
# directory in memory when there is one (the registry fsyncs every write), removed at exit even
# when a target crashed and left its files.
SCRATCH=$(mktemp -d /dev/shm/vishwa-fuzz.XXXXXX 2>/dev/null || mktemp -d /tmp/vishwa-fuzz.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT
export TMPDIR="$SCRATCH"

# libFuzzer and ASan print the crashing stack; Swift's own backtracer would also try to, and can
# sit waiting for the process libFuzzer is tearing down.
export SWIFT_BACKTRACE=enable=no

replay_known() {
    local target=$1 input
    for input in "$ROOT/Fuzz/crashes/$target"/*; do
        [ -f "$input" ] || continue
        if FUZZ_KNOWN_BUGS=crash "$BIN/$target" -runs=1 "$input" >"$LOGS/$target.replay.log" 2>&1; then
            log "$target: known crash $(basename "$input") does not reproduce (fixed? see Fuzz/README.md)"
        else
            log "$target: known crash $(basename "$input") still reproduces: $(grep -m1 -o 'Fatal error: .*' "$LOGS/$target.replay.log" | cut -c1-160)"
        fi
    done
}

# A value from libFuzzer's -print_final_stats block ("stat::NAME:   VALUE"), or "?".
final_stat() {
    awk -v key="stat::$1:" '$1 == key { print $2; found = 1 } END { if (!found) print "?" }' "$2"
}

summary=()
found=0
for target in "${TARGETS[@]}"; do
    [ -x "$BIN/$target" ] || { log "no such target: $target"; exit 2; }
    replay_known "$target"
    corpus="$ROOT/Fuzz/corpus/$target"
    artifacts="$ROOT/Fuzz/.build/fuzz-artifacts/$target"
    mkdir -p "$corpus" "$artifacts"
    rm -f "$artifacts"/*
    log "running $target for ${SECONDS_PER_TARGET}s (corpus $(find "$corpus" -type f | wc -l) inputs)"
    status=0
    # A single allocation over 1 GiB is a finding: no parser may size memory from a claim that big.
    "$BIN/$target" "$corpus" -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 \
        -timeout=10 -rss_limit_mb=3072 -malloc_limit_mb=1024 -artifact_prefix="$artifacts/" \
        >"$LOGS/$target.log" 2>&1 || status=$?

    execs=$(final_stat number_of_executed_units "$LOGS/$target.log")
    rate=$(final_stat average_exec_per_sec "$LOGS/$target.log")
    # The last status line: "#N  DONE|pulse|NEW ... cov: C ft: F corp: K/S ...".
    last=$(grep -E '^#[0-9]+' "$LOGS/$target.log" | tail -1 || true)
    cov=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*' || echo "?")
    ft=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*' || echo "?")
    corp=$(echo "$last" | grep -o 'corp: [0-9]*' | grep -o '[0-9]*' || echo "?")
    crashes=0
    for artifact in "$artifacts"/*; do
        [ -f "$artifact" ] || continue
        crashes=$((crashes + 1))
        mkdir -p "$ROOT/Fuzz/crashes/$target"
        cp "$artifact" "$ROOT/Fuzz/crashes/$target/"
        log "$target: NEW $(basename "$artifact") -> Fuzz/crashes/$target/ ($(grep -m1 -oE 'Fatal error: .*|ERROR: [A-Za-z]+: [^ ]+.*' "$LOGS/$target.log" | cut -c1-160))"
    done
    if [ "$crashes" -gt 0 ] || [ "$status" -ne 0 ]; then
        found=1
        # The stack, for a CI log that keeps only what is printed.
        log "$target: end of its log:"
        tail -n 60 "$LOGS/$target.log" | sed 's/^/    /'
    fi
    summary+=("$(printf '%-16s %12s %10s %7s %7s %7s %8s %6s' "$target" "$execs" "$rate" "$cov" "$ft" "$corp" "$crashes" "$status")")
done

echo
printf '%-16s %12s %10s %7s %7s %7s %8s %6s\n' target execs "execs/s" cov ft corpus crashes exit
printf '%s\n' "${summary[@]}"
echo "(${SECONDS_PER_TARGET}s per target; logs in Fuzz/.build/fuzz-logs/)"
exit "$found"

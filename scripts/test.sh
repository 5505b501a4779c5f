#!/usr/bin/env bash
# The one test command: installs system packages, builds everything (warnings are errors in our
# own targets, see Package.swift), runs every test, and fails if a test leaves a daemon behind;
# then runs each libFuzzer target of Fuzz/ briefly and fails if one finds a crash.
# Usage: scripts/test.sh [extra swift test arguments, e.g. --filter CodecTests]
# VISHWA_FUZZ_SECONDS: seconds per fuzz target (default 20; 0 skips fuzzing).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
export PATH="/opt/swift/usr/bin:$PATH"

log() { echo "test.sh: $*"; }

bash scripts/bootstrap.sh --test
# The interoperability tests drive our Noise transport with an independent implementation.
python3 -m pip install --quiet --disable-pip-version-check noiseprotocol 2>/dev/null \
    || log "could not install noiseprotocol from PyPI; the interop tests will say so"

# Processes a test run starts are children of the test binary, which lives in this build folder;
# anything of ours still running from an earlier, killed run is stopped first.
sweep() {
    local pids
    pids=$(pgrep -f "$ROOT/.build/.*/(VishwarupaPackageTests.xctest|vishwa-shard|vishwafs|vishwa) " || true)
    if [ -n "$pids" ]; then
        log "stopping leftovers from an earlier run: $pids"
        kill $pids 2>/dev/null || true
        sleep 1
        kill -9 $pids 2>/dev/null || true
    fi
}
# Mounts a killed run left behind, only under our own test prefix (other FUSE mounts may exist).
# A mount whose daemon hangs is aborted through fusectl first, so unmounting cannot block.
sweep_mounts() {
    local point minor
    mountpoint -q /sys/fs/fuse/connections 2>/dev/null || mount -t fusectl none /sys/fs/fuse/connections 2>/dev/null || true
    while read -r minor point; do
        case "$point" in /tmp/vishwa-*) ;; *) continue ;; esac
        log "unmounting leftover $point"
        [ -w "/sys/fs/fuse/connections/$minor/abort" ] && echo 1 > "/sys/fs/fuse/connections/$minor/abort" || true
        fusermount3 -u -z "$point" 2>/dev/null || umount -l "$point" 2>/dev/null || true
    done < <(awk '$9 == "fuse.vishwafs" { split($3, dev, ":"); print dev[2], $5 }' /proc/self/mountinfo)
}
sweep
sweep_mounts

log "building (debug, with tests)"
swift build --build-tests

log "running tests"
TIMEOUT=${VISHWA_TEST_TIMEOUT:-1500}
status=0
timeout --signal=TERM "$TIMEOUT" swift test --skip-build "$@" || status=$?
if [ "$status" -eq 124 ]; then
    log "tests did not finish within ${TIMEOUT}s"
fi
# `timeout` stops `swift test` but not its .xctest child.
sweep
sweep_mounts

# The Debian package: built with a static Swift runtime, unpacked into a scratch root, run there.
if [ "$status" -eq 0 ]; then
    log "building and testing the .deb"
    { bash scripts/package.sh && bash scripts/test-package.sh; } || status=1
fi

leftover=$(pgrep -f "$ROOT/.build/.*/(vishwa-shard|vishwafs) " || true)
if [ -n "$leftover" ]; then
    log "a test left processes running: $leftover"
    status=1
fi

# The fuzz targets (Fuzz/README.md), a short run each: libFuzzer comes with the Swift toolchain
# (-sanitize=fuzzer links its clang runtime), so nothing is downloaded for it.
FUZZ_SECONDS=${VISHWA_FUZZ_SECONDS:-20}
case "$FUZZ_SECONDS" in ''|*[!0-9]*) log "VISHWA_FUZZ_SECONDS must be a whole number of seconds"; exit 2 ;; esac
if [ "$FUZZ_SECONDS" -gt 0 ]; then
    log "fuzzing each target for ${FUZZ_SECONDS}s"
    bash scripts/fuzz.sh "$FUZZ_SECONDS" || { log "a fuzz target found a crash or failed to build (see above)"; status=1; }
fi
if [ "$status" -eq 0 ]; then log "all tests passed"; else log "FAILED (status $status)"; fi
exit "$status"

#!/usr/bin/env bash
# Installs the .deb from scripts/package.sh into a scratch root (dpkg -x, no system changes) and
# runs the packaged binaries end to end: two hosts on 127.0.0.1, a vault, pairing, a file stored
# and read back. Stops what it started by pid and removes the scratch root.
set -euo pipefail
cd "$(dirname "$0")/.."
DEB=$(ls -t dist/vishwarupa_*_amd64.deb | head -1)
SCRATCH=$(mktemp -d /tmp/vishwa-package-test-XXXXXX)
PIDS=()
MOUNTED=""
cleanup() {
    if [ -n "$MOUNTED" ]; then fusermount3 -u -z "$MOUNTED" 2>/dev/null || true; sleep 1; fi
    for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
    rm -rf "$SCRATCH"
}
trap cleanup EXIT
fail() { echo "test-package: FAILED: $*" >&2; exit 1; }

# Whole outputs are captured before grep: with pipefail, `grep -q` quitting early would SIGPIPE the
# writer and fail the pipeline even on a match.
control=$(dpkg-deb --info "$DEB")
grep -q "Package: vishwarupa" <<< "$control" || fail "control file"
dpkg -x "$DEB" "$SCRATCH/root"
BIN="$SCRATCH/root/usr/bin"
[ -f "$SCRATCH/root/usr/lib/systemd/system/vishwa-shard@.service" ] || fail "systemd unit missing"
[ -f "$SCRATCH/root/usr/lib/systemd/user/vishwafs.service" ] || fail "mount user unit missing"
[ -f "$SCRATCH/root/usr/share/doc/vishwarupa/fstab.example" ] || fail "fstab example missing"
grep -q "vishwa upload" "$SCRATCH/root/usr/share/doc/vishwarupa/vishwa.txt" || fail "help text missing"
# The binaries must not need a Swift toolchain.
libraries=$(ldd "$BIN/vishwa")
if grep -q swift <<< "$libraries"; then fail "vishwa links the Swift runtime dynamically"; fi

export VISHWA_HOME="$SCRATCH/home"
"$BIN/vishwa" init --no-passphrase > /dev/null
for i in 1 2; do
    "$BIN/vishwa-shard" init --dir "$SCRATCH/h$i" --listen 127.0.0.1:0 --reserve 0 > /dev/null
    "$BIN/vishwa-shard" serve --dir "$SCRATCH/h$i" > "$SCRATCH/h$i.out" 2> "$SCRATCH/h$i.log" &
    PIDS+=($!)
    for _ in $(seq 100); do grep -q "listening on" "$SCRATCH/h$i.out" 2> /dev/null && break; sleep 0.1; done
    address=$(sed 's/listening on //' "$SCRATCH/h$i.out")
    [ -n "$address" ] || fail "host $i did not start"
    "$BIN/vishwa" host add "$("$BIN/vishwa-shard" invite --dir "$SCRATCH/h$i" --address "$address")" > /dev/null
done
head -c 5000000 /dev/urandom > "$SCRATCH/input"
"$BIN/vishwa" upload "$SCRATCH/input" --folder pkg 2> /dev/null > /dev/null
"$BIN/vishwa" download /pkg/input "$SCRATCH/output" > /dev/null 2>&1
cmp -s "$SCRATCH/input" "$SCRATCH/output" || fail "downloaded bytes differ"

# The packaged mount, started as mount(8) starts it (through the mount.fuse.vishwafs helper name).
[ "$(readlink "$SCRATCH/root/usr/sbin/mount.fuse.vishwafs")" = ../bin/vishwafs ] || fail "mount helper missing"
mkdir "$SCRATCH/mnt"
"$SCRATCH/root/usr/sbin/mount.fuse.vishwafs" "$VISHWA_HOME" "$SCRATCH/mnt" -o auto_unmount,_netdev,nofail \
    || fail "mount helper did not mount"
MOUNTED="$SCRATCH/mnt"
mountpoint -q "$SCRATCH/mnt" || fail "not mounted"
cmp -s "$SCRATCH/input" "$SCRATCH/mnt/pkg/input" || fail "file read through the mount differs"
cp "$SCRATCH/input" "$SCRATCH/mnt/copy"
fusermount3 -u "$SCRATCH/mnt"
MOUNTED=""
"$BIN/vishwa" download /copy "$SCRATCH/copy" > /dev/null 2>&1
cmp -s "$SCRATCH/input" "$SCRATCH/copy" || fail "file written through the mount differs"
echo "test-package: $DEB installs into a scratch root; its binaries store and read back a file, also through the mount"

#!/usr/bin/env bash
# Builds dist/vishwarupa_VERSION_amd64.deb: the release binaries (Swift runtime linked statically,
# so the target machine needs no Swift), the systemd unit, and each command's --help as text docs.
# Usage: scripts/package.sh [VERSION]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export PATH="/opt/swift/usr/bin:$PATH"
VERSION=${1:-0.1.0}
BUILD="$ROOT/.build-package"

echo "package: building release binaries (static Swift runtime)"
swift build -c release --static-swift-stdlib --scratch-path "$BUILD" --product vishwa
swift build -c release --static-swift-stdlib --scratch-path "$BUILD" --product vishwa-shard
swift build -c release --static-swift-stdlib --scratch-path "$BUILD" --product vishwafs

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
install -d "$STAGE/DEBIAN" "$STAGE/usr/bin" "$STAGE/usr/sbin" "$STAGE/usr/lib/systemd/system" "$STAGE/usr/lib/systemd/user" \
    "$STAGE/usr/share/doc/vishwarupa"
install -m 755 "$BUILD/release/vishwa" "$BUILD/release/vishwa-shard" "$BUILD/release/vishwafs" "$STAGE/usr/bin/"
# mount(8) helpers: `mount -t vishwafs` runs mount.vishwafs, an fstab type fuse.vishwafs runs
# mount.fuse.vishwafs; both call vishwafs as SOURCE MOUNTPOINT -o OPTIONS.
ln -s ../bin/vishwafs "$STAGE/usr/sbin/mount.vishwafs"
ln -s ../bin/vishwafs "$STAGE/usr/sbin/mount.fuse.vishwafs"
install -m 644 packaging/fstab.example "$STAGE/usr/share/doc/vishwarupa/"
install -m 644 packaging/systemd/vishwa-shard@.service "$STAGE/usr/lib/systemd/system/"
install -m 644 packaging/systemd/user/vishwafs.service "$STAGE/usr/lib/systemd/user/"
install -m 644 README.md docs/format.md docs/wire.md "$STAGE/usr/share/doc/vishwarupa/"
# Man-style help: every command's --help, one text file per program.
for program in vishwa vishwa-shard; do
    {
        "$BUILD/release/$program" --help
        for sub in $("$BUILD/release/$program" --help | awk '/^SUBCOMMANDS:/{on=1;next} on && NF {print $1}'); do
            echo; echo "==== $program $sub"; "$BUILD/release/$program" "$sub" --help 2>/dev/null || true
        done
    } > "$STAGE/usr/share/doc/vishwarupa/$program.txt"
done
"$BUILD/release/vishwafs" --help > "$STAGE/usr/share/doc/vishwarupa/vishwafs.txt"
sed "s/@VERSION@/$VERSION/" packaging/debian/control.in > "$STAGE/DEBIAN/control"
install -m 755 packaging/debian/postinst "$STAGE/DEBIAN/postinst"
mkdir -p dist
OUT="dist/vishwarupa_${VERSION}_amd64.deb"
dpkg-deb --root-owner-group --build "$STAGE" "$OUT" >/dev/null
echo "package: $OUT ($(du -h "$OUT" | cut -f1))"

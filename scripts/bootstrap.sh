#!/usr/bin/env bash
# Installs every system package Vishwarupa needs to build, test and run.
# Idempotent: packages already present are left alone. Needs root (or sudo).
set -euo pipefail

PACKAGES=(fuse3 libfuse3-dev libsodium-dev libssl-dev libsqlite3-dev libisal-dev pkg-config attr)
# `--test`: also what the mount tests drive through the mount (scripts/test.sh passes it).
if [ "${1:-}" = "--test" ]; then
    PACKAGES+=(rsync git ffmpeg python3 psmisc)
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "bootstrap: all system packages present (${PACKAGES[*]})"
else
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    echo "bootstrap: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q "${missing[@]}"
fi

if ! command -v swift >/dev/null 2>&1; then
    if [ -x /opt/swift/usr/bin/swift ]; then
        echo "bootstrap: swift is at /opt/swift/usr/bin; add it to PATH"
    else
        echo "bootstrap: swift 6.x is required and was not found on PATH" >&2
        exit 1
    fi
fi
echo "bootstrap: done"

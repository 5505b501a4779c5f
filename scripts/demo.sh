#!/usr/bin/env bash
# The README's first command: installs, builds in release mode, starts 5 vishwa-shard hosts on
# 127.0.0.1 with stores under ./demo/, creates a demo vault, pairs the hosts and mounts the vault
# at ./demo/mnt.
#   scripts/demo.sh        start (idempotent: a running demo is left alone)
#   scripts/demo.sh stop   stop every process it started, by pid
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DEMO="$ROOT/demo"
export PATH="/opt/swift/usr/bin:$PATH"
BIN="$ROOT/.build/release"
HOSTS=5

stop() {
    # The mount first: it commits open files, and needs the hosts for that.
    if mountpoint -q "$DEMO/mnt" 2>/dev/null; then
        fusermount3 -u "$DEMO/mnt" || fusermount3 -u -z "$DEMO/mnt"
        echo "demo: unmounted $DEMO/mnt"
    fi
    if [ -e "$DEMO/pids/vishwafs.pid" ]; then
        pid=$(cat "$DEMO/pids/vishwafs.pid")
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    if [ -d "$DEMO/pids" ]; then
        for pidfile in "$DEMO"/pids/*.pid; do
            [ -e "$pidfile" ] || continue
            pid=$(cat "$pidfile")
            if kill -0 "$pid" 2>/dev/null; then
                kill "$pid" 2>/dev/null || true
                for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
                kill -9 "$pid" 2>/dev/null || true
                echo "demo: stopped $(basename "$pidfile" .pid) (pid $pid)"
            fi
            rm -f "$pidfile"
        done
    fi
}

if [ "${1:-}" = "stop" ]; then
    stop
    echo "demo: everything stopped; the data stays in $DEMO (remove it to start over)"
    exit 0
fi

bash scripts/bootstrap.sh
echo "demo: building (release; the first build takes a few minutes)"
swift build -c release --product vishwa
swift build -c release --product vishwa-shard
swift build -c release --product vishwafs

mkdir -p "$DEMO/pids"
export VISHWA_HOME="$DEMO/home"
if [ ! -e "$VISHWA_HOME/vault.key" ]; then
    echo "demo: creating a vault WITHOUT a passphrase (demo only: the key file $VISHWA_HOME/vault.key is unprotected)"
    "$BIN/vishwa" init --no-passphrase > "$DEMO/init.txt"
    cat "$DEMO/init.txt"
fi

for i in $(seq 1 $HOSTS); do
    dir="$DEMO/host$i"
    pidfile="$DEMO/pids/host$i.pid"
    if [ -e "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then continue; fi
    port=$((7420 + i))
    [ -e "$dir/host.key" ] || "$BIN/vishwa-shard" init --dir "$dir" --listen "127.0.0.1:$port" > /dev/null
    "$BIN/vishwa-shard" serve --dir "$dir" < /dev/null > "$dir.out" 2> "$dir.log" &
    echo $! > "$pidfile"
    for _ in $(seq 100); do grep -q "listening on" "$dir.out" 2>/dev/null && break; sleep 0.1; done
    grep -q "listening on" "$dir.out" || { echo "demo: host$i did not start; see $dir.log" >&2; exit 1; }
    if [ ! -e "$DEMO/host$i.paired" ]; then
        "$BIN/vishwa" host add "$("$BIN/vishwa-shard" invite --dir "$dir" --address "127.0.0.1:$port")" --name "host$i"
        touch "$DEMO/host$i.paired"
    fi
    echo "demo: host$i serving on 127.0.0.1:$port (pid $(cat "$pidfile"))"
done

mkdir -p "$DEMO/mnt"
if mountpoint -q "$DEMO/mnt"; then
    echo "demo: $DEMO/mnt is already mounted"
else
    # -f keeps vishwafs a child we can stop by pid; auto_unmount cleans up if it is killed. Its
    # output goes to files, so that `demo.sh | tee` ends when the script does.
    "$BIN/vishwafs" "$DEMO/mnt" --home "$VISHWA_HOME" -f -o auto_unmount > /dev/null 2> "$DEMO/vishwafs.log" &
    echo $! > "$DEMO/pids/vishwafs.pid"
    for _ in $(seq 200); do mountpoint -q "$DEMO/mnt" && break; sleep 0.05; done
    mountpoint -q "$DEMO/mnt" || { echo "demo: the mount did not come up; see $DEMO/vishwafs.log" >&2; exit 1; }
    echo "demo: vault mounted at $DEMO/mnt (pid $(cat "$DEMO/pids/vishwafs.pid"), log $DEMO/vishwafs.log)"
fi

cat <<TXT

Vishwarupa demo is running: $HOSTS hosts on 127.0.0.1:7421-$((7420 + HOSTS)), vault in $VISHWA_HOME,
mounted at $DEMO/mnt. Every file put there is cut into 4 MiB chunks, each coded into 6+4 encrypted
shards spread over the hosts; any 6 shards of 10 rebuild a chunk.

Try, in this shell:
  export VISHWA_HOME=$VISHWA_HOME PATH=$BIN:\$PATH
  cp -a /usr/share/doc/bash $DEMO/mnt/ && ls -l $DEMO/mnt/bash
  getfattr -n user.vishwa.health $DEMO/mnt/bash/*      # shards per chunk, host losses tolerated
  getfattr -n user.vishwa.placement $DEMO/mnt/bash/*   # which host holds what
  setfattr -n user.vishwa.tags -v docs,demo $DEMO/mnt/bash/* && vishwa list --tag demo
  cp ~/Videos/clip.mp4 $DEMO/mnt/ && mpv $DEMO/mnt/clip.mp4   # a video plays and seeks from the mount
  vishwa devices                                      # the hosts, online, capacity
  kill \$(cat $DEMO/pids/host1.pid) \$(cat $DEMO/pids/host2.pid)   # lose two hosts...
  cat $DEMO/mnt/bash/* > /dev/null && echo still readable   # ...files still read
  vishwa fsck; vishwa status; vishwa log

The command line works beside the mount: vishwa upload FILE --folder F --tags a,b shows up in
$DEMO/mnt/F with those tags.

Stop everything (unmounts first): scripts/demo.sh stop
TXT

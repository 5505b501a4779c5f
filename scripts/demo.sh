#!/usr/bin/env bash
# The README's first command: installs, builds in release mode, starts 5 vishwa-shard hosts on
# 127.0.0.1 with stores under ./demo/, creates a demo vault and pairs the hosts.
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
    "$BIN/vishwa-shard" serve --dir "$dir" > "$dir.out" 2> "$dir.log" &
    echo $! > "$pidfile"
    for _ in $(seq 100); do grep -q "listening on" "$dir.out" 2>/dev/null && break; sleep 0.1; done
    grep -q "listening on" "$dir.out" || { echo "demo: host$i did not start; see $dir.log" >&2; exit 1; }
    if [ ! -e "$DEMO/host$i.paired" ]; then
        "$BIN/vishwa" host add "$("$BIN/vishwa-shard" invite --dir "$dir" --address "127.0.0.1:$port")" --name "host$i"
        touch "$DEMO/host$i.paired"
    fi
    echo "demo: host$i serving on 127.0.0.1:$port (pid $(cat "$pidfile"))"
done

cat <<TXT

Vishwarupa demo is running: $HOSTS hosts on 127.0.0.1:7421-$((7420 + HOSTS)), vault in $VISHWA_HOME.
(The vishwafs mount is not built yet; everything below works through the command line.)

Try, in this shell:
  export VISHWA_HOME=$VISHWA_HOME PATH=$BIN:\$PATH
  vishwa devices                                  # the hosts, online, capacity
  vishwa upload /etc/services --folder etc --tags demo
  vishwa list; vishwa verify
  vishwa download /etc/services /tmp/services.copy && cmp /etc/services /tmp/services.copy
  kill \$(cat $DEMO/pids/host1.pid) \$(cat $DEMO/pids/host2.pid)   # lose two hosts...
  vishwa download /etc/services /tmp/again --force   # ...the file still reads
  vishwa status; vishwa log
  vishwa bench codec; vishwa bench transport

Stop everything: scripts/demo.sh stop
TXT

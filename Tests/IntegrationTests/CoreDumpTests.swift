import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// vishwa, vishwafs and vishwa-shard hold keys and plaintext: none may dump core. Each runs as
/// `nobody` (so that the owner of its /proc files shows whether it is dumpable: a process that
/// is not dumpable has them owned by root) and waits where it stands, on a FIFO or serving.
@Suite(.ownThreads) struct CoreDumpTests {
    @Test func noProgramOfOursCanDumpCore() throws {
        try #require(geteuid() == 0, "needs root to run the programs as nobody")
        let scratch = Scratch("dumps")
        let result = try runShell("""
            D="$SCRATCH/d"; mkdir -m 0777 "$D" "$D/mnt"; mkfifo -m 0666 "$D/fifo"
            echo secret > "$D/pass"
            "$BIN/vishwa" init --home "$D/vault" --passphrase-file "$D/pass" > /dev/null
            chown -R 65534:65534 "$D"
            nobody="setpriv --reuid=65534 --regid=65534 --clear-groups"  # a plain command: $! is the program itself
            $nobody "$BIN/vishwa-shard" init --dir "$D/host" --listen 127.0.0.1:0 --reserve 0 > /dev/null
            $nobody "$BIN/vishwa" init --home "$D/other" --passphrase-file "$D/fifo" > /dev/null 2>&1 & cli=$!
            $nobody "$BIN/vishwafs" "$D/mnt" --home "$D/vault" -f --passphrase-file "$D/fifo" > /dev/null 2>&1 & fs=$!
            $nobody "$BIN/vishwa-shard" serve --dir "$D/host" --log-level error > /dev/null 2>&1 & shard=$!
            trap 'kill -9 $cli $fs $shard 2> /dev/null || true' EXIT
            status=0
            for pair in "vishwa:$cli" "vishwafs:$fs" "vishwa-shard:$shard"; do
                name=${pair%%:*}; pid=${pair#*:}
                # Until the program has started (exec done: its own name in /proc), at most 20 s.
                for i in $(seq 400); do [ "$(cat /proc/$pid/comm 2>/dev/null)" = "$name" ] && break; sleep 0.05; done
                sleep 0.5
                limit=$(awk '/Max core file size/ { print $5, $6 }' /proc/$pid/limits)
                owner=$(stat -c %u /proc/$pid/status)
                echo "$name: core limit '$limit', /proc owner $owner"
                [ "$limit" = "0 0" ] && [ "$owner" = 0 ] || status=1
            done
            exit $status
            """, in: scratch.path, environment: ["BIN": binDirectory.path, "SCRATCH": scratch.path])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
    }
}

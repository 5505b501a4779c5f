import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What any local user may send the mount (with `-o allow_other`, any user of the machine):
/// times and offsets at the edges of what the kernel passes on. The daemon refuses what it
/// cannot hold and stays up.
@Suite(.ownThreads, .serialized) struct LocalInputTests {
    @Test func extremeTimesAndOffsetsAreRefusedAndTheDaemonStaysUp() throws {
        let vault = try MountedVault(label: "edges")
        let result = try vault.shell("""
            echo hello > "$MNT/f"
            # Outside 1677..2262 (nanoseconds in an Int64): EINVAL, the file keeps its time.
            before=$(stat -c %Y "$MNT/f")
            for day in 2300-01-01 1600-01-01; do
                if touch -d $day "$MNT/f" 2> err; then echo "touch -d $day succeeded"; exit 1; fi
                grep -q "Invalid argument" err
            done
            [ "$(stat -c %Y "$MNT/f")" = "$before" ]
            # Inside it, before 1970 too, times are kept to the second.
            for day in 2200-01-01 1700-06-15 1969-12-31; do
                touch -d "$day 12:00:00" "$MNT/f"
                [ "$(stat -c %Y "$MNT/f")" = "$(date -d "$day 12:00:00" +%s)" ]
            done
            timeout 120 python3 - "$MNT" <<'PY'
            import errno, os, sys
            mnt = sys.argv[1]
            limit = 1 << 50
            path = os.path.join(mnt, "sparse")
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            for offset in (2**63 - 10, 2**62, limit):
                try:
                    os.pwrite(fd, b"x", offset)
                    sys.exit("pwrite at %d succeeded" % offset)
                except OSError as error:
                    assert error.errno == errno.EFBIG, (offset, error)
            # A write crossing the limit is cut short there.
            assert os.pwrite(fd, b"ab", limit - 1) == 1
            os.pwrite(fd, b"z", 1 << 49)
            os.close(fd)  # the commit: two chunks, however large the hole between them
            for size in (limit + 1, 2**62, 2**63 - 1):
                try:
                    os.truncate(path, size)
                    sys.exit("truncate to %d succeeded" % size)
                except OSError as error:
                    assert error.errno == errno.EFBIG, (size, error)
            fd = os.open(path, os.O_RDONLY)
            assert os.fstat(fd).st_size == limit, os.fstat(fd).st_size
            assert os.pread(fd, 1, 1 << 49) == b"z"
            assert os.pread(fd, 1, limit - 1) == b"a"
            assert os.pread(fd, 65536, 1 << 40) == bytes(65536)
            os.close(fd)
            # Growing to the limit with truncate, then shrinking, walks no hole either.
            os.truncate(os.path.join(mnt, "f"), limit)
            os.truncate(os.path.join(mnt, "f"), 3)
            PY
            [ "$(cat "$MNT/f")" = hel ]
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)\nlog: \(vault.log.suffix(3000))")
        #expect(vault.daemon?.isRunning == true, "the daemon died: \(vault.log.suffix(3000))")
        // Still serving, and what it committed survives a remount.
        try vault.remount()
        let after = try vault.shell("""
            [ "$(stat -c %s "$MNT/sparse")" = \(1 << 50) ]
            python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); assert os.pread(fd, 1, 1 << 49) == b"z"' "$MNT/sparse"
            [ "$(cat "$MNT/f")" = hel ]
            """)
        #expect(after.status == 0, "\(after.stdout)\n\(after.stderr)\nlog: \(vault.log.suffix(3000))")
    }
}

/// `fusermount3 -u M && vishwafs M --home H`, as people remount: the old daemon still finishes
/// (last commits, catalog backup) after the kernel has unmounted, holding the vault's lock.
@Suite(.ownThreads, .serialized) struct RemountTests {
    @Test func remountingAtOnceSucceedsTwentyTimesInARow() throws {
        let vault = try MountedVault(hosts: 3, label: "remount")
        try vault.remount(options: [])  // without auto_unmount from here on (its helper outlives the daemon)
        vault.unmount()
        try vault.mount(autoUnmount: false)
        #expect(try vault.shell("head -c 3000000 /dev/urandom > data; cp data \"$MNT/data\"").status == 0)
        for round in 1...20 {
            let old = vault.daemon
            let unmounted = try vault.shell("fusermount3 -u \"$MNT\"")
            try #require(unmounted.status == 0, "round \(round): \(unmounted.stderr)")
            // Writes something at unmount for the old daemon to finish: the next mount must wait for it.
            do {
                try vault.mount(autoUnmount: false)
            } catch {
                Issue.record("round \(round): \(error)")
                break
            }
            old?.waitUntilExit()
            let checked = try vault.shell("cmp data \"$MNT/data\" && echo \(round) > \"$MNT/round-\(round)\" && [ \"$(ls \"$MNT\" | wc -l)\" = \(round + 1) ]")
            #expect(checked.status == 0, "round \(round): \(checked.stdout)\(checked.stderr)\nlog: \(vault.log.suffix(2000))")
        }
    }
}

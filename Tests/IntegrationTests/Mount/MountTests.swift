import Foundation
import TestSupport
import Testing
import VishwaWire

#if canImport(Glibc)
import Glibc
#endif

/// End-to-end tests through a real mount: ordinary tools against `vishwafs`, with hosts as real
/// processes on 127.0.0.1 (issue 5). Serialized: each starts five hosts and a daemon, and two
/// cores do not gain from running them side by side.
@Suite(.ownThreads, .serialized) struct MountTests {
    /// The POSIX behaviours cp, rsync, git, editors and players rely on (posix_checks.py; it also
    /// passes on tmpfs). Differences by design: names must be UTF-8 (EILSEQ otherwise), and
    /// st_blocks counts a sparse file's holes.
    @Test func posixBehavioursMatchWhatToolsExpect() throws {
        let vault = try MountedVault(label: "posix")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("posix_checks.py").path
        let result = try vault.shell("python3 '\(script)' --utf8-names-only --skip st_blocks_sparse \"$MNT\"")
        let failures = result.stdout.split(separator: "\n").filter { $0.hasPrefix("FAIL") }
        #expect(result.status == 0, "\(failures.joined(separator: "\n"))\n\(result.stderr)\nlog: \(vault.log.suffix(3000))")
        #expect(result.stdout.contains("ok rename_replace_file") && result.stdout.contains("ok unlink_open_file"))
        // A private mount leaves permissions to the daemon; one that lets others in, to the kernel.
        let options = "grep \" $MNT \" /proc/self/mountinfo"
        #expect(try !vault.shell(options).stdout.contains("default_permissions"))
        try vault.remount(options: ["allow_other"])
        #expect(try vault.shell(options).stdout.contains("default_permissions"))
    }

    /// cp, cp -a, rsync -a --checksum, tar x and git inside the mount, compared after a remount
    /// (cold cache), and a 300 MiB file's sha256sum.
    @Test func everydayToolsRoundTripBitExact() throws {
        let vault = try MountedVault(label: "tools")
        let made = try vault.shell("""
            mkdir -p src/a/b src/empty
            head -c 5000000 /dev/urandom > src/a/five-megabytes
            head -c 4194304 /dev/urandom > src/a/b/exactly-one-chunk
            for i in $(seq 1 50); do echo "small file $i" > src/a/b/small-$i.txt; done
            : > src/zero-bytes
            ln -s a/five-megabytes src/link
            chmod 0750 src/a/b; chmod 0600 src/a/b/small-1.txt
            touch -d '2001-02-03 04:05:06.123456789' src/a/five-megabytes
            cp src/a/five-megabytes "$MNT/plain-cp"
            cp -a src "$MNT/cp-a"
            rsync -a --checksum src/ "$MNT/rsync/"
            tar -C src -cf src.tar .
            mkdir "$MNT/tar" && tar -C "$MNT/tar" -xf src.tar
            head -c 314572800 /dev/urandom > big
            cp big "$MNT/big"
            sha256sum big | cut -d' ' -f1 > big.sha
            """)
        #expect(made.status == 0, "\(made.stderr)\nlog: \(vault.log.suffix(3000))")
        try vault.remount()
        let checked = try vault.shell("""
            cmp src/a/five-megabytes "$MNT/plain-cp"
            diff -r --no-dereference src "$MNT/cp-a"
            diff -r --no-dereference src "$MNT/tar"
            diff -r --no-dereference src "$MNT/rsync"
            # cp -a and rsync -a keep modes and nanosecond mtimes; a second rsync finds nothing to do.
            [ "$(stat -c '%a %y' src/a/b src/a/five-megabytes)" = "$(stat -c '%a %y' "$MNT/cp-a/a/b" "$MNT/cp-a/a/five-megabytes")" ]
            [ "$(stat -c '%a %y' src/a/b/small-1.txt)" = "$(stat -c '%a %y' "$MNT/rsync/a/b/small-1.txt")" ]
            [ -z "$(rsync -a --checksum --itemize-changes src/ "$MNT/rsync/")" ]
            [ "$(readlink "$MNT/cp-a/link")" = a/five-megabytes ]
            [ "$(sha256sum "$MNT/big" | cut -d' ' -f1)" = "$(cat big.sha)" ]
            """)
        #expect(checked.status == 0, "\(checked.stdout)\n\(checked.stderr)\nlog: \(vault.log.suffix(3000))")
        let git = try vault.shell("""
            cd "$MNT" && mkdir repo && cd repo
            git init -q . && git config user.email t@example.org && git config user.name Test
            cp -r "$SCRATCH/src/a" code && git add -A && git commit -qm first
            echo change >> code/b/small-2.txt && git commit -qam second
            git fsck --strict 2>&1
            [ "$(git log --oneline | wc -l)" = 2 ]
            git status --porcelain
            """)
        #expect(git.status == 0, "\(git.stdout)\n\(git.stderr)\nlog: \(vault.log.suffix(3000))")
        #expect(git.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "git status after commit: \(git.stdout)")
    }

    /// Files stay readable bit-exact with 2 of 5 hosts gone, and with shard files corrupted on disk.
    @Test func readsSurviveLostHostsAndCorruptShards() throws {
        let vault = try MountedVault(label: "loss")
        let made = try vault.shell("""
            head -c 20000000 /dev/urandom > one && head -c 123457 /dev/urandom > two
            cp one two "$MNT/"
            """)
        #expect(made.status == 0, "\(made.stderr)")
        vault.hosts[1].stop()
        vault.hosts[3].stop()
        try vault.remount()
        // Small reads at random places first (before a sequential read caches whole chunks): each
        // one whose data shard is gone is rebuilt from the same segments of other shards.
        let scattered = try vault.shell("""
            python3 - one "$MNT/one" <<'PY'
            import os, random, sys
            local, mounted = (os.open(p, os.O_RDONLY) for p in sys.argv[1:3])
            rng = random.Random(7)
            for _ in range(120):
                offset = rng.randrange(20000000)
                # Large reads come as several kernel requests, the later ones answered from a span.
                length = rng.choice([1, 4096, 65536, 300000, 1048576, 5000000])
                if os.pread(local, length, offset) != os.pread(mounted, length, offset):
                    sys.exit(f"bytes differ at {offset}+{length}")
            PY
            """)
        #expect(scattered.status == 0, "random reads with 2 hosts down: \(scattered.stderr)\nlog: \(vault.log.suffix(3000))")
        let degraded = try vault.shell("cmp one \"$MNT/one\" && cmp two \"$MNT/two\"")
        #expect(degraded.status == 0, "with 2 hosts down: \(degraded.stderr)\nlog: \(vault.log.suffix(3000))")
        try vault.hosts[1].start()
        try vault.hosts[3].start()
        // Flip a byte in the middle of every shard file on two hosts: 4 of each chunk's 10 shards.
        for host in [vault.hosts[0], vault.hosts[2]] {
            let flipped = try vault.shell("""
                n=0
                for f in $(find '\(host.dir)/store/vaults' -type f); do
                    size=$(stat -c %s "$f"); off=$((size / 2))
                    printf "$(printf '\\\\x%02x' $(( ($(od -An -tu1 -j$off -N1 "$f") + 1) % 256 )))" | dd of="$f" bs=1 seek=$off conv=notrunc status=none
                    n=$((n + 1))
                done
                echo $n
                """)
            #expect(flipped.status == 0 && (Int(flipped.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 0,
                    "\(flipped.stderr)")
        }
        try vault.remount()
        let corrupt = try vault.shell("cmp one \"$MNT/one\" && cmp two \"$MNT/two\"")
        #expect(corrupt.status == 0, "with corrupt shards: \(corrupt.stderr)\nlog: \(vault.log.suffix(3000))")
    }

    /// SIGKILL of vishwafs in the middle of overwriting a file: after remount the file is its
    /// old version or its new one, never a mix; the catalog passes its consistency check; the
    /// mountpoint is usable again without manual cleanup.
    @Test func crashMidWriteLeavesOldOrNewVersion() throws {
        let vault = try MountedVault(label: "crash")
        let made = try vault.shell("""
            head -c 33554432 /dev/urandom > old && head -c 33554432 /dev/urandom > new
            cp old "$MNT/file"
            """)
        #expect(made.status == 0, "\(made.stderr)")
        // A slow writer, one open for the whole overwrite: 1 MiB every 50 ms, so the crash lands
        // after some chunks were sealed and stored, before the close that would commit them.
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        writer.arguments = ["-c", """
            import os, sys, time
            data = open("new", "rb").read()
            fd = os.open(sys.argv[1] + "/file", os.O_WRONLY)
            for i in range(32):
                os.pwrite(fd, data[i << 20:(i + 1) << 20], i << 20)
                time.sleep(0.05)
            os.close(fd)
            """, vault.mountpoint]
        writer.currentDirectoryURL = URL(fileURLWithPath: vault.scratch.path)
        writer.standardError = FileHandle.nullDevice
        try writer.run()
        Thread.sleep(forTimeInterval: 1.0)
        vault.killDaemon()
        writer.waitUntilExit()
        #expect(!vault.isMounted, "auto_unmount left the mount behind")
        // The mountpoint is an ordinary empty folder again.
        let usable = try vault.shell("ls -A \"$MNT\" | wc -l")
        #expect(usable.status == 0 && usable.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "\(usable.stderr)")
        try vault.mount()
        let state = try vault.shell("if cmp -s old \"$MNT/file\"; then echo old; elif cmp -s new \"$MNT/file\"; then echo new; else echo mixed; fi")
        #expect(["old", "new"].contains(state.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), "file is \(state.stdout)")
        vault.unmount()
        let verify = try run("vishwa", ["verify", "--catalog", "--home", vault.home])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
    }

    /// A mount for an ordinary user (uid 4242), made the way a privileged mounter does (it opens
    /// /dev/fuse, mounts it, and hands vishwafs `/dev/fd/N`). Such a private mount has no
    /// default_permissions, so the daemon checks permissions itself: posix_checks.py as that user,
    /// whose `permissions` check expects EACCES and EPERM wherever the mode bits deny.
    @Test func anOrdinaryUsersMountRefusesWhatModeBitsDeny() throws {
        guard geteuid() == 0 else { return }  // mounting for another user needs root
        let vault = try MountedVault(label: "user")
        try vault.shell("mkdir \"$MNT/user\" && chown 4242:4242 \"$MNT/user\"")
        vault.unmount()
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("posix_checks.py").path
        let result = try vault.shell("""
            as_user="setpriv --reuid=4242 --regid=4242 --clear-groups"
            cp '\(script)' "$BIN/vishwafs" "$SCRATCH/"
            chown -R 4242:4242 "$VISHWA_HOME"
            d="$SCRATCH"; while [ "$d" != / ]; do chmod o+x "$d"; d=$(dirname "$d"); done
            exec 3<>/dev/fuse
            mount -i -t fuse.vishwafs -o nosuid,nodev,fd=3,rootmode=40000,user_id=4242,group_id=4242 vishwa "$MNT"
            # Names cached for a minute: a chmod must still close a folder at once. setpriv
            # execs the daemon, so no shell is left holding the device.
            $as_user "$SCRATCH/vishwafs" /dev/fd/3 --home "$VISHWA_HOME" -f -o entry_timeout=60 > "$SCRATCH/user.log" 2>&1 &
            daemon=$!
            exec 3>&-
            trap 'umount "$MNT" 2>/dev/null; wait $daemon; cat "$SCRATCH/user.log" >&2' EXIT
            for i in $(seq 600); do grep -q '] mounted ' "$SCRATCH/user.log" && break; sleep 0.05; done
            grep -q ' fuse.vishwafs .*user_id=4242' /proc/self/mountinfo || echo "not mounted"
            $as_user /usr/bin/python3 "$SCRATCH/posix_checks.py" --utf8-names-only --skip st_blocks_sparse "$MNT/user"
            """)
        let failures = result.stdout.split(separator: "\n").filter { $0.hasPrefix("FAIL") || $0.hasPrefix("not mounted") }
        #expect(result.status == 0, "\(failures.joined(separator: "\n"))\n\(result.stdout.suffix(2000))\n\(result.stderr.suffix(3000))")
        #expect(result.stdout.contains("ok permissions") && result.stdout.contains("skip chown"))
    }

    /// A mount left dead by a crash without auto_unmount (the mountpoint answers "Transport
    /// endpoint is not connected") is taken away by the next mount, which then serves the files;
    /// without root (which the lazy unmount needs) the mount refuses in one line saying how.
    @Test func nextMountTakesAwayADeadMount() throws {
        let vault = try MountedVault(label: "dead")
        #expect(try vault.shell("echo kept > \"$MNT/note\"").status == 0)
        vault.unmount()
        try vault.mount(autoUnmount: false)
        vault.killDaemon(waitForUnmount: false)
        #expect(vault.isMounted, "without auto_unmount the dead mount stays")
        let dead = try vault.shell("ls \"$MNT\"")
        #expect(dead.stderr.contains("not connected"), "\(dead.stderr)")
        if geteuid() != 0 {
            let refused = try run("vishwafs", [vault.mountpoint, "--home", vault.home, "-f"])
            #expect(refused.status != 0 && refused.stderr.contains("run fusermount3 -u"), "\(refused.stderr)")
            _ = try vault.shell("fusermount3 -u \"$MNT\"")
            return
        }
        try vault.mount()
        #expect(vault.log.contains("took away the dead mount"), "\(vault.log.suffix(2000))")
        let read = try vault.shell("cat \"$MNT/note\"")
        #expect(read.stdout == "kept\n", "\(read.stderr)")
    }

    /// A real video, generated with ffmpeg, decodes frame-exact from the mount at 20 seek positions.
    @Test func videoPlaysAndSeeksFromTheMount() throws {
        let vault = try MountedVault(label: "video")
        let made = try vault.shell("""
            ffmpeg -v error -f lavfi -i testsrc2=duration=30:size=640x360:rate=25 -f lavfi -i sine=frequency=440:duration=30 \
                -c:v mpeg4 -q:v 3 -c:a aac -shortest video.mp4
            cp video.mp4 "$MNT/video.mp4"
            """)
        #expect(made.status == 0, "\(made.stderr)")
        try vault.remount()
        let played = try vault.shell("""
            for t in 0 29.5 1 14 27 3.3 22 7 18.4 0.5 25 11 2 19 9.9 28 5 16 24 12.2; do
                a=$(ffmpeg -v error -ss $t -i video.mp4 -map 0:v -frames:v 5 -f framemd5 - | grep -v '^#')
                b=$(ffmpeg -v error -ss $t -i "$MNT/video.mp4" -map 0:v -frames:v 5 -f framemd5 - | grep -v '^#')
                [ -n "$b" ] && [ "$a" = "$b" ] || { echo "frames differ at $t"; exit 1; }
            done
            ffmpeg -v error -i "$MNT/video.mp4" -f null - 2>&1 | head -5
            """)
        #expect(played.status == 0, "\(played.stdout)\(played.stderr)\nlog: \(vault.log.suffix(3000))")
        #expect(played.stdout.isEmpty, "decoding errors: \(played.stdout)")
    }

    /// With no host online at mount time: the mount comes up, reads fail with EIO and a log
    /// line, and work again once the hosts return.
    @Test func mountsWithHostsDownAndRecoversWhenTheyReturn() throws {
        let vault = try MountedVault(hosts: 3, label: "offline")
        let made = try vault.shell("head -c 3000000 /dev/urandom > data && cp data \"$MNT/data\"")
        #expect(made.status == 0, "\(made.stderr)")
        vault.unmount()
        for host in vault.hosts { host.stop() }
        try vault.mount()
        let failed = try vault.shell("cat \"$MNT/data\" > /dev/null 2> err || true; cat err")
        #expect(failed.stdout.contains("Input/output error"), "read with hosts down: \(failed.stdout)")
        #expect(vault.log.contains("cannot read"), "no log line for the failed read: \(vault.log.suffix(2000))")
        for host in vault.hosts { try host.start() }
        let recovered = try vault.shell("for i in $(seq 1 60); do cmp -s data \"$MNT/data\" && exit 0; sleep 0.5; done; exit 1")
        #expect(recovered.status == 0, "reads did not recover: \(vault.log.suffix(2000))")
    }

    /// Files uploaded with --folder/--tags appear in that directory with those tags, and tags
    /// set in the mount are what the CLI lists.
    @Test func cliFoldersAndTagsAreTheMountsDirectoriesAndXattrs() throws {
        let vault = try MountedVault(hosts: 3, label: "tags")
        let made = try vault.shell("""
            echo report > report.txt
            "$BIN/vishwa" upload report.txt --folder work/2024 --tags work,q3 > /dev/null
            [ "$(cat "$MNT/work/2024/report.txt")" = report ]
            getfattr --only-values -n user.vishwa.tags "$MNT/work/2024/report.txt"; echo
            # The kernel keeps names for a minute; what the CLI removes or replaces meanwhile is
            # gone or new at the next open all the same (ESTALE makes the kernel look it up again).
            "$BIN/vishwa" rm work/2024/report.txt > /dev/null
            ! cat "$MNT/work/2024/report.txt" 2> /dev/null
            echo report > report.txt
            "$BIN/vishwa" upload report.txt --folder work/2024 --tags work,q3 > /dev/null
            [ "$(cat "$MNT/work/2024/report.txt")" = report ]
            stat -c %s "$MNT/work/2024/report.txt" > /dev/null
            printf 'the second report, longer than the first\n' > report.txt
            "$BIN/vishwa" rm work/2024/report.txt > /dev/null
            "$BIN/vishwa" upload report.txt --folder work/2024 --tags work,q3 > /dev/null
            [ "$(cat "$MNT/work/2024/report.txt")" = "the second report, longer than the first" ]
            echo notes > "$MNT/notes.txt"
            setfattr -n user.vishwa.tags -v home,todo "$MNT/notes.txt"
            setfattr -n user.colour -v blue "$MNT/notes.txt"
            getfattr -d "$MNT/notes.txt"
            getfattr --only-values -n user.vishwa.id "$MNT/notes.txt"; echo
            getfattr --only-values -n user.vishwa.health "$MNT/notes.txt"; echo
            ! setfattr -n user.vishwa.health -v fine "$MNT/notes.txt" 2> /dev/null
            # Only user.* is kept: other namespaces are not supported, for reading as for writing
            # (ls -l then caches that answer instead of asking each file for its label and ACL).
            { getfattr -n security.selinux "$MNT/notes.txt" 2>&1 || true; } | grep -q "Operation not supported"
            { setfattr -n trusted.colour -v red "$MNT/notes.txt" 2>&1 || true; } | grep -q "Operation not supported"
            "$BIN/vishwa" list --tag todo
            """)
        #expect(made.status == 0, "\(made.stdout)\(made.stderr)\nlog: \(vault.log.suffix(2000))")
        let lines = made.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "q3,work")
        #expect(made.stdout.contains("user.colour=\"blue\"") && made.stdout.contains("user.vishwa.tags=\"home,todo\""))
        #expect(made.stdout.contains("healthy: 10/10 shards per chunk, tolerates 1 host loss"))
        #expect(lines.last?.contains("/notes.txt") == true)
        #expect(lines.contains { $0.count == 32 && $0.allSatisfy(\.isHexDigit) }, "no file id in \(lines)")

        // Read-only: everything reads, nothing changes.
        try vault.remount(options: ["ro"])
        let readOnly = try vault.shell("""
            [ "$(cat "$MNT/notes.txt")" = notes ]
            touch "$MNT/new" 2>&1 || true
            rm "$MNT/notes.txt" 2>&1 || true
            setfattr -n user.x -v y "$MNT/notes.txt" 2>&1 || true
            [ ! -e "$MNT/new" ] && [ -e "$MNT/notes.txt" ]
            """)
        #expect(readOnly.status == 0, "\(readOnly.stderr)")
        #expect(readOnly.stdout.components(separatedBy: "Read-only file system").count == 4, "\(readOnly.stdout)")
    }

    /// The mount's self-healing loop rebuilds the shards a host lost while it runs (docs/architecture.md §5),
    /// and the file stays readable throughout.
    @Test func selfHealingRebuildsLostShards() throws {
        let vault = try MountedVault(label: "heal")
        try vault.remount(options: ["heal_interval=1", "heal_grace=0"])
        let made = try vault.shell("head -c 10000000 /dev/urandom > data && cp data \"$MNT/data\"")
        #expect(made.status == 0, "\(made.stderr)")
        let lost = try vault.shell("find '\(vault.hosts[2].dir)/store/vaults' -type f -delete && cmp data \"$MNT/data\"")
        #expect(lost.status == 0, "\(lost.stderr)")
        var healthy = false
        for _ in 0..<60 where !healthy {
            Thread.sleep(forTimeInterval: 1)
            healthy = try run("vishwa", ["fsck", "--home", vault.home]).status == 0
        }
        #expect(healthy, "fsck still unhappy; log: \(vault.log.suffix(2000))")
        #expect(vault.log.contains("self-healing: rebuilt"), "\(vault.log.suffix(2000))")
        vault.unmount()
        let files = try vault.shell("find '\(vault.hosts[2].dir)/store/vaults' -type f | wc -l")
        #expect((Int(files.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 0, "nothing was rebuilt on the emptied host")
    }

    /// Two of five hosts die: past the grace period the mount rebuilds their shards on the three
    /// survivors (within the per-host cap), fsck is clean again and the files tolerate what three
    /// hosts allow; when the dead hosts return, gc deletes the copies nobody needs any more.
    @Test func selfHealingAfterLosingTwoHostsThenGarbageCollection() throws {
        let vault = try MountedVault(label: "heal2")
        try vault.remount(options: ["heal_interval=1", "heal_grace=2", "heal_rate=8M"])
        let made = try vault.shell("head -c 12000000 /dev/urandom > data && cp data \"$MNT/data\" && echo small > \"$MNT/small\"")
        #expect(made.status == 0, "\(made.stderr)")
        vault.hosts[0].stop()
        vault.hosts[1].stop()
        var healthy = false
        for _ in 0..<90 where !healthy {
            Thread.sleep(forTimeInterval: 1)
            healthy = try run("vishwa", ["fsck", "--home", vault.home]).status == 0
        }
        #expect(healthy, "not repaired; log: \(vault.log.suffix(2000))")
        let state = try vault.shell("cmp data \"$MNT/data\" && getfattr --only-values -n user.vishwa.health \"$MNT/data\"")
        #expect(state.status == 0 && state.stdout.contains("healthy: 10/10 shards per chunk, tolerates 1 host loss"),
                "\(state.stdout)\(state.stderr)")
        try vault.hosts[0].start()
        try vault.hosts[1].start()
        let collected = try run("vishwa", ["gc", "--min-age", "0", "--home", vault.home])
        #expect(collected.status == 0, "\(collected.stderr)")
        let left = try vault.shell("find '\(vault.hosts[0].dir)/store/vaults' '\(vault.hosts[1].dir)/store/vaults' -type f | wc -l")
        #expect(left.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "shards left on the returned hosts: \(left.stdout)")
        // Cold: every byte now comes from the rebuilt shards.
        try vault.remount()
        let still = try vault.shell("cmp data \"$MNT/data\" && [ \"$(cat \"$MNT/small\")\" = small ]")
        #expect(still.status == 0, "\(still.stderr)")
    }

    /// A file `vishwa rm` removes while it is open in the mount reads on, whole, until it is
    /// closed (as a file unlinked while open does); then its name is gone.
    @Test func aFileTheCLIRemovesStaysReadableWhileOpen() throws {
        let vault = try MountedVault(label: "rmopen")
        let result = try vault.shell("""
            head -c 9000000 /dev/urandom > data && cp data "$MNT/data"
            python3 - <<'PY'
            import os, subprocess, sys
            fd = os.open(os.environ["MNT"] + "/data", os.O_RDONLY)
            os.pread(fd, 4096, 0)
            subprocess.run([os.environ["BIN"] + "/vishwa", "rm", "/data"], check=True, capture_output=True)
            got = b"".join(os.pread(fd, 1 << 20, offset) for offset in range(0, 9000000, 1 << 20))
            if got != open("data", "rb").read():
                sys.exit("the bytes read after rm differ")
            if os.fstat(fd).st_nlink != 0:
                sys.exit("a removed file should show no links")
            os.close(fd)
            PY
            sleep 1.5
            if [ -e "$MNT/data" ]; then echo "data is still there after its last close" >&2; exit 1; fi
            """)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\nlog: \(vault.log.suffix(2000))")
    }

    /// Removed and overwritten files give their hosts' space back with no CLI command: the mount's
    /// gc loop deletes their shards once queued long enough, and every live file stays whole.
    @Test func theMountDeletesTheShardsOfRemovedFilesByItself() throws {
        let vault = try MountedVault(label: "gcloop")
        try vault.remount(options: ["gc_interval=1", "gc_min_age=0"])
        let stores = vault.hosts.map { "'\($0.dir)/store/vaults'" }.joined(separator: " ")
        // 9,000,000 bytes are 3 chunks of 4 MiB, 5,000,000 are 2: live at the end, 3 + 2 chunks of
        // 10 shards; queued, the 3 + 3 of the removed file and of the replaced version.
        let made = try vault.shell("""
            head -c 9000000 /dev/urandom > kept && cp kept "$MNT/kept"
            head -c 9000000 /dev/urandom > "$MNT/gone"
            head -c 9000000 /dev/urandom > "$MNT/replaced"
            head -c 5000000 /dev/urandom > replaced && cp replaced "$MNT/replaced"
            rm "$MNT/gone"
            """)
        #expect(made.status == 0, "\(made.stderr)")
        func shardFiles() throws -> Int {
            Int(try vault.shell("find \(stores) -type f | wc -l").stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
        var count = try shardFiles()
        for _ in 0..<60 where count != 50 {
            Thread.sleep(forTimeInterval: 0.5)
            count = try shardFiles()
        }
        #expect(count == 50, "shard files on the hosts: \(count); log: \(vault.log.suffix(2000))")
        #expect(try run("vishwa", ["log", "--home", vault.home]).stdout.contains("gc"))
        try vault.remount()
        let intact = try vault.shell("cmp kept \"$MNT/kept\" && cmp replaced \"$MNT/replaced\" && [ ! -e \"$MNT/gone\" ]")
        #expect(intact.status == 0, "\(intact.stderr)")
    }

    /// Repair (the mount's loop and `vishwa fsck --repair`) and gc run while files are written,
    /// overwritten and read through the mount: every file ends bit-exact.
    @Test func repairAndGarbageCollectionBesideReadsAndWritesLoseNothing() throws {
        let vault = try MountedVault(label: "busy")
        try vault.remount(options: ["heal_interval=1", "heal_grace=0"])
        let busy = try vault.shell("""
            mkdir -p src "$MNT/busy"
            for i in $(seq 1 12); do head -c $((1000000 * (i % 5 + 1) + i)) /dev/urandom > src/f$i; done
            (
                for round in 1 2 3; do
                    for i in $(seq 1 12); do cp src/f$i "$MNT/busy/f$i"; done
                    for i in $(seq 1 12); do cmp src/f$i "$MNT/busy/f$i"; done
                    for i in $(seq 1 12); do head -c $((700000 * round + i)) /dev/urandom > src/f$i; done
                done
                for i in $(seq 1 12); do cp src/f$i "$MNT/busy/f$i"; done
            ) > writer.log 2>&1 &
            writer=$!
            while kill -0 $writer 2> /dev/null; do
                # Lose some shards on one host (sed reads all of find's output: no SIGPIPE under pipefail).
                find '\(vault.hosts[3].dir)/store/vaults' -type f | sed -n 1,20p | xargs -r rm -f
                "$BIN/vishwa" gc --min-age 0 > /dev/null 2>&1 || true
                "$BIN/vishwa" fsck --repair > /dev/null 2>&1 || true
            done
            wait $writer
            """)
        #expect(busy.status == 0, "\(busy.stderr)\n\((try? String(contentsOfFile: vault.scratch.path + "/writer.log", encoding: .utf8)) ?? "")")
        try vault.remount()
        let repaired = try run("vishwa", ["fsck", "--repair", "--home", vault.home])
        #expect([0, 1].contains(repaired.status), "\(repaired.stdout)\(repaired.stderr)")
        let checked = try vault.shell("for i in $(seq 1 12); do cmp src/f$i \"$MNT/busy/f$i\"; done")
        #expect(checked.status == 0, "\(checked.stderr)\nlog: \(vault.log.suffix(2000))")
    }

    /// A host answering nonsense to STAT (2^64−1 bytes everywhere) is pinged every 10 s by the
    /// mount: the mount lives on, names the host faulty in its log, and counts none of its space.
    @Test func aHostAnsweringNonsenseNeitherKillsTheMountNorCountsInItsSpace() async throws {
        let vault = try MountedVault(hosts: 2, label: "liar")
        // Sane while it is added; nonsense once the mount pings it.
        let liar = try await LyingHost.start()
        #expect(try run("vishwa", ["host", "add", liar.code, "--home", vault.home]).status == 0)
        liar.service.state.withLock {
            $0.stat = StatReply(capacityBytes: .max, freeBytes: .max, usedBytes: .max, shardCount: .max, quotaBytes: .max - 1,
                                version: "liar")
        }
        var waited = 0
        while !vault.log.contains("is faulty") && waited < 60 {
            try await Task.sleep(for: .milliseconds(500))
            waited += 1
        }
        #expect(vault.log.contains("is faulty: claims"), "\(vault.log.suffix(2000))")
        #expect(vault.daemon?.isRunning == true)
        let space = try vault.shell("stat -f -c '%b %S' \"$MNT\"")
        let fields = space.stdout.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        #expect(fields.count == 2 && fields[0] * fields[1] < Double(1 << 50), "statfs counts the liar's space: \(space.stdout)")
        #expect(try vault.shell("echo kept > \"$MNT/f\" && cat \"$MNT/f\"").stdout == "kept\n")
        await liar.server.stop()
    }

    /// A catalog backup that fails is part of every file's health on the mount, until one succeeds.
    @Test func aFailingCatalogBackupShowsInTheMountsHealth() throws {
        let vault = try MountedVault(hosts: 2, label: "backup-fails")
        #expect(try vault.shell("echo kept > \"$MNT/f\"").status == 0)
        vault.hosts[1].stop()
        #expect(try run("vishwa", ["backup", "--home", vault.home]).status != 0)
        let failing = try vault.shell("getfattr --only-values -n user.vishwa.health \"$MNT/f\"")
        #expect(failing.stdout.contains("catalog backup failing: fewer than 2 hosts online"), "\(failing.stdout)\(failing.stderr)")
        try vault.hosts[1].start()
        #expect(try run("vishwa", ["backup", "--home", vault.home]).status == 0)
        let fine = try vault.shell("getfattr --only-values -n user.vishwa.health \"$MNT/f\"")
        #expect(fine.status == 0 && !fine.stdout.contains("catalog backup"), "\(fine.stdout)\(fine.stderr)")
    }

    /// What is written through the mount reaches the catalog's backup on the hosts with no CLI
    /// command: within the backup interval while mounted (a daemon killed after that loses
    /// nothing), and at unmount. A new home recovered from the code and one host has both files.
    @Test func theMountsChangesReachTheCatalogBackup() throws {
        let vault = try MountedVault(hosts: 3, label: "backup")
        func generation() throws -> Int {
            let status = try run("vishwa", ["status", "--json", "--home", vault.home])
            return (try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])?["backup_generation"] as? Int ?? 0
        }
        try vault.remount(options: ["backup_interval=1"])
        let before = try generation()
        #expect(try vault.shell("head -c 5000000 /dev/urandom > a && cp a \"$MNT/a\"").status == 0)
        var waited = 0
        while try generation() <= before && waited < 60 {
            Thread.sleep(forTimeInterval: 0.5)
            waited += 1
        }
        #expect(try generation() > before, "no backup within 30 s of a change: \(vault.log.suffix(2000))")
        vault.killDaemon()
        _ = try? vault.shell("fusermount3 -u -z \"$MNT\" 2> /dev/null || true")
        // Now an interval no test outlasts: after the backup the first change earns, only the
        // one at unmount can store b.
        try vault.mount(options: ["backup_interval=3600"])
        let afterKill = try generation()
        #expect(try vault.shell("echo first > \"$MNT/first\"").status == 0)
        waited = 0
        while try generation() <= afterKill && waited < 60 {
            Thread.sleep(forTimeInterval: 0.5)
            waited += 1
        }
        #expect(try generation() > afterKill, "the first change after mounting was not backed up")
        #expect(try vault.shell("echo second > b && cp b \"$MNT/b\"").status == 0)
        vault.unmount()

        let code = try #require((try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: vault.home + ".init.json")))
            as? [String: Any])?["recovery_code"] as? String)
        let status = try run("vishwa-shard", ["status", "--dir", vault.hosts[1].dir, "--json"])
        let hostKey = try #require((try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])?["host_key"] as? String)
        try FileManager.default.moveItem(atPath: vault.home, toPath: vault.home + ".lost")
        let recovered = try run("vishwa", ["recover", "--home", vault.home, "--insecure-recovery-code", code, "--host", vault.hosts[1].address,
                                           "--host-key", hostKey, "--no-passphrase"])
        #expect(recovered.status == 0, "\(recovered.stderr)")
        let back = try vault.shell("""
            "$BIN/vishwa" download /a a.back > /dev/null && cmp a a.back
            "$BIN/vishwa" download /b b.back > /dev/null && cmp b b.back
            """)
        #expect(back.status == 0, "\(back.stdout)\(back.stderr)")
    }

    /// SIGTERM with a file still open: what was written is committed before the daemon exits.
    @Test func sigtermCommitsOpenFiles() throws {
        let vault = try MountedVault(hosts: 3, label: "sigterm")
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        holder.arguments = ["-c", """
            import os, sys, time
            fd = os.open(sys.argv[1] + "/open.txt", os.O_WRONLY | os.O_CREAT, 0o644)
            os.write(fd, b"written but never closed\\n")
            print("written", flush=True)
            time.sleep(30)
            """, vault.mountpoint]
        let out = Pipe()
        holder.standardOutput = out
        try holder.run()
        #expect(try readLine(out.fileHandleForReading, timeout: 20) == "written")
        Glibc.kill(vault.daemon!.processIdentifier, SIGTERM)
        vault.daemon!.waitUntilExit()
        holder.terminate()
        holder.waitUntilExit()
        _ = try? vault.shell("fusermount3 -u -z \"$MNT\" 2> /dev/null || true")
        try vault.mount()
        let read = try vault.shell("cat \"$MNT/open.txt\"")
        #expect(read.stdout == "written but never closed\n", "\(read.stderr)\nlog: \(vault.log.suffix(2000))")

        // Relative paths as people type them (libfuse moves the daemon to "/" before the catalog
        // opens); SIGTERM unmounts it, and the daemon exits 0: it stopped as asked.
        vault.unmount()
        let relative = try vault.shell("""
            cd "$(dirname "$MNT")"
            "$BIN/vishwafs" "$(basename "$MNT")" --home "$(realpath --relative-to=. "$VISHWA_HOME")" -f > /dev/null 2> relative.log &
            pid=$!
            for _ in $(seq 100); do mountpoint -q "$MNT" && break; sleep 0.1; done
            [ "$(cat "$MNT/open.txt")" = "written but never closed" ] || { kill $pid; cat relative.log >&2; exit 1; }
            kill $pid
            wait $pid
            ! mountpoint -q "$MNT"
            """)
        #expect(relative.status == 0, "\(relative.stdout)\(relative.stderr)")
    }
}

/// Mistakes at mount time get one line that says what is wrong, and no mount.
@Suite(.ownThreads) struct MountRefusalTests {
    @Test func refusesBadMountpointsAndMissingOrLockedVaults() throws {
        let scratch = Scratch("mnt-refuse")
        let home = try makeVault(in: scratch)
        try FileManager.default.createDirectory(atPath: scratch.path + "/full", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: scratch.path + "/full/something", contents: Data("x".utf8))
        try FileManager.default.createDirectory(atPath: scratch.path + "/empty", withIntermediateDirectories: true)

        let missing = try run("vishwafs", [scratch.path + "/nowhere", "--home", home, "-f"])
        #expect(missing.status == 1 && missing.stderr.contains("does not exist"), "\(missing.stderr)")
        let full = try run("vishwafs", [scratch.path + "/full", "--home", home, "-f"])
        #expect(full.status == 1 && full.stderr.contains("is not empty"), "\(full.stderr)")
        let novault = try run("vishwafs", [scratch.path + "/empty", "--home", scratch.path + "/no-vault", "-f"])
        #expect(novault.status == 1 && novault.stderr.contains("no vault at"), "\(novault.stderr)")

        let lockedHome = scratch.path + "/locked"
        _ = FileManager.default.createFile(atPath: scratch.path + "/pass", contents: Data("correct horse\n".utf8))
        let created = try run("vishwa", ["init", "--home", lockedHome, "--passphrase-file", scratch.path + "/pass"])
        #expect(created.status == 0, "\(created.stderr)")
        let locked = try run("vishwafs", [scratch.path + "/empty", "--home", lockedHome, "-f"])
        #expect(locked.status == 1 && locked.stderr.contains("protected by a passphrase"), "\(locked.stderr)")
        _ = FileManager.default.createFile(atPath: scratch.path + "/wrong", contents: Data("wrong\n".utf8))
        let wrong = try run("vishwafs", [scratch.path + "/empty", "--home", lockedHome, "-f", "--passphrase-file", scratch.path + "/wrong"])
        #expect(wrong.status == 1 && wrong.stderr.contains("wrong passphrase"), "\(wrong.stderr)")
        let badOption = try run("vishwafs", [scratch.path + "/empty", "--home", home, "-o", "cache_size=lots"])
        #expect(badOption.status == 64 && badOption.stderr.contains("cache_size"), "\(badOption.stderr)")
        // Nothing was mounted by any of them.
        let table = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        #expect(!table.contains(scratch.path))
    }
}

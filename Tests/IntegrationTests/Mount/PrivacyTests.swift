import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What the programs leave for other users of the machine, and what an fstab line asks of the
/// mount: private vault folders, downloads as the umask says, mount flags, one passphrase reader.
@Suite(.ownThreads, .serialized) struct PrivacyTests {
    @Test func vaultFoldersArePrivateEvenWhenTheyExistedBefore() throws {
        let scratch = Scratch("private")
        let result = try runShell("""
            mkdir -m 0755 existing
            "$BIN/vishwa" init --home "$PWD/existing" --no-passphrase > /dev/null
            "$BIN/vishwa" init --home "$PWD/new/deeper" --no-passphrase > /dev/null
            [ "$(stat -c %a existing)" = 700 ] || { echo "existing home: $(stat -c %a existing)"; exit 1; }
            [ "$(stat -c %a new/deeper)" = 700 ]
            """, in: scratch.path, environment: ["BIN": binDirectory.path])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    }

    @Test func downloadsHonourTheUmask() throws {
        let vault = try MountedVault(hosts: 3, label: "umask")
        let result = try vault.shell("""
            echo content > "$MNT/f"
            (umask 027; "$BIN/vishwa" download /f out-027 > /dev/null)
            (umask 0; "$BIN/vishwa" download /f out-000 > /dev/null)
            (umask 077; "$BIN/vishwa" download /f out-077 > /dev/null)
            stat -c '%n %a' out-027 out-000 out-077
            [ "$(stat -c %a out-027)" = 640 ]
            [ "$(stat -c %a out-000)" = 666 ]
            [ "$(stat -c %a out-077)" = 600 ]
            [ "$(cat out-027)" = content ]
            """)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    }

    /// fstab's `noexec` (mount(8) hands the helper its options) reaches the kernel.
    @Test func noexecNosuidAndNodevReachTheMount() throws {
        let vault = try MountedVault(hosts: 3, label: "flags")
        try vault.remount(options: ["noexec", "nosuid", "nodev"])
        let result = try vault.shell("""
            options=$(awk -v m="$MNT" '$5 == m { print $6 }' /proc/self/mountinfo)
            echo "mount options: $options"
            for flag in noexec nosuid nodev; do echo ",$options," | grep -q ",$flag," ; done
            printf '#!/bin/sh\\necho ran\\n' > "$MNT/script"; chmod 755 "$MNT/script"
            if "$MNT/script" 2> /dev/null; then echo "a program ran from a noexec mount"; exit 1; fi
            """)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    }

    /// vishwa and vishwafs read `--passphrase-file` alike: its first line, from a file or a pipe.
    @Test func vishwaAndVishwafsReadPassphraseFilesAlike() throws {
        let scratch = Scratch("passfile")
        let result = try runShell("""
            mkdir mnt
            printf 'correct horse\\r\\nthe second line is not part of it\\n' > pass
            "$BIN/vishwa" init --home "$PWD/home" --passphrase-file pass --kdf interactive > /dev/null
            "$BIN/vishwa" verify-key --home "$PWD/home" --passphrase-file <(echo 'correct horse') > /dev/null
            # Mounts with the passphrase in file $2 (logged as $1), then unmounts.
            mount_with() {
                "$BIN/vishwafs" "$PWD/mnt" --home "$PWD/home" -f --passphrase-file "$2" -o auto_unmount > log-$1 2>&1 & pid=$!
                for i in $(seq 300); do
                    awk -v m="$PWD/mnt" '$5 == m' /proc/self/mountinfo | grep -q . && break
                    kill -0 $pid 2> /dev/null || { echo "vishwafs ($1) stopped:"; cat log-$1; exit 1; }
                    sleep 0.05
                done
                fusermount3 -u "$PWD/mnt"
                wait $pid
            }
            mount_with file pass
            mount_with pipe <(echo 'correct horse')
            """, in: scratch.path, environment: ["BIN": binDirectory.path])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    }
}

import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// FIFOs, sockets and device nodes in the mount: nodes without data, as `cp -a` and `rsync -a`
/// of a home folder make them (sockets under ~/.gnupg, FIFOs of build tools).
@Suite(.ownThreads, .serialized) struct SpecialFileTests {
    /// Type, permissions and device number of every entry under a folder, one line each.
    static let describe = #"describe() { (cd "$1" && find . -mindepth 1 -exec stat -c '%n %F %a %t:%T' {} + | sort); }"#

    @Test func fifosSocketsAndDevicesAreKeptAsNodes() throws {
        try #require(geteuid() == 0, "device nodes need root")
        let vault = try MountedVault(hosts: 3, label: "special")
        let made = try vault.shell(Self.describe + """

            mkdir -p tree/sub
            mkfifo -m 0640 tree/fifo
            mknod -m 0600 tree/null c 1 3
            mknod tree/sub/loop b 7 0
            python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' tree/sub/socket
            echo data > tree/file
            # Made in the mount directly.
            mkfifo -m 0640 "$MNT/fifo"
            mknod "$MNT/null" c 1 3
            mknod "$MNT/loop" b 7 0
            [ "$(stat -c '%F %a' "$MNT/fifo")" = "fifo 640" ]
            [ "$(stat -c '%F %t:%T' "$MNT/null")" = "character special file 1:3" ]
            [ "$(stat -c '%F %t:%T' "$MNT/loop")" = "block special file 7:0" ]
            # A FIFO and a socket in the mount work (the kernel does what they do).
            (echo through > "$MNT/fifo") &
            [ "$(cat "$MNT/fifo")" = through ]
            wait
            python3 - "$MNT/socket" <<'PY'
            import socket, sys
            server = socket.socket(socket.AF_UNIX)
            server.bind(sys.argv[1])
            server.listen(1)
            client = socket.socket(socket.AF_UNIX)
            client.connect(sys.argv[1])
            connection, _ = server.accept()
            client.sendall(b"hello")
            assert connection.recv(5) == b"hello"
            PY
            [ "$(stat -c %F "$MNT/socket")" = socket ]
            ls -l "$MNT" > /dev/null
            # Copies of a tree holding them, in and out again.
            cp -a tree "$MNT/cp-a"
            rsync -a tree/ "$MNT/rsync/"
            rsync -a "$MNT/rsync/" back/
            [ "$(describe tree)" = "$(describe "$MNT/cp-a")" ]
            [ "$(describe tree)" = "$(describe "$MNT/rsync")" ]
            [ "$(describe tree)" = "$(describe back)" ]
            # Renamed, linked and removed as any node.
            mv "$MNT/fifo" "$MNT/pipe"
            ln "$MNT/pipe" "$MNT/pipe-link"
            [ "$(stat -c %h "$MNT/pipe")" = 2 ]
            rm "$MNT/loop" "$MNT/socket" "$MNT/pipe-link"
            describe "$MNT" > before-remount
            """)
        #expect(made.status == 0, "\(made.stdout)\n\(made.stderr)\nlog: \(vault.log.suffix(3000))")
        try vault.remount()
        let kept = try vault.shell(Self.describe + """

            describe "$MNT" > after-remount
            diff before-remount after-remount
            [ "$(describe tree)" = "$(describe "$MNT/cp-a")" ]
            [ "$(stat -c '%F %a' "$MNT/pipe")" = "fifo 640" ]
            [ "$(stat -c '%F %t:%T' "$MNT/null")" = "character special file 1:3" ]
            """)
        #expect(kept.status == 0, "\(kept.stdout)\n\(kept.stderr)\nlog: \(vault.log.suffix(3000))")
    }
}

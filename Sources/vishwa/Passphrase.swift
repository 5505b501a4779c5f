import Foundation
import VishwaCrypto
import VishwaVault

#if canImport(Glibc)
import Glibc
#endif

/// Where a passphrase comes from: a file (first line), or the terminal with echo off.
enum Passphrase {
    /// The first line of `path` (without its line ending), read as vishwafs reads it.
    static func fromFile(_ path: String) throws -> [UInt8] {
        try PassphraseFile.read(path)
    }

    /// Whether a person can be asked: standard input is a terminal.
    static var canPrompt: Bool { isatty(0) == 1 }

    /// Asks on /dev/tty without echo. Returns nil when there is no terminal.
    static func prompt(_ question: String) -> [UInt8]? {
        let fd = open("/dev/tty", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var saved = termios()
        guard tcgetattr(fd, &saved) == 0 else { return nil }
        var quiet = saved
        quiet.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(fd, TCSAFLUSH, &quiet)
        defer {
            tcsetattr(fd, TCSAFLUSH, &saved)
            _ = write(fd, "\n", 1)
        }
        _ = question.withCString { write(fd, $0, strlen($0)) }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while read(fd, &byte, 1) == 1 && byte != UInt8(ascii: "\n") { line.append(byte) }
        return line
    }

    /// The passphrase to unlock an existing vault: from `file`, else a prompt, else nil (the
    /// vault layer then says a passphrase is required if it is).
    static func forUnlocking(file: String?) throws -> [UInt8]? {
        if let file { return try fromFile(file) }
        guard canPrompt else { return nil }
        return prompt("Passphrase: ")
    }
}

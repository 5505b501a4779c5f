import Glibc
import Testing
import VishwaFS
@testable import VishwaFUSE

@Suite struct ErrnoTests {
    static let table: [(FSError, Int32)] = [
        (.notFound, ENOENT), (.exists, EEXIST), (.notEmpty, ENOTEMPTY), (.notDirectory, ENOTDIR),
        (.isDirectory, EISDIR), (.readOnly, EROFS), (.noSpace, ENOSPC), (.fileTooLarge, EFBIG), (.nameTooLong, ENAMETOOLONG),
        (.invalidName, EINVAL), (.crossDevice, EXDEV), (.notSupported, ENOTSUP), (.permissionDenied, EACCES),
        (.cancelled, EINTR), (.timedOut, ETIMEDOUT), (.notPermitted, EPERM), (.noAttribute, ENODATA),
        (.illegalByteSequence, EILSEQ), (.stale, ESTALE), (.io("too few shards"), EIO),
    ]

    @Test(arguments: ErrnoTests.table)
    func everyFilesystemErrorHasItsErrno(error: FSError, expected: Int32) {
        #expect(Errno.code(for: error) == expected)
        #expect(Errno.code(for: error as any Error) == expected)
    }

    struct Unknown: Error {}

    @Test func unknownErrorsAreEIOAndCancellationIsEINTR() {
        #expect(Errno.code(for: Unknown()) == EIO)
        #expect(Errno.code(for: CancellationError()) == EINTR)
    }

    @Test func linksAgainstLibfuse3() {
        #expect(Errno.libfuseVersion.hasPrefix("3."))
    }
}

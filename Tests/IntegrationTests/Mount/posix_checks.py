#!/usr/bin/env python3
"""POSIX behaviour checks for a mounted filesystem (the vishwafs FUSE mount, or tmpfs as the reference).

    posix_checks.py [--skip NAME,...] [--only NAME,...] [--seed N] [--keep] DIR
    posix_checks.py --list

Creates a fresh subdirectory of DIR, runs every check in it (each in a subdirectory of its own
named after the check), removes it again and prints one line per check:

    ok NAME
    FAIL NAME: what was expected and what happened
    skip NAME: why

and a last line "# N failed". Exit status 0 when nothing failed, 1 when a check (or the cleanup)
failed, 2 on a usage error. Standard library only; Linux only (errno values are Linux's: unlink of
a directory is EISDIR, a hard link to a directory EPERM). Meant to run as root (`chown` is skipped
otherwise).
The checks are the behaviours cp, rsync, tar, git, editors and video players rely on; they all pass
on tmpfs, and the FUSE filesystem is to match tmpfs. The 4 MiB sizes are Vishwarupa's chunk size.

Checks that may legitimately differ on a FUSE filesystem (skip them with --skip if the difference
is deliberate, and say why where the skip is written down):
  st_blocks_sparse     st_blocks is whatever the server reports; a server that does not track
                       holes reports a sparse file as fully allocated.
  readdir_ino          d_ino in a listing is the server's readdir answer and may differ from st_ino
                       (libfuse's high-level API without `use_ino`).
  raw_dot_entries      the kernel does not make up "." and ".." for FUSE: the server must list them.
  unlink_open_fstat    st_nlink of an unlinked-but-open file is the server's answer (tmpfs: 0).
  name_non_utf8        a filesystem that keeps names as Unicode strings may refuse names that are
                       not UTF-8 (such names then cannot be copied in by rsync or tar).
  mmap_shared_write    not possible on a mount that uses FOPEN_DIRECT_IO without
                       FUSE_DIRECT_IO_ALLOW_MMAP.
  renameat2_exchange   needs the server to implement RENAME_EXCHANGE (otherwise EINVAL).
  posix_locks, flock   handled by the kernel unless the server implements locking; they differ
                       only if the server implements them wrongly.
Timestamps are compared to the microsecond; a filesystem with coarser timestamps fails
utime_ns, rsync_pattern, utime_before_close and copy2_preserve. st_blocks of a file without holes
must lie between its size and size + max(size / 8, 64 KiB).

What the kernel leaves to a FUSE server (so tmpfs gets it for free and the server must do it):
  - ENAMETOOLONG for a 256-byte name (name_max): FUSE passes names of up to 1024 bytes through.
  - "." and ".." in readdir (raw_dot_entries), and d_ino equal to st_ino (readdir_ino).
  - An unlinked open file leaves no hidden name behind (unlink_open_file fails on libfuse's
    ".fuse_hidden*" renames, i.e. the high-level API without hard_remove).
  - Stable readdir offsets while entries are removed (readdir_while_unlinking: rm -r).
  - Names are bytes: no case folding, no Unicode normalisation, non-UTF-8 accepted.
For comparison, ext4 fails only xattr_large (its xattr values must fit in one block).
"""

import argparse
import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import hashlib
import mmap
import os
import platform
import random
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import traceback
import unicodedata

KiB = 1 << 10
MiB = 1 << 20
CHUNK = 4 * MiB  # Vishwarupa's chunk size: interesting offsets sit around its multiples

# An old timestamp set before an operation that must update it (no sleeping needed to see a change).
OLD_NS = 1_000_000_000_123_456_789  # 2001-09-09


# -- Failure reporting ---------------------------------------------------------------------------

class CheckFailed(Exception):
    """A check saw something other than what POSIX (as Linux implements it) says."""


class CheckSkipped(Exception):
    """A check cannot run here (for instance it needs root)."""


def fail(message):
    raise CheckFailed(message)


def expect(condition, message):
    if not condition:
        fail(message)


def expect_eq(what, expected, actual):
    if expected != actual:
        fail("%s: expected %r, got %r" % (what, expected, actual))


def expect_bytes(what, expected, actual):
    """Compares byte strings without printing megabytes: reports lengths and the first difference."""
    if expected == actual:
        return
    if len(expected) != len(actual):
        detail = "expected %d bytes, got %d" % (len(expected), len(actual))
    else:
        detail = "%d bytes as expected" % len(expected)
    for offset, (a, b) in enumerate(zip(expected, actual)):
        if a != b:
            detail += "; first difference at offset %d (expected 0x%02x, got 0x%02x)" % (offset, a, b)
            break
    fail("%s: %s" % (what, detail))


def errno_name(number):
    return errno.errorcode.get(number, str(number))


def expect_errno(what, expected, function, *args, **kwargs):
    """Calls function and requires it to fail with OSError errno `expected`."""
    try:
        result = function(*args, **kwargs)
    except OSError as error:
        if error.errno != expected:
            fail("%s: expected %s, got %s (%s)" % (what, errno_name(expected), errno_name(error.errno),
                                                    error.strerror))
        return
    if isinstance(result, int) and function in (os.open, os.dup):
        os.close(result)
    fail("%s: expected %s, but it succeeded" % (what, errno_name(expected)))


def expect_missing(what, path):
    expect_errno(what, errno.ENOENT, os.lstat, path)


# -- File helpers --------------------------------------------------------------------------------

@contextlib.contextmanager
def opened(path, flags=os.O_RDONLY, mode=0o644):
    fd = os.open(path, flags, mode)
    try:
        yield fd
    finally:
        os.close(fd)


def write_all(fd, data):
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        expect(written > 0, "write returned %d with %d bytes left" % (written, len(view)))
        view = view[written:]


def pwrite_all(fd, data, offset):
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        expect(written > 0, "pwrite at %d returned %d with %d bytes left" % (offset, written, len(view)))
        view = view[written:]
        offset += written


def read_all(fd):
    parts = []
    while True:
        part = os.read(fd, 1 * MiB)
        if not part:
            return b"".join(parts)
        parts.append(part)


def pread_upto(fd, count, offset):
    """Reads count bytes at offset, fewer only at end of file."""
    parts, left = [], count
    while left > 0:
        part = os.pread(fd, left, offset)
        if not part:
            break
        parts.append(part)
        left -= len(part)
        offset += len(part)
    return b"".join(parts)


def write_file(path, data, mode=0o644):
    with opened(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode) as fd:
        write_all(fd, data)


def read_file(path):
    with opened(path) as fd:
        return read_all(fd)


def touch(path, mode=0o644):
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, mode))


def sha(data):
    return hashlib.sha256(data).hexdigest()[:16]


def apply(model, data, offset):
    """The model of a pwrite: bytearray `model` after writing data at offset (holes are zeros)."""
    if offset > len(model):
        model.extend(bytes(offset - len(model)))
    model[offset:offset + len(data)] = data


# -- Linux calls Python does not wrap ------------------------------------------------------------

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
AT_FDCWD = -100
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
_SYS_RENAMEAT2 = {"x86_64": 316, "aarch64": 276, "riscv64": 276, "ppc64le": 357, "s390x": 347,
                  "i686": 353, "i386": 353, "armv7l": 382}


def renameat2(old, new, flags):
    """renameat2(2) through the raw syscall (glibc's wrapper is only as old as 2.28)."""
    number = _SYS_RENAMEAT2.get(platform.machine())
    if number is None:
        raise CheckSkipped("renameat2 syscall number unknown for %s" % platform.machine())
    ctypes.set_errno(0)
    result = _libc.syscall(ctypes.c_long(number), ctypes.c_int(AT_FDCWD), ctypes.c_char_p(os.fsencode(old)),
                           ctypes.c_int(AT_FDCWD), ctypes.c_char_p(os.fsencode(new)), ctypes.c_uint(flags))
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), old, None, new)


class _Dirent64(ctypes.Structure):
    _fields_ = [("d_ino", ctypes.c_uint64), ("d_off", ctypes.c_int64), ("d_reclen", ctypes.c_ushort),
                ("d_type", ctypes.c_ubyte), ("d_name", ctypes.c_char * 256)]


_libc.opendir.restype = ctypes.c_void_p
_libc.opendir.argtypes = [ctypes.c_char_p]
_libc.readdir64.restype = ctypes.POINTER(_Dirent64)
_libc.readdir64.argtypes = [ctypes.c_void_p]
_libc.closedir.argtypes = [ctypes.c_void_p]


def raw_listing(path):
    """Every name readdir(3) returns, "." and ".." included (os.listdir and os.scandir drop them)."""
    handle = _libc.opendir(os.fsencode(path))
    if not handle:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), path)
    names = []
    try:
        while True:
            ctypes.set_errno(0)
            entry = _libc.readdir64(handle)
            if not entry:
                code = ctypes.get_errno()
                if code:
                    raise OSError(code, os.strerror(code), path)
                return names
            names.append(os.fsdecode(entry.contents.d_name))
    finally:
        _libc.closedir(handle)


# -- The check registry --------------------------------------------------------------------------

CHECKS = []  # (name, function) in the order they run


def check(name):
    def register(function):
        assert name not in (n for n, _ in CHECKS), name
        CHECKS.append((name, function))
        return function
    return register


class Context:
    """What a check gets: its own empty directory and a random generator seeded by its name."""

    def __init__(self, directory, seed, name):
        self.dir = directory
        self.rng = random.Random("%s/%s" % (seed, name))

    def p(self, *parts):
        return os.path.join(self.dir, *parts)

    def data(self, count):
        return self.rng.randbytes(count)


# == Reading and writing =========================================================================

@check("write_read")
def check_write_read(t):
    empty = t.p("empty")
    with opened(empty, os.O_WRONLY | os.O_CREAT | os.O_EXCL) as fd:
        expect_eq("size of a new file (fstat)", 0, os.fstat(fd).st_size)
    expect_bytes("read of an empty file", b"", read_file(empty))

    path, data = t.p("file"), t.data(100_000)
    with opened(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL) as fd:
        for start in range(0, len(data), 30_000):  # several writes that continue at the file offset
            write_all(fd, data[start:start + 30_000])
    expect_eq("st_size after writing", len(data), os.stat(path).st_size)
    expect_bytes("read back", data, read_file(path))
    with opened(path) as fd:
        expect_bytes("read in 7-byte pieces", data[:700], b"".join(os.read(fd, 7) for _ in range(100)))


@check("sparse_hole")
def check_sparse_hole(t):
    path, offset = t.p("sparse"), 3 * MiB + 123
    with opened(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL) as fd:
        pwrite_all(fd, b"tail", offset)
    expect_eq("size after a write beyond EOF", offset + 4, os.stat(path).st_size)
    expect_bytes("file written only past a hole", bytes(offset) + b"tail", read_file(path))

    path = t.p("middle")
    head, tail = t.data(5000), t.data(5000)
    with opened(path, os.O_RDWR | os.O_CREAT | os.O_EXCL) as fd:
        write_all(fd, head)
        pwrite_all(fd, tail, 10 * MiB)
        expect_bytes("pread inside the hole", bytes(4096), pread_upto(fd, 4096, CHUNK - 2048))
    expect_bytes("file with a hole in the middle", head + bytes(10 * MiB - 5000) + tail, read_file(path))


@check("large_offset")
def check_large_offset(t):
    """Offsets past 4 GiB (a 32-bit offset or size somewhere in the stack would wrap)."""
    path, data = t.p("big-sparse"), t.data(64 * KiB)
    offset = (1 << 32) - 1000  # straddles 4 GiB
    with opened(path, os.O_RDWR | os.O_CREAT | os.O_EXCL) as fd:
        pwrite_all(fd, data, offset)
        pwrite_all(fd, b"end", 5 * (1 << 30))
        expect_eq("st_size after a write at 5 GiB", 5 * (1 << 30) + 3, os.fstat(fd).st_size)
        expect_bytes("read across 4 GiB", data, pread_upto(fd, len(data), offset))
        expect_bytes("read of the hole at 2 GiB", bytes(8192), pread_upto(fd, 8192, 1 << 31))
        expect_bytes("read at 5 GiB", b"end", pread_upto(fd, 100, 5 * (1 << 30)))
    expect_eq("st_size after close", 5 * (1 << 30) + 3, os.stat(path).st_size)


@check("overwrite_middle")
def check_overwrite_middle(t):
    path = t.p("file")
    model = bytearray(t.data(300_000))
    write_file(path, model)
    with opened(path, os.O_RDWR) as fd:
        for offset, count in ((150_000, 1000), (4095, 2), (8191, 4098), (0, 1), (299_999, 1)):
            piece = t.data(count)
            pwrite_all(fd, piece, offset)
            apply(model, piece, offset)
        expect_eq("st_size after overwriting inside the file", 300_000, os.fstat(fd).st_size)
    expect_bytes("content after overwrites", bytes(model), read_file(path))


@check("append")
def check_append(t):
    path = t.p("log")
    write_file(path, b"start\n")
    first = os.open(path, os.O_WRONLY | os.O_APPEND)
    second = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.lseek(first, 0, os.SEEK_SET)  # O_APPEND writes go to the end whatever the offset
        write_all(first, b"one\n")
        expect_eq("file offset after an O_APPEND write", 10, os.lseek(first, 0, os.SEEK_CUR))
        write_all(second, b"two\n")
        write_all(first, b"three\n")
        expect_eq("file offset after appends through another fd", 20, os.lseek(first, 0, os.SEEK_CUR))
    finally:
        os.close(first)
        os.close(second)
    expect_bytes("content after appends through two fds", b"start\none\ntwo\nthree\n", read_file(path))


@check("chunk_boundaries")
def check_chunk_boundaries(t):
    for size in (CHUNK - 1, CHUNK, CHUNK + 1):
        path, data = t.p("size-%d" % size), t.data(size)
        write_file(path, data)
        expect_eq("st_size of a %d-byte file" % size, size, os.stat(path).st_size)
        with opened(path) as fd:
            expect_bytes("read back of a %d-byte file" % size, data, read_all(fd))
            expect_bytes("pread of the last 2 bytes (%d)" % size, data[-2:], pread_upto(fd, 10, size - 2))
            expect_bytes("pread at EOF (%d)" % size, b"", os.pread(fd, 10, size))
            expect_bytes("pread past EOF (%d)" % size, b"", os.pread(fd, 10, size + 5000))

    path = t.p("straddle")
    model = bytearray(t.data(2 * CHUNK + 4096))
    write_file(path, model)
    writes = ((CHUNK - 1, 2), (CHUNK - 4096, 8192), (2 * CHUNK - 1, 1), (2 * CHUNK, 1),
              (CHUNK - 100_000, 300_000), (1, CHUNK), (2 * CHUNK + 4095, 1), (2 * CHUNK + 4000, 200))
    with opened(path, os.O_RDWR) as fd:
        for offset, count in writes:
            piece = t.data(count)
            pwrite_all(fd, piece, offset)
            apply(model, piece, offset)
        expect_eq("st_size after a write straddling EOF", len(model), os.fstat(fd).st_size)
        for offset, count in ((CHUNK - 1, 2), (CHUNK, 1), (CHUNK - 4096, 8192), (2 * CHUNK - 3, 6),
                              (CHUNK - 1, CHUNK + 2), (len(model) - 10, 100)):
            expect_bytes("pread(%d, at %d)" % (count, offset), bytes(model[offset:offset + count]),
                         pread_upto(fd, count, offset))
    expect_bytes("whole file after straddling writes", bytes(model), read_file(path))

    path = t.p("grow-over-boundary")  # a write that extends the file across a chunk boundary
    model = bytearray(t.data(CHUNK - 10))
    write_file(path, model)
    with opened(path, os.O_WRONLY) as fd:
        piece = t.data(20)
        pwrite_all(fd, piece, CHUNK - 10)
        apply(model, piece, CHUNK - 10)
    expect_eq("st_size after extending across 4 MiB", CHUNK + 10, os.stat(path).st_size)
    expect_bytes("file extended across 4 MiB", bytes(model), read_file(path))


@check("random_order_large")
def check_random_order_large(t):
    path, data = t.p("large"), t.data(10 * MiB + 12345)
    pieces = list(range((len(data) + MiB - 1) // MiB))
    t.rng.shuffle(pieces)
    with opened(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL) as fd:
        for index in pieces:
            pwrite_all(fd, data[index * MiB:(index + 1) * MiB], index * MiB)
    expect_eq("st_size after writing 1 MiB pieces in order %s" % pieces, len(data), os.stat(path).st_size)
    back = read_file(path)
    expect(sha(back) == sha(data), "sha256 of the read-back differs (%s, expected %s; pieces written in order %s)"
           % (sha(back), sha(data), pieces))
    expect_bytes("read back", data, back)
    with opened(path) as fd:  # a video player's seeks
        for _ in range(50):
            offset, count = t.rng.randrange(len(data)), t.rng.randrange(1, 300_000)
            expect_bytes("pread(%d, at %d)" % (count, offset), data[offset:offset + count],
                         pread_upto(fd, count, offset))


# == Truncation ==================================================================================

@check("truncate_grow")
def check_truncate_grow(t):
    path, data = t.p("file"), t.data(1000)
    write_file(path, data)
    os.truncate(path, CHUNK + 500)
    expect_eq("st_size after growing", CHUNK + 500, os.stat(path).st_size)
    expect_bytes("content after growing", data + bytes(CHUNK + 500 - 1000), read_file(path))


@check("truncate_shrink")
def check_truncate_shrink(t):
    path, data = t.p("file"), t.data(CHUNK + 5000)
    write_file(path, data)
    for size in (CHUNK + 10, CHUNK, 4097, 1, 0):
        os.truncate(path, size)
        expect_eq("st_size after truncating to %d" % size, size, os.stat(path).st_size)
        expect_bytes("content after truncating to %d" % size, data[:size], read_file(path))


@check("truncate_shrink_grow")
def check_truncate_shrink_grow(t):
    """Bytes dropped by a shrink must come back as zeros, never as the old data."""
    path, data = t.p("file"), t.data(2 * CHUNK + 100)
    for cut in (5000, CHUNK + 100, CHUNK):
        write_file(path, data)
        os.truncate(path, cut)
        os.truncate(path, len(data))
        expect_bytes("shrink to %d then grow to %d" % (cut, len(data)), data[:cut] + bytes(len(data) - cut),
                     read_file(path))
    # Shrink, then write past the new end: the gap must be zeros too.
    write_file(path, data)
    with opened(path, os.O_RDWR) as fd:
        os.ftruncate(fd, 1000)
        pwrite_all(fd, b"X", 3000)
        expect_bytes("shrink to 1000, write at 3000", data[:1000] + bytes(2000) + b"X", pread_upto(fd, 5000, 0))


@check("o_trunc")
def check_o_trunc(t):
    path = t.p("file")
    write_file(path, t.data(CHUNK + 1))
    with opened(path, os.O_WRONLY | os.O_TRUNC) as fd:
        expect_eq("st_size right after open(O_TRUNC)", 0, os.fstat(fd).st_size)
        write_all(fd, b"short")
    expect_bytes("content after O_TRUNC and a short write", b"short", read_file(path))


@check("ftruncate")
def check_ftruncate(t):
    path, data = t.p("file"), t.data(10_000)
    write_file(path, data)
    with opened(path, os.O_RDWR) as fd:
        os.lseek(fd, 8000, os.SEEK_SET)
        os.ftruncate(fd, 2000)
        expect_eq("fstat size after ftruncate shrink", 2000, os.fstat(fd).st_size)
        expect_eq("stat size after ftruncate shrink", 2000, os.stat(path).st_size)
        write_all(fd, b"Z")  # at offset 8000, past the new end: 2000..8000 must read as zeros
        os.ftruncate(fd, 9000)
        expect_eq("fstat size after ftruncate grow", 9000, os.fstat(fd).st_size)
    expect_bytes("content after ftruncate shrink, write, grow", data[:2000] + bytes(6000) + b"Z" + bytes(999),
                 read_file(path))


# == Metadata ====================================================================================

@check("st_size")
def check_st_size(t):
    path = t.p("file")
    with opened(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL) as fd:
        write_all(fd, t.data(12_345))
        expect_eq("fstat size before close", 12_345, os.fstat(fd).st_size)
        expect_eq("stat size before close", 12_345, os.stat(path).st_size)
        pwrite_all(fd, b"x", 99_999)
        expect_eq("stat size after a write past EOF, before close", 100_000, os.stat(path).st_size)
    expect_eq("stat size after close", 100_000, os.stat(path).st_size)


@check("st_blocks")
def check_st_blocks(t):
    touch(t.p("empty"))
    expect_eq("st_blocks of an empty file", 0, os.stat(t.p("empty")).st_blocks)
    for size in (1, 100_000, 5 * MiB + 3):
        path = t.p("file-%d" % size)
        write_file(path, t.data(size))
        blocks = os.stat(path).st_blocks
        expect(blocks * 512 >= size, "st_blocks of a %d-byte file is %d (%d bytes): less than the size"
               % (size, blocks, blocks * 512))
        expect(blocks * 512 <= size + max(size // 8, 64 * KiB),
               "st_blocks of a %d-byte file is %d (%d bytes): far more than the size" % (size, blocks, blocks * 512))


@check("st_blocks_sparse")
def check_st_blocks_sparse(t):
    path = t.p("sparse")
    with opened(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL) as fd:
        pwrite_all(fd, b"x", 64 * MiB)
    blocks = os.stat(path).st_blocks
    expect(blocks * 512 < 16 * MiB, "st_blocks of a 64 MiB file holding 1 byte is %d (%d bytes)"
           % (blocks, blocks * 512))


@check("nlink_file")
def check_nlink_file(t):
    touch(t.p("file"))
    expect_eq("st_nlink of a new file", 1, os.stat(t.p("file")).st_nlink)


@check("nlink_dir")
def check_nlink_dir(t):
    top, other = t.p("top"), t.p("other")
    os.mkdir(top)
    os.mkdir(other)
    expect_eq("st_nlink of an empty dir", 2, os.stat(top).st_nlink)
    for name in ("a", "b", "c"):
        os.mkdir(os.path.join(top, name))
    touch(os.path.join(top, "file"))
    expect_eq("st_nlink of a dir with 3 subdirs and a file", 5, os.stat(top).st_nlink)
    os.rmdir(os.path.join(top, "a"))
    expect_eq("st_nlink after rmdir of a subdir", 4, os.stat(top).st_nlink)
    os.rename(os.path.join(top, "b"), os.path.join(other, "b"))
    expect_eq("st_nlink of the old parent after moving a subdir out", 3, os.stat(top).st_nlink)
    expect_eq("st_nlink of the new parent after moving a subdir in", 3, os.stat(other).st_nlink)
    before = os.stat(t.dir).st_nlink
    os.mkdir(t.p("another"))
    expect_eq("st_nlink of the parent after mkdir", before + 1, os.stat(t.dir).st_nlink)


@check("mode_bits")
def check_mode_bits(t):
    """Type bits, and permission bits from the create mode with the umask (022, set by main) applied."""
    with opened(t.p("file"), os.O_WRONLY | os.O_CREAT, 0o666):
        pass
    os.mkdir(t.p("dir"), 0o777)
    with opened(t.p("private"), os.O_WRONLY | os.O_CREAT, 0o600):
        pass
    os.symlink("file", t.p("link"))
    mode = os.stat(t.p("file")).st_mode
    expect(stat.S_ISREG(mode), "file: st_mode %o is not S_IFREG" % mode)
    expect_eq("file created with 0666 under umask 022", 0o644, stat.S_IMODE(mode))
    mode = os.stat(t.p("dir")).st_mode
    expect(stat.S_ISDIR(mode), "dir: st_mode %o is not S_IFDIR" % mode)
    expect_eq("dir created with 0777 under umask 022", 0o755, stat.S_IMODE(mode))
    expect_eq("file created with 0600", 0o600, stat.S_IMODE(os.stat(t.p("private")).st_mode))
    mode = os.lstat(t.p("link")).st_mode
    expect(stat.S_ISLNK(mode), "symlink: lstat st_mode %o is not S_IFLNK" % mode)


@check("special_files")
def check_special_files(t):
    """A FIFO (tar, cp -a and rsync -a copy them)."""
    if NO_SPECIAL_FILES:
        expect_errno("mkfifo where special files are refused", errno.EPERM, os.mkfifo, t.p("fifo"), 0o644)
        expect_eq("listing after a refused fifo", [], os.listdir(t.dir))
        return
    os.mkfifo(t.p("fifo"), 0o644)
    mode = os.lstat(t.p("fifo")).st_mode
    expect(stat.S_ISFIFO(mode), "mkfifo: st_mode %o is not S_IFIFO" % mode)
    expect_eq("fifo permission bits", 0o644, stat.S_IMODE(mode))
    expect_eq("listing with a fifo", ["fifo"], os.listdir(t.dir))


@check("mtime_on_write")
def check_mtime_on_write(t):
    path = t.p("file")
    start = time.time()
    write_file(path, b"first")
    mtime = os.stat(path).st_mtime
    expect(start - 5 <= mtime <= time.time() + 5, "mtime of a new file is %.3f, now is %.3f" % (mtime, time.time()))
    for what, operation in (("write", lambda fd: write_all(fd, b"more")),
                            ("pwrite", lambda fd: pwrite_all(fd, b"x", 1)),
                            ("ftruncate", lambda fd: os.ftruncate(fd, 2))):
        os.utime(path, ns=(OLD_NS, OLD_NS))
        ctime = os.stat(path).st_ctime_ns
        time.sleep(0.02)
        with opened(path, os.O_WRONLY | os.O_APPEND) as fd:
            operation(fd)
            during = os.fstat(fd)
        after = os.stat(path)
        expect(after.st_mtime_ns != OLD_NS, "mtime did not change on %s" % what)
        expect(after.st_mtime >= start - 5, "mtime after %s is %.3f, before the check began (%.3f)"
               % (what, after.st_mtime, start))
        expect(during.st_mtime_ns != OLD_NS, "mtime (fstat before close) did not change on %s" % what)
        expect(after.st_ctime_ns > ctime,
               "ctime did not advance on %s (%d, then %d)" % (what, ctime, after.st_ctime_ns))


@check("ctime_on_chmod")
def check_ctime_on_chmod(t):
    path = t.p("file")
    write_file(path, b"data")
    before = os.stat(path)
    time.sleep(0.05)
    os.chmod(path, 0o600)
    after = os.stat(path)
    expect(after.st_ctime_ns > before.st_ctime_ns, "ctime did not advance on chmod (%d, then %d)"
           % (before.st_ctime_ns, after.st_ctime_ns))
    expect_eq("mtime across chmod", before.st_mtime_ns, after.st_mtime_ns)


@check("dir_mtime")
def check_dir_mtime(t):
    """A directory's mtime changes when an entry is added, removed or renamed (rsync, make, ls -t)."""
    directory = t.p("dir")
    os.mkdir(directory)
    steps = (("create", lambda: touch(os.path.join(directory, "a"))),
             ("rename inside", lambda: os.rename(os.path.join(directory, "a"), os.path.join(directory, "b"))),
             ("mkdir", lambda: os.mkdir(os.path.join(directory, "sub"))),
             ("unlink", lambda: os.unlink(os.path.join(directory, "b"))),
             ("rmdir", lambda: os.rmdir(os.path.join(directory, "sub"))))
    for what, step in steps:
        os.utime(directory, ns=(OLD_NS, OLD_NS))
        step()
        expect(os.stat(directory).st_mtime_ns != OLD_NS, "directory mtime did not change on %s" % what)


@check("utime_ns")
def check_utime_ns(t):
    path = t.p("file")
    os.mkdir(t.p("dir"))
    write_file(path, b"data")
    cases = ((1_234_567_890_123_456_789, 1_600_000_000_987_654_321),
             (4_102_444_800_000_001_000, 4_102_444_800_999_999_999),  # 2100: past 2038
             (0, 1))
    for target in (path, t.p("dir")):
        for atime, mtime in cases:
            os.utime(target, ns=(atime, mtime))
            result = os.stat(target)
            for what, expected, actual in (("atime", atime, result.st_atime_ns), ("mtime", mtime, result.st_mtime_ns)):
                expect(actual // 1000 == expected // 1000,
                       "%s of %s after utime(ns=%d): got %d (differs at microsecond precision)"
                       % (what, os.path.basename(target), expected, actual))
    before = time.time()
    os.utime(path, None)
    mtime = os.stat(path).st_mtime
    expect(before - 5 <= mtime <= time.time() + 5, "utime(None) set mtime to %.3f, now is %.3f" % (mtime, time.time()))


@check("utime_before_close")
def check_utime_before_close(t):
    """cp -p and tar set times on the fd after writing and before closing; the close must not undo it."""
    for use_path in (False, True):
        path = t.p("file-%s" % use_path)
        with opened(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL) as fd:
            write_all(fd, t.data(3 * MiB))
            os.utime(path if use_path else fd, ns=(OLD_NS, OLD_NS + 1000))
        after = os.stat(path)
        expect(after.st_mtime_ns // 1000 == (OLD_NS + 1000) // 1000,
               "mtime set with utime(%s) before close was %d, after close %d"
               % ("path" if use_path else "fd", OLD_NS + 1000, after.st_mtime_ns))


@check("chmod")
def check_chmod(t):
    path = t.p("file")
    data = t.data(5000)
    write_file(path, data)
    before = os.stat(path)
    for mode in (0o640, 0o755, 0o4755, 0o2750, 0o000, 0o644):
        os.chmod(path, mode)
        expect_eq("mode after chmod %o" % mode, mode, stat.S_IMODE(os.stat(path).st_mode))
    after = os.stat(path)
    expect_eq("size, mtime across chmods", (before.st_size, before.st_mtime_ns), (after.st_size, after.st_mtime_ns))
    with opened(path, os.O_RDWR) as fd:
        os.fchmod(fd, 0o444)
        expect_eq("mode after fchmod 444", 0o444, stat.S_IMODE(os.fstat(fd).st_mode))
        pwrite_all(fd, b"still writable", 0)  # permissions are checked at open, not on each write
    expect_bytes("content after chmods", b"still writable" + data[14:], read_file(path))
    os.mkdir(t.p("dir"))
    for mode in (0o1777, 0o2755, 0o700):
        os.chmod(t.p("dir"), mode)
        expect_eq("dir mode after chmod %o" % mode, mode, stat.S_IMODE(os.stat(t.p("dir")).st_mode))


@check("create_readonly_writable")
def check_create_readonly_writable(t):
    """open(O_CREAT|O_RDWR, 0444) gives a writable fd on the new file (git writes objects this way)."""
    path = t.p("object")
    with opened(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o444) as fd:
        write_all(fd, b"blob contents")
    expect_eq("mode of a file created with 0444", 0o444, stat.S_IMODE(os.stat(path).st_mode))
    expect_bytes("content written through the create fd", b"blob contents", read_file(path))


@check("permissions")
def check_permissions(t):
    """What mode bits allow: root passes every check but execute without x bits; anyone else is
    refused what the bits deny (EACCES), and changes reserved to owners and root (EPERM)."""
    root = os.geteuid() == 0

    def refused(what, expected, function, *args):
        if root:
            function(*args)
        else:
            expect_errno(what, expected, function, *args)

    def open_close(path, flags):
        os.close(os.open(path, flags))

    read_only = t.p("read-only")
    write_file(read_only, b"data")
    os.setxattr(read_only, "user.kept", b"1")
    os.chmod(read_only, 0o444)
    open_close(read_only, os.O_RDONLY)
    refused("open(O_WRONLY) of a 0444 file", errno.EACCES, open_close, read_only, os.O_WRONLY)
    refused("open(O_RDWR) of a 0444 file", errno.EACCES, open_close, read_only, os.O_RDWR)
    refused("truncate of a 0444 file", errno.EACCES, os.truncate, read_only, 1)
    refused("setxattr on a 0444 file", errno.EACCES, os.setxattr, read_only, "user.new", b"1")
    expect_eq("getxattr of a 0444 file", b"1", os.getxattr(read_only, "user.kept"))
    expect_eq("access(R_OK) of a 0444 file", True, os.access(read_only, os.R_OK))
    expect_eq("access(W_OK) of a 0444 file", root, os.access(read_only, os.W_OK))
    expect_eq("access(X_OK) of a 0444 file", False, os.access(read_only, os.X_OK))
    os.utime(read_only, None)  # the owner may touch
    os.utime(read_only, ns=(1_000_000_000, 2_000_000_000))  # and set times

    write_only = t.p("write-only")
    write_file(write_only, b"data", mode=0o200)
    os.chmod(write_only, 0o200)
    open_close(write_only, os.O_WRONLY)
    refused("open(O_RDONLY) of a 0200 file", errno.EACCES, open_close, write_only, os.O_RDONLY)
    expect_errno("getxattr of a 0200 file", errno.ENODATA if root else errno.EACCES, os.getxattr, write_only, "user.none")

    locked = t.p("locked")  # listed and entered, not changed
    os.mkdir(locked)
    write_file(os.path.join(locked, "inside"), b"data")
    os.chmod(locked, 0o555)
    refused("create in a 0555 directory", errno.EACCES, write_file, os.path.join(locked, "new"), b"")
    refused("mkdir in a 0555 directory", errno.EACCES, os.mkdir, os.path.join(locked, "sub"))
    refused("symlink in a 0555 directory", errno.EACCES, os.symlink, "x", os.path.join(locked, "link"))
    refused("unlink in a 0555 directory", errno.EACCES, os.unlink, os.path.join(locked, "inside"))
    if root:
        write_file(os.path.join(locked, "inside"), b"data")
    refused("rename within a 0555 directory", errno.EACCES, os.rename, os.path.join(locked, "inside"),
            os.path.join(locked, "renamed"))
    if root:
        os.rename(os.path.join(locked, "renamed"), os.path.join(locked, "inside"))
    refused("rename out of a 0555 directory", errno.EACCES, os.rename, os.path.join(locked, "inside"), t.p("out"))
    if root:
        os.rename(t.p("out"), os.path.join(locked, "inside"))
    refused("link into a 0555 directory", errno.EACCES, os.link, read_only, os.path.join(locked, "hard"))
    expect_eq("listing of a 0555 directory", ["hard", "inside", "link", "new", "sub"] if root else ["inside"],
              sorted(os.listdir(locked)))

    unsearchable = t.p("unsearchable")  # listed, not entered
    os.mkdir(unsearchable)
    os.chmod(unsearchable, 0o600)
    expect_errno("lookup in a 0600 directory", errno.ENOENT if root else errno.EACCES, os.stat,
                 os.path.join(unsearchable, "missing"))
    expect_eq("access(X_OK) of a 0600 directory", root, os.access(unsearchable, os.X_OK))
    if not root:
        # A name already looked up must not stay reachable once search permission goes (a FUSE
        # server that checks permissions itself has the kernel forget its cached names).
        closing = t.p("closing")
        os.mkdir(closing)
        write_file(os.path.join(closing, "inside"), b"data")
        os.stat(os.path.join(closing, "inside"))
        os.chmod(closing, 0o600)
        deadline = time.monotonic() + 3
        while True:
            try:
                os.stat(os.path.join(closing, "inside"))
            except PermissionError:
                break
            if time.monotonic() > deadline:
                fail("a cached name in a directory chmod 0600 stayed reachable for 3 s")
            time.sleep(0.01)
        os.chmod(closing, 0o755)
    unreadable = t.p("unreadable")  # entered, not listed
    os.mkdir(unreadable)
    os.chmod(unreadable, 0o300)
    refused("listing of a 0300 directory", errno.EACCES, os.listdir, unreadable)

    program = t.p("program")
    write_file(program, b"#!/bin/sh\nexit 0\n")
    os.chmod(program, 0o644)
    expect_errno("execute of a file without x bits", errno.EACCES, os.execv, program, [program])

    if not root:
        expect_errno("chown to root", errno.EPERM, os.chown, read_only, 0, -1)
        expect_errno("chgrp to a group the caller is not in", errno.EPERM, os.chown, read_only, -1, 0)
    for path in (locked, unsearchable, unreadable):
        os.chmod(path, 0o755)


@check("chown")
def check_chown(t):
    if os.geteuid() != 0:
        raise CheckSkipped("needs root")
    path = t.p("file")
    write_file(path, b"data")
    os.chown(path, 4242, 4343)
    result = os.stat(path)
    expect_eq("uid, gid after chown", (4242, 4343), (result.st_uid, result.st_gid))
    os.chown(path, -1, 4444)
    result = os.stat(path)
    expect_eq("uid, gid after chown(-1, 4444)", (4242, 4444), (result.st_uid, result.st_gid))
    with opened(path) as fd:
        os.fchown(fd, 0, 0)
    result = os.stat(path)
    expect_eq("uid, gid after fchown", (0, 0), (result.st_uid, result.st_gid))
    os.mkdir(t.p("dir"))
    os.chown(t.p("dir"), 1000, 1000)
    result = os.stat(t.p("dir"))
    expect_eq("dir uid, gid after chown", (1000, 1000), (result.st_uid, result.st_gid))
    os.symlink("file", t.p("link"))
    os.lchown(t.p("link"), 777, 888)
    link, target = os.lstat(t.p("link")), os.stat(path)
    expect_eq("symlink uid, gid after lchown", (777, 888), (link.st_uid, link.st_gid))
    expect_eq("target uid, gid after lchown of a link to it", (0, 0), (target.st_uid, target.st_gid))


# == Directories and error numbers ===============================================================

@check("mkdir_rmdir")
def check_mkdir_rmdir(t):
    path = t.p("dir")
    os.mkdir(path)
    expect(stat.S_ISDIR(os.stat(path).st_mode), "mkdir did not make a directory")
    expect_eq("listing of a new directory", [], os.listdir(path))
    os.rmdir(path)
    expect_missing("stat after rmdir", path)
    os.makedirs(t.p("a", "b", "c", "d"))
    touch(t.p("a", "b", "c", "d", "file"))
    expect(os.path.isfile(t.p("a", "b", "c", "d", "file")), "file in a nested directory is missing")


@check("rmdir_not_empty")
def check_rmdir_not_empty(t):
    for name, content in (("with-file", "file"), ("with-dir", "sub"), ("with-dotfile", ".hidden")):
        directory = t.p(name)
        os.mkdir(directory)
        (os.mkdir if content == "sub" else touch)(os.path.join(directory, content))
        expect_errno("rmdir of a dir holding %s" % content, errno.ENOTEMPTY, os.rmdir, directory)
        expect(os.path.isdir(directory), "a failed rmdir removed the directory")


@check("rmdir_file")
def check_rmdir_file(t):
    touch(t.p("file"))
    expect_errno("rmdir of a file", errno.ENOTDIR, os.rmdir, t.p("file"))
    expect(os.path.isfile(t.p("file")), "a failed rmdir removed the file")


@check("unlink_dir")
def check_unlink_dir(t):
    os.mkdir(t.p("dir"))
    expect_errno("unlink of a directory", errno.EISDIR, os.unlink, t.p("dir"))
    expect(os.path.isdir(t.p("dir")), "a failed unlink removed the directory")


@check("mkdir_exists")
def check_mkdir_exists(t):
    os.mkdir(t.p("dir"))
    touch(t.p("file"))
    os.symlink("nowhere", t.p("dangling"))
    expect_errno("mkdir over a directory", errno.EEXIST, os.mkdir, t.p("dir"))
    expect_errno("mkdir over a file", errno.EEXIST, os.mkdir, t.p("file"))
    expect_errno("mkdir over a dangling symlink", errno.EEXIST, os.mkdir, t.p("dangling"))


@check("create_excl_exists")
def check_create_excl_exists(t):
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    write_file(t.p("file"), b"keep me")
    os.mkdir(t.p("dir"))
    os.symlink("nowhere", t.p("dangling"))
    expect_errno("O_CREAT|O_EXCL over a file", errno.EEXIST, os.open, t.p("file"), flags)
    expect_errno("O_CREAT|O_EXCL over a directory", errno.EEXIST, os.open, t.p("dir"), flags)
    expect_errno("O_CREAT|O_EXCL over a dangling symlink", errno.EEXIST, os.open, t.p("dangling"), flags)
    expect_bytes("file after a failed O_EXCL create", b"keep me", read_file(t.p("file")))
    expect_missing("target of the dangling symlink after O_EXCL", t.p("nowhere"))


@check("lookup_missing")
def check_lookup_missing(t):
    missing = t.p("missing")
    expect_errno("stat of a missing name", errno.ENOENT, os.stat, missing)
    expect_errno("open of a missing name", errno.ENOENT, os.open, missing, os.O_RDONLY)
    expect_errno("open O_CREAT in a missing dir", errno.ENOENT, os.open, t.p("missing", "x"),
                 os.O_WRONLY | os.O_CREAT)
    expect_errno("unlink of a missing name", errno.ENOENT, os.unlink, missing)
    expect_errno("rmdir of a missing name", errno.ENOENT, os.rmdir, missing)
    expect_errno("rename of a missing name", errno.ENOENT, os.rename, missing, t.p("other"))
    expect_errno("listdir of a missing name", errno.ENOENT, os.listdir, missing)
    expect_errno("getxattr of a missing name", errno.ENOENT, os.getxattr, missing, "user.test")


@check("file_as_dir")
def check_file_as_dir(t):
    path = t.p("file")
    touch(path)
    expect_errno("stat of file/x", errno.ENOTDIR, os.stat, os.path.join(path, "x"))
    expect_errno("open of file/x", errno.ENOTDIR, os.open, os.path.join(path, "x"), os.O_RDONLY)
    expect_errno("create of file/x", errno.ENOTDIR, os.open, os.path.join(path, "x"), os.O_WRONLY | os.O_CREAT)
    expect_errno("mkdir of file/x", errno.ENOTDIR, os.mkdir, os.path.join(path, "x"))
    expect_errno("stat of file/", errno.ENOTDIR, os.stat, path + "/")
    expect_errno("open(O_DIRECTORY) of a file", errno.ENOTDIR, os.open, path, os.O_RDONLY | os.O_DIRECTORY)
    expect_errno("listdir of a file", errno.ENOTDIR, os.listdir, path)


@check("dir_as_file")
def check_dir_as_file(t):
    directory = t.p("dir")
    os.mkdir(directory)
    expect_errno("open of a directory for writing", errno.EISDIR, os.open, directory, os.O_WRONLY)
    expect_errno("open of a directory O_RDWR", errno.EISDIR, os.open, directory, os.O_RDWR)
    with opened(directory) as fd:
        expect_errno("read of a directory fd", errno.EISDIR, os.read, fd, 100)


# == Rename ======================================================================================

@check("rename_file")
def check_rename_file(t):
    data = t.data(5000)
    write_file(t.p("old"), data)
    inode = os.stat(t.p("old")).st_ino
    os.rename(t.p("old"), t.p("new"))
    expect_missing("old name after rename", t.p("old"))
    expect_bytes("content under the new name", data, read_file(t.p("new")))
    expect_eq("inode across rename", inode, os.stat(t.p("new")).st_ino)
    expect_eq("listing after rename", ["new"], os.listdir(t.dir))


@check("rename_across_dirs")
def check_rename_across_dirs(t):
    for name in ("a", "b"):
        os.mkdir(t.p(name))
    data = t.data(5000)
    write_file(t.p("a", "file"), data)
    os.rename(t.p("a", "file"), t.p("b", "moved"))
    expect_missing("file in the old dir", t.p("a", "file"))
    expect_bytes("file in the new dir", data, read_file(t.p("b", "moved")))

    os.makedirs(t.p("a", "tree", "deeper"))
    write_file(t.p("a", "tree", "deeper", "leaf"), b"leaf")
    os.rename(t.p("a", "tree"), t.p("b", "tree"))
    expect_missing("dir in the old parent", t.p("a", "tree"))
    expect_bytes("file inside a moved dir", b"leaf", read_file(t.p("b", "tree", "deeper", "leaf")))
    expect_eq("'..' of a moved dir", os.stat(t.p("b")).st_ino, os.stat(t.p("b", "tree", "..")).st_ino)
    expect_eq("listings of both parents", ([], ["moved", "tree"]),
              (sorted(os.listdir(t.p("a"))), sorted(os.listdir(t.p("b")))))


@check("rename_replace_file")
def check_rename_replace_file(t):
    new, old = t.data(7000), t.data(CHUNK + 3)
    write_file(t.p("source"), new)
    write_file(t.p("target"), old)
    inode = os.stat(t.p("source")).st_ino
    with opened(t.p("target")) as reader:
        os.rename(t.p("source"), t.p("target"))
        expect_bytes("target after rename over it", new, read_file(t.p("target")))
        expect_eq("inode of the target name after rename over it", inode, os.stat(t.p("target")).st_ino)
        expect_bytes("old target through an fd opened before the rename", old, read_all(reader))
    expect_eq("listing after rename over a file", ["target"], os.listdir(t.dir))


@check("rename_dir_over_empty_dir")
def check_rename_dir_over_empty_dir(t):
    os.mkdir(t.p("source"))
    touch(t.p("source", "inside"))
    os.mkdir(t.p("target"))
    os.rename(t.p("source"), t.p("target"))
    expect_eq("listing of the target after rename over an empty dir", ["inside"], os.listdir(t.p("target")))
    expect_eq("listing of the parent", ["target"], os.listdir(t.dir))
    expect_eq("st_nlink of the parent", 3, os.stat(t.dir).st_nlink)


@check("rename_dir_over_nonempty_dir")
def check_rename_dir_over_nonempty_dir(t):
    os.mkdir(t.p("source"))
    os.mkdir(t.p("target"))
    touch(t.p("target", "occupant"))
    expect_errno("rename of a dir over a non-empty dir", errno.ENOTEMPTY, os.rename, t.p("source"), t.p("target"))
    expect(os.path.isdir(t.p("source")) and os.path.isfile(t.p("target", "occupant")),
           "a failed rename changed the tree")


@check("rename_file_over_dir")
def check_rename_file_over_dir(t):
    touch(t.p("file"))
    os.mkdir(t.p("dir"))
    expect_errno("rename of a file over a dir", errno.EISDIR, os.rename, t.p("file"), t.p("dir"))
    expect(os.path.isfile(t.p("file")) and os.path.isdir(t.p("dir")), "a failed rename changed the tree")


@check("rename_dir_over_file")
def check_rename_dir_over_file(t):
    touch(t.p("file"))
    os.mkdir(t.p("dir"))
    expect_errno("rename of a dir over a file", errno.ENOTDIR, os.rename, t.p("dir"), t.p("file"))
    expect(os.path.isfile(t.p("file")) and os.path.isdir(t.p("dir")), "a failed rename changed the tree")


@check("rename_into_own_subdir")
def check_rename_into_own_subdir(t):
    os.makedirs(t.p("dir", "sub", "deeper"))
    expect_errno("rename of a dir into its subdir", errno.EINVAL, os.rename, t.p("dir"), t.p("dir", "sub", "x"))
    expect_errno("rename of a dir into a deeper subdir", errno.EINVAL, os.rename, t.p("dir"),
                 t.p("dir", "sub", "deeper", "x"))
    expect(os.path.isdir(t.p("dir", "sub", "deeper")), "a failed rename changed the tree")


@check("rename_same_name")
def check_rename_same_name(t):
    write_file(t.p("file"), b"content")
    inode = os.stat(t.p("file")).st_ino
    os.rename(t.p("file"), t.p("file"))
    expect_bytes("content after rename to the same name", b"content", read_file(t.p("file")))
    expect_eq("inode after rename to the same name", inode, os.stat(t.p("file")).st_ino)
    os.mkdir(t.p("dir"))
    os.rename(t.p("dir"), t.p("dir"))
    expect(os.path.isdir(t.p("dir")), "a dir renamed to itself is gone")
    # Two names of one inode: rename(a, b) does nothing and both names stay (POSIX).
    os.link(t.p("file"), t.p("alias"))
    os.rename(t.p("file"), t.p("alias"))
    expect_eq("listing after renaming a hard link onto another of the same inode", ["alias", "dir", "file"],
              sorted(os.listdir(t.dir)))
    expect_eq("st_nlink after that rename", 2, os.stat(t.p("file")).st_nlink)


@check("renameat2_noreplace")
def check_renameat2_noreplace(t):
    write_file(t.p("source"), b"source")
    write_file(t.p("target"), b"target")
    expect_errno("RENAME_NOREPLACE onto an existing name", errno.EEXIST, renameat2, t.p("source"), t.p("target"),
                 RENAME_NOREPLACE)
    expect_bytes("source after a refused rename", b"source", read_file(t.p("source")))
    expect_bytes("target after a refused rename", b"target", read_file(t.p("target")))
    renameat2(t.p("source"), t.p("fresh"), RENAME_NOREPLACE)
    expect_bytes("RENAME_NOREPLACE onto a free name", b"source", read_file(t.p("fresh")))
    expect_missing("source after RENAME_NOREPLACE", t.p("source"))


@check("renameat2_exchange")
def check_renameat2_exchange(t):
    write_file(t.p("a"), b"content of a")
    write_file(t.p("b"), b"content of b, longer")
    inodes = os.stat(t.p("a")).st_ino, os.stat(t.p("b")).st_ino
    renameat2(t.p("a"), t.p("b"), RENAME_EXCHANGE)
    expect_bytes("a after RENAME_EXCHANGE", b"content of b, longer", read_file(t.p("a")))
    expect_bytes("b after RENAME_EXCHANGE", b"content of a", read_file(t.p("b")))
    expect_eq("inodes of a, b after RENAME_EXCHANGE", inodes[::-1],
              (os.stat(t.p("a")).st_ino, os.stat(t.p("b")).st_ino))
    expect_errno("RENAME_EXCHANGE with a missing name", errno.ENOENT, renameat2, t.p("a"), t.p("missing"),
                 RENAME_EXCHANGE)


# == Unlinking an open file ======================================================================

@check("unlink_open_file")
def check_unlink_open_file(t):
    path, data = t.p("victim"), t.data(10_000)
    write_file(path, data)
    with opened(path, os.O_RDWR) as fd:
        os.unlink(path)
        expect_missing("stat after unlink", path)
        expect_errno("open after unlink", errno.ENOENT, os.open, path, os.O_RDONLY)
        expect_eq("listing after unlinking an open file (no hidden leftovers)", [], os.listdir(t.dir))
        expect_bytes("read through the fd after unlink", data, pread_upto(fd, 20_000, 0))
        more = t.data(CHUNK)
        pwrite_all(fd, more, len(data))
        expect_bytes("read back of a write through the fd after unlink", data + more,
                     pread_upto(fd, 2 * CHUNK, 0))
        write_file(path, b"new file")  # a new file under the old name is a different file
        expect_bytes("new file under the unlinked name", b"new file", read_file(path))
        expect_bytes("unlinked file after a new one took its name", data[:100], pread_upto(fd, 100, 0))
    expect_eq("listing after closing the unlinked file", ["victim"], os.listdir(t.dir))


@check("unlink_open_fstat")
def check_unlink_open_fstat(t):
    path = t.p("victim")
    write_file(path, b"12345")
    with opened(path, os.O_RDWR) as fd:
        os.unlink(path)
        write_all(fd, b"1234567")
        result = os.fstat(fd)
        expect_eq("fstat nlink of an unlinked open file", 0, result.st_nlink)
        expect_eq("fstat size of an unlinked open file", 7, result.st_size)


# == Symbolic links ==============================================================================

@check("symlink_basic")
def check_symlink_basic(t):
    write_file(t.p("target"), b"target data")
    os.symlink("target", t.p("link"))
    expect_eq("readlink", "target", os.readlink(t.p("link")))
    link, target = os.lstat(t.p("link")), os.stat(t.p("link"))
    expect(stat.S_ISLNK(link.st_mode), "lstat of a symlink: mode %o is not S_IFLNK" % link.st_mode)
    expect(stat.S_ISREG(target.st_mode), "stat through a symlink: mode %o is not S_IFREG" % target.st_mode)
    expect_eq("lstat size of a symlink (its target's length)", len("target"), link.st_size)
    expect_eq("stat through a symlink: inode", os.stat(t.p("target")).st_ino, target.st_ino)
    expect(link.st_ino != target.st_ino, "a symlink has its target's inode")
    expect_bytes("read through a symlink", b"target data", read_file(t.p("link")))
    long_target = "/".join(["component-%02d" % i for i in range(60)])  # about 800 bytes
    os.symlink(long_target, t.p("long"))
    expect_eq("readlink of an 800-byte target", long_target, os.readlink(t.p("long")))
    expect_errno("symlink over an existing name", errno.EEXIST, os.symlink, "x", t.p("link"))
    os.unlink(t.p("link"))
    expect_bytes("target after unlinking the link", b"target data", read_file(t.p("target")))


@check("symlink_dangling")
def check_symlink_dangling(t):
    os.symlink("does-not-exist", t.p("dangling"))
    expect(stat.S_ISLNK(os.lstat(t.p("dangling")).st_mode), "lstat of a dangling symlink is not a symlink")
    expect_errno("stat through a dangling symlink", errno.ENOENT, os.stat, t.p("dangling"))
    expect_eq("readlink of a dangling symlink", "does-not-exist", os.readlink(t.p("dangling")))
    expect_eq("listing with a dangling symlink", ["dangling"], os.listdir(t.dir))
    with opened(t.p("dangling"), os.O_WRONLY | os.O_CREAT) as fd:  # creates the target
        write_all(fd, b"now it exists")
    expect_bytes("target created through a dangling symlink", b"now it exists", read_file(t.p("does-not-exist")))


@check("symlink_dir_path")
def check_symlink_dir_path(t):
    os.makedirs(t.p("real", "sub"))
    write_file(t.p("real", "sub", "file"), b"deep")
    os.symlink("real", t.p("link"))
    os.symlink("../real/sub", t.p("real", "up-and-back"))
    os.symlink("link/sub", t.p("chain"))
    expect_bytes("read of link/sub/file", b"deep", read_file(t.p("link", "sub", "file")))
    expect_bytes("read through a relative ../ link", b"deep", read_file(t.p("real", "up-and-back", "file")))
    expect_bytes("read through a chain of links", b"deep", read_file(t.p("chain", "file")))
    expect_eq("listdir through a dir symlink", ["sub", "up-and-back"], sorted(os.listdir(t.p("link"))))
    write_file(t.p("link", "created"), b"via link")
    expect_bytes("file created through a dir symlink", b"via link", read_file(t.p("real", "created")))
    os.symlink("loop-b", t.p("loop-a"))
    os.symlink("loop-a", t.p("loop-b"))
    expect_errno("stat of a symlink loop", errno.ELOOP, os.stat, t.p("loop-a"))
    expect_errno("open(O_NOFOLLOW) of a symlink", errno.ELOOP, os.open, t.p("link"), os.O_RDONLY | os.O_NOFOLLOW)


# == Hard links ==================================================================================

@check("hardlink")
def check_hardlink(t):
    a, b = t.p("a"), t.p("b")
    write_file(a, b"original")
    os.link(a, b)
    sa, sb = os.stat(a), os.stat(b)
    expect_eq("inode of both names", sa.st_ino, sb.st_ino)
    expect_eq("st_nlink of both names", (2, 2), (sa.st_nlink, sb.st_nlink))
    with opened(b, os.O_WRONLY) as fd:
        pwrite_all(fd, b"ORIG", 0)
    expect_bytes("write through one name, read through the other", b"ORIGinal", read_file(a))
    os.truncate(a, 4)
    expect_eq("size seen through the other name after truncate", 4, os.stat(b).st_size)
    os.unlink(a)
    expect_bytes("remaining name after unlinking the other", b"ORIG", read_file(b))
    expect_eq("st_nlink after unlinking one name", 1, os.stat(b).st_nlink)
    os.mkdir(t.p("sub"))
    os.link(b, t.p("sub", "c"))
    expect_eq("st_nlink after a link in another dir", 2, os.stat(b).st_nlink)
    expect_errno("link onto an existing name", errno.EEXIST, os.link, b, t.p("sub", "c"))
    expect_errno("link of a missing name", errno.ENOENT, os.link, t.p("missing"), t.p("d"))


@check("hardlink_dir")
def check_hardlink_dir(t):
    os.mkdir(t.p("dir"))
    expect_errno("hard link to a directory", errno.EPERM, os.link, t.p("dir"), t.p("dir-link"))


# == Listing =====================================================================================

def make_many(directory, count):
    """count empty files with 50-byte names (enough entries for several getdents batches)."""
    names = ["file-%04d-%s" % (i, "x" * 40) for i in range(count)]
    for name in names:
        os.close(os.open(os.path.join(directory, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    return names


@check("listdir_1000")
def check_listdir_1000(t):
    names = make_many(t.dir, 1000)
    for what, listed in (("os.listdir", os.listdir(t.dir)), ("os.scandir", [e.name for e in os.scandir(t.dir)])):
        missing, extra = set(names) - set(listed), set(listed) - set(names)
        expect(not missing and not extra, "%s of 1000 files: %d missing (%s), %d unexpected (%s)"
               % (what, len(missing), sorted(missing)[:3], len(extra), sorted(extra)[:3]))
        expect(len(listed) == 1000, "%s of 1000 files listed %d names (duplicates: %s)"
               % (what, len(listed), sorted({n for n in listed if listed.count(n) > 1})[:3]))


@check("scandir_types")
def check_scandir_types(t):
    touch(t.p("file"))
    os.mkdir(t.p("dir"))
    os.symlink("file", t.p("link-file"))
    os.symlink("dir", t.p("link-dir"))
    os.symlink("missing", t.p("link-dangling"))
    expected = {"file": (True, False, False), "dir": (False, True, False), "link-file": (False, False, True),
                "link-dir": (False, False, True), "link-dangling": (False, False, True)}
    if not NO_SPECIAL_FILES:
        os.mkfifo(t.p("fifo"))
        expected["fifo"] = (False, False, False)
    seen = {}
    for entry in os.scandir(t.dir):
        seen[entry.name] = (entry.is_file(follow_symlinks=False), entry.is_dir(follow_symlinks=False),
                            entry.is_symlink())
        if entry.name == "link-dir":
            expect(entry.is_dir(), "scandir: a symlink to a dir is not is_dir() when followed")
    expect_eq("scandir (is_file, is_dir, is_symlink) per name", expected, seen)


@check("readdir_ino")
def check_readdir_ino(t):
    touch(t.p("file"))
    os.mkdir(t.p("dir"))
    for entry in os.scandir(t.dir):
        expect_eq("d_ino of %s against its st_ino" % entry.name, os.lstat(entry.path).st_ino, entry.inode())


@check("dot_entries")
def check_dot_entries(t):
    os.makedirs(t.p("sub", "deeper"))
    here = os.stat(t.dir).st_ino
    expect_eq("inode of DIR/.", here, os.stat(t.p(".")).st_ino)
    expect_eq("inode of DIR/sub/..", here, os.stat(t.p("sub", "..")).st_ino)
    expect_eq("inode of DIR/sub/deeper/../..", here, os.stat(t.p("sub", "deeper", "..", "..")).st_ino)
    expect_eq("inode of DIR/sub/../sub", os.stat(t.p("sub")).st_ino, os.stat(t.p("sub", "..", "sub")).st_ino)


@check("raw_dot_entries")
def check_raw_dot_entries(t):
    os.mkdir(t.p("sub"))
    touch(t.p("file"))
    expect_eq("readdir(3) of a dir holding sub and file", [".", "..", "file", "sub"], sorted(raw_listing(t.dir)))
    expect_eq("readdir(3) of an empty dir", [".", ".."], sorted(raw_listing(t.p("sub"))))


@check("readdir_while_unlinking")
def check_readdir_while_unlinking(t):
    """rm -r removes entries while it reads the directory; the entries not yet removed must still come."""
    names = make_many(t.dir, 1000)
    seen = []
    with os.scandir(t.dir) as entries:
        for entry in entries:
            seen.append(entry.name)
            os.unlink(entry.path)
    missing = set(names) - set(seen)
    expect(not missing, "reading while unlinking skipped %d of 1000 entries (%s)" % (len(missing), sorted(missing)[:3]))
    expect_eq("entries returned while unlinking", 1000, len(seen))
    expect_eq("listing afterwards", [], os.listdir(t.dir))
    for a in range(5):  # and a tree, the shutil.rmtree way
        for b in range(5):
            os.makedirs(t.p("tree", str(a), str(b)))
            for c in range(10):
                touch(t.p("tree", str(a), str(b), "f%d" % c))
    shutil.rmtree(t.p("tree"))
    expect_missing("tree after rmtree", t.p("tree"))


@check("listdir_after_changes")
def check_listdir_after_changes(t):
    """A listing shows every change at once (no stale cached listing)."""
    touch(t.p("a"))
    expect_eq("after create", ["a"], sorted(os.listdir(t.dir)))
    touch(t.p("b"))
    expect_eq("after a second create", ["a", "b"], sorted(os.listdir(t.dir)))
    os.rename(t.p("a"), t.p("c"))
    expect_eq("after rename", ["b", "c"], sorted(os.listdir(t.dir)))
    os.unlink(t.p("b"))
    expect_eq("after unlink", ["c"], sorted(os.listdir(t.dir)))
    os.mkdir(t.p("d"))
    os.rename(t.p("c"), t.p("d", "c"))
    expect_eq("after moving into a subdir", (["d"], ["c"]), (os.listdir(t.dir), os.listdir(t.p("d"))))


# == Extended attributes =========================================================================

@check("xattr_basic")
def check_xattr_basic(t):
    path = t.p("file")
    write_file(path, b"data")
    value = b"\x00binary\x00\xff\xfe value\n\x00"
    os.setxattr(path, "user.test", value)
    expect_bytes("getxattr user.test", value, os.getxattr(path, "user.test"))
    expect("user.test" in os.listxattr(path), "listxattr %r lacks user.test" % os.listxattr(path))
    os.setxattr(path, "user.test", b"short")
    expect_bytes("getxattr after replacing with a shorter value", b"short", os.getxattr(path, "user.test"))
    os.setxattr(path, "user.empty", b"")
    expect_bytes("getxattr of an empty value", b"", os.getxattr(path, "user.empty"))
    os.rename(path, t.p("renamed"))
    path = t.p("renamed")
    expect_bytes("getxattr after rename", b"short", os.getxattr(path, "user.test"))
    os.removexattr(path, "user.test")
    names = os.listxattr(path)
    expect("user.test" not in names and "user.empty" in names, "listxattr after removexattr: %r" % names)
    os.mkdir(t.p("dir"))
    os.setxattr(t.p("dir"), "user.onadir", b"yes")
    expect_bytes("getxattr on a directory", b"yes", os.getxattr(t.p("dir"), "user.onadir"))
    with opened(path) as fd:
        os.setxattr(fd, "user.viafd", b"fd")
        expect_bytes("fgetxattr", b"fd", os.getxattr(fd, "user.viafd"))


@check("xattr_flags")
def check_xattr_flags(t):
    path = t.p("file")
    touch(path)
    os.setxattr(path, "user.test", b"first")
    expect_errno("XATTR_CREATE on an existing attribute", errno.EEXIST, os.setxattr, path, "user.test", b"second",
                 os.XATTR_CREATE)
    expect_bytes("value after a refused XATTR_CREATE", b"first", os.getxattr(path, "user.test"))
    expect_errno("XATTR_REPLACE on a missing attribute", errno.ENODATA, os.setxattr, path, "user.missing", b"x",
                 os.XATTR_REPLACE)
    expect_errno("getxattr of a missing attribute", errno.ENODATA, os.getxattr, path, "user.missing")
    expect_errno("removexattr of a missing attribute", errno.ENODATA, os.removexattr, path, "user.missing")
    os.setxattr(path, "user.test", b"replaced", os.XATTR_REPLACE)
    os.setxattr(path, "user.new", b"created", os.XATTR_CREATE)
    expect_eq("values after XATTR_REPLACE and XATTR_CREATE", (b"replaced", b"created"),
              (os.getxattr(path, "user.test"), os.getxattr(path, "user.new")))


@check("xattr_large")
def check_xattr_large(t):
    path = t.p("file")
    touch(path)
    value = t.data(64 * KiB)  # XATTR_SIZE_MAX
    os.setxattr(path, "user.big", value)
    expect_bytes("getxattr of a 64 KiB value", value, os.getxattr(path, "user.big"))


# == Sync and statvfs ============================================================================

@check("fsync")
def check_fsync(t):
    path = t.p("file")
    with opened(path, os.O_WRONLY | os.O_CREAT) as fd:
        write_all(fd, t.data(CHUNK + 1))
        os.fsync(fd)
        write_all(fd, b"more")
        os.fdatasync(fd)
    with opened(path) as fd:
        os.fsync(fd)  # on a read-only fd too
    with opened(t.dir, os.O_RDONLY | os.O_DIRECTORY) as fd:
        os.fsync(fd)  # editors and git fsync the directory after a rename
    expect_eq("size after fsync", CHUNK + 5, os.stat(path).st_size)


@check("statvfs")
def check_statvfs(t):
    with opened(t.dir, os.O_RDONLY | os.O_DIRECTORY) as fd:
        results = (("statvfs", os.statvfs(t.dir)), ("fstatvfs", os.fstatvfs(fd)))
    for what, result in results:
        expect(result.f_bsize > 0 and result.f_frsize > 0, "%s: f_bsize %d, f_frsize %d" %
               (what, result.f_bsize, result.f_frsize))
        expect(result.f_blocks >= result.f_bfree >= result.f_bavail >= 0,
               "%s: f_blocks %d, f_bfree %d, f_bavail %d are not in decreasing order" %
               (what, result.f_blocks, result.f_bfree, result.f_bavail))
        expect(result.f_blocks > 0, "%s: f_blocks is 0" % what)
        expect(result.f_namemax >= 255, "%s: f_namemax is %d" % (what, result.f_namemax))
        expect(result.f_files == 0 or result.f_files >= result.f_ffree,
               "%s: f_files %d < f_ffree %d" % (what, result.f_files, result.f_ffree))


# == Names =======================================================================================

@check("name_max")
def check_name_max(t):
    ascii255, utf8_255 = "n" * 255, "é" * 127 + "x"  # both 255 bytes
    ascii256, utf8_256 = "n" * 256, "é" * 128  # both 256 bytes (128 characters: bytes count, not characters)
    for name in (ascii255, utf8_255):
        write_file(t.p(name), b"long name")
        expect_bytes("file with a 255-byte name", b"long name", read_file(t.p(name)))
        expect(name in os.listdir(t.dir), "a 255-byte name is not listed")
        os.unlink(t.p(name))
    os.mkdir(t.p(ascii255))
    os.rename(t.p(ascii255), t.p("d" * 255))
    os.symlink("d" * 255, t.p("s" * 255))
    expect(os.path.isdir(t.p("s" * 255)), "a 255-byte symlink to a 255-byte dir does not resolve")
    touch(t.p("short"))
    for name in (ascii256, utf8_256):
        long = t.p(name)
        expect_errno("create with a 256-byte name", errno.ENAMETOOLONG, os.open, long, os.O_WRONLY | os.O_CREAT)
        expect_errno("stat of a 256-byte name", errno.ENAMETOOLONG, os.stat, long)
        expect_errno("mkdir with a 256-byte name", errno.ENAMETOOLONG, os.mkdir, long)
        expect_errno("rename to a 256-byte name", errno.ENAMETOOLONG, os.rename, t.p("short"), long)
        expect_errno("link to a 256-byte name", errno.ENAMETOOLONG, os.link, t.p("short"), long)
        expect_errno("symlink with a 256-byte name", errno.ENAMETOOLONG, os.symlink, "short", long)


NAMES = ["with space", " leading space", "trailing space ", "tab\there", "new\nline", "\nleading newline",
         "unicode-éñ中文-🎬", "emoji 👍🏽", "-leading-dash", ".hidden", "..dotdot", "...", "back\\slash",
         "quotes \"'`", "colon:semi;", "percent%20", "glob*?[x]", "#hash", "~tilde", "$dollar", "a" * 200]


@check("name_chars")
def check_name_chars(t):
    for index, name in enumerate(NAMES):
        write_file(t.p(name), b"%d" % index)
    expect_eq("listing of unusual names", sorted(NAMES), sorted(os.listdir(t.dir)))
    for index, name in enumerate(NAMES):
        expect_bytes("content of %r" % name, b"%d" % index, read_file(t.p(name)))
        os.rename(t.p(name), t.p(name + "~"))
    expect_eq("listing after renames", sorted(n + "~" for n in NAMES), sorted(os.listdir(t.dir)))
    for name in NAMES:
        os.mkdir(t.p(name))
        os.unlink(t.p(name + "~"))
    expect_eq("listing of unusual dir names", sorted(NAMES), sorted(os.listdir(t.dir)))


@check("name_case_normalization")
def check_name_case_normalization(t):
    """Names are bytes: case and Unicode normalisation are never folded (git trees depend on it)."""
    nfc, nfd = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")
    names = ["readme", "README", "ReadMe", nfc, nfd]
    for name in names:
        write_file(t.p(name), name.encode())
    expect_eq("listing of names differing in case or normalisation", sorted(names), sorted(os.listdir(t.dir)))
    for name in names:
        expect_bytes("content of %r" % name, name.encode(), read_file(t.p(name)))
    expect_missing("a case variant that was not created", t.p("Readme"))


@check("name_non_utf8")
def check_name_non_utf8(t):
    directory = os.fsencode(t.dir)
    names = [b"latin1-caf\xe9", b"bad-\xff\xfe-bytes", b"\x80lone-continuation", b"ctl-\x01\x1f\x7f"]
    if UTF8_NAMES_ONLY:
        # A filesystem that stores names as text must refuse other bytes with EILSEQ, never mangle
        # them; control characters are valid UTF-8 and stay allowed.
        for name in names[:3]:
            expect_errno("create %r" % name, errno.EILSEQ, lambda: write_file(os.path.join(directory, name), name))
        write_file(os.path.join(directory, names[3]), names[3])
        expect_eq("listing after refused names", [names[3]], os.listdir(directory))
        return
    for name in names:
        write_file(os.path.join(directory, name), name)
    expect_eq("listing of names that are not UTF-8", sorted(names), sorted(os.listdir(directory)))
    for name in names:
        expect_bytes("content of %r" % name, name, read_file(os.path.join(directory, name)))


# == What programs do ============================================================================

@check("editor_save")
def check_editor_save(t):
    """vim (backupcopy=no) and emacs: write a temp file, fsync, rename it over the original."""
    original = t.p("notes.txt")
    write_file(original, b"version 1\n")
    with opened(original) as other_reader:  # say a pager has the file open
        temp = t.p(".notes.txt.swp")
        with opened(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644) as fd:
            write_all(fd, b"version 2, longer\n")
            os.fsync(fd)
        inode = os.stat(temp).st_ino
        os.rename(temp, original)
        with opened(t.dir, os.O_RDONLY | os.O_DIRECTORY) as fd:
            os.fsync(fd)
        expect_bytes("original after the save", b"version 2, longer\n", read_file(original))
        expect_eq("inode of the saved file", inode, os.stat(original).st_ino)
        expect_bytes("old version through an fd opened before the save", b"version 1\n", read_all(other_reader))
    expect_eq("listing after the save", ["notes.txt"], os.listdir(t.dir))
    # vim's other way: move the original to a backup, write a new file, drop the backup.
    os.rename(original, original + "~")
    write_file(original, b"version 3\n")
    os.unlink(original + "~")
    expect_bytes("original after a backup-and-rewrite save", b"version 3\n", read_file(original))
    expect_eq("listing after that save", ["notes.txt"], os.listdir(t.dir))


@check("git_pattern")
def check_git_pattern(t):
    """Loose objects (temp file, link into place, unlink), a locked index and ref renamed into place."""
    git = t.p(".git")
    for sub in ("objects", "refs/heads"):
        os.makedirs(os.path.join(git, sub))
    objects = {}
    for index in range(300):
        body = b"blob %d\x00" % index + t.data(t.rng.randrange(10, 3000))
        digest = hashlib.sha1(body).hexdigest()
        folder = os.path.join(git, "objects", digest[:2])
        os.makedirs(folder, exist_ok=True)
        temp = os.path.join(git, "objects", "tmp_obj_%06d" % index)
        with opened(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o444) as fd:
            write_all(fd, body)
        final = os.path.join(folder, digest[2:])
        os.link(temp, final)
        os.unlink(temp)
        objects[final] = body
    for final, body in objects.items():
        expect_bytes("object %s" % os.path.relpath(final, git), body, read_file(final))
        expect_eq("mode of object %s" % os.path.relpath(final, git), 0o444, stat.S_IMODE(os.stat(final).st_mode))
    leftovers = [n for n in os.listdir(os.path.join(git, "objects")) if n.startswith("tmp_obj_")]
    expect_eq("temporary objects left behind", [], leftovers)
    listed = sum(len(os.listdir(os.path.join(git, "objects", d))) for d in os.listdir(os.path.join(git, "objects")))
    expect_eq("objects listed", len(objects), listed)

    index, lock = os.path.join(git, "index"), os.path.join(git, "index.lock")
    for version in (b"index v1", b"index v2"):
        with opened(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666) as fd:
            expect_errno("taking index.lock while it is held", errno.EEXIST, os.open, lock,
                         os.O_RDWR | os.O_CREAT | os.O_EXCL)
            write_all(fd, version)
        os.rename(lock, index)
        expect_bytes("index after the lock was renamed into place", version, read_file(index))
        expect_missing("index.lock after the rename", lock)
    ref, ref_lock = os.path.join(git, "refs", "heads", "main"), os.path.join(git, "refs", "heads", "main.lock")
    write_file(ref_lock, b"0123456789abcdef0123456789abcdef01234567\n")
    os.rename(ref_lock, ref)
    expect_eq("refs/heads after the ref update", ["main"], os.listdir(os.path.dirname(ref)))


@check("rsync_pattern")
def check_rsync_pattern(t):
    """rsync: write .NAME.XXXXXX, set mode and times, rename over NAME; later runs compare size and mtime."""
    target, temp, data = t.p("file.bin"), t.p(".file.bin.Ab12Cd"), t.data(CHUNK + 777)
    write_file(target, b"old content")
    with opened(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600) as fd:
        write_all(fd, data)
    os.chmod(temp, 0o640)
    os.utime(temp, ns=(1_500_000_000_111_222_333, 1_500_000_000_444_555_666))
    os.rename(temp, target)
    result = os.stat(target)
    expect_eq("size, mode of the synced file", (len(data), 0o640), (result.st_size, stat.S_IMODE(result.st_mode)))
    expect_eq("mtime (microseconds) of the synced file", 1_500_000_000_444_555, result.st_mtime_ns // 1000)
    expect_bytes("content of the synced file", data, read_file(target))
    expect_eq("listing after the sync", ["file.bin"], os.listdir(t.dir))


@check("copy2_preserve")
def check_copy2_preserve(t):
    """shutil.copy2 (what cp -p does): content through sendfile, then mode, times and xattrs."""
    source, copy, data = t.p("source"), t.p("copy"), t.data(CHUNK + 99)
    write_file(source, data)
    os.chmod(source, 0o600)
    os.setxattr(source, "user.origin", b"kept")
    os.utime(source, ns=(1_400_000_000_000_000_001, 1_400_000_000_123_456_789))
    shutil.copy2(source, copy)
    result = os.stat(copy)
    expect_bytes("content of the copy", data, read_file(copy))
    expect_eq("mode of the copy", 0o600, stat.S_IMODE(result.st_mode))
    expect_eq("mtime (microseconds) of the copy", 1_400_000_000_123_456, result.st_mtime_ns // 1000)
    expect_bytes("xattr of the copy", b"kept", os.getxattr(copy, "user.origin"))


@check("stat_stable")
def check_stat_stable(t):
    """Unchanged files stat the same every time (git's index and rsync's quick check compare stat data)."""
    paths = [t.p("file-%d" % i) for i in range(100)]
    for path in paths:
        write_file(path, t.data(t.rng.randrange(1, 20_000)))

    def fields(path):
        s = os.stat(path)
        return s.st_dev, s.st_ino, s.st_mode, s.st_nlink, s.st_uid, s.st_gid, s.st_size, s.st_mtime_ns, s.st_ctime_ns
    first = [fields(p) for p in paths]
    for path in paths:
        read_file(path)  # reading changes nothing but atime
    time.sleep(0.05)
    second = [fields(p) for p in paths]
    for path, a, b in zip(paths, first, second):
        expect_eq("stat of unchanged %s (dev, ino, mode, nlink, uid, gid, size, mtime, ctime)"
                  % os.path.basename(path), a, b)
    inodes = [f[1] for f in first]
    expect_eq("distinct inode numbers among 100 files", 100, len(set(inodes)))
    expect_eq("st_dev of files and their dir", {os.stat(t.dir).st_dev}, {f[0] for f in first})


@check("mmap_read")
def check_mmap_read(t):
    path, data = t.p("movie"), t.data(CHUNK + 5 * KiB + 123)
    write_file(path, data)
    with opened(path) as fd:
        with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as view:
            expect_eq("length of the mapping", len(data), len(view))
            expect_bytes("bytes across 4 MiB through mmap", data[CHUNK - 100:CHUNK + 100],
                         view[CHUNK - 100:CHUNK + 100])
            expect_bytes("whole file through mmap", data, view[:])
        with mmap.mmap(fd, 4096, access=mmap.ACCESS_READ, offset=CHUNK) as view:
            expect_bytes("mapping at offset 4 MiB", data[CHUNK:CHUNK + 4096], view[:])


@check("mmap_shared_write")
def check_mmap_shared_write(t):
    path, data = t.p("file"), bytearray(t.data(CHUNK + 4096))
    write_file(path, data)
    with opened(path, os.O_RDWR) as fd:
        with mmap.mmap(fd, 0, access=mmap.ACCESS_WRITE) as view:
            view[CHUNK - 10:CHUNK + 10] = b"M" * 20
            view.flush()
    data[CHUNK - 10:CHUNK + 10] = b"M" * 20
    expect_bytes("file after a shared-mapping write", bytes(data), read_file(path))


@check("two_fds")
def check_two_fds(t):
    path = t.p("file")
    write_file(path, b"")
    writer, reader = os.open(path, os.O_RDWR), os.open(path, os.O_RDONLY)
    try:
        write_all(writer, b"hello")
        expect_bytes("read through the second fd", b"hello", pread_upto(reader, 100, 0))
        expect_eq("fstat size through the second fd", 5, os.fstat(reader).st_size)
        big = t.data(CHUNK + 10)
        pwrite_all(writer, big, 5)
        expect_bytes("large write seen through the second fd", b"hello" + big, pread_upto(reader, 2 * CHUNK, 0))
        os.ftruncate(writer, 3)
        expect_bytes("truncate seen through the second fd", b"hel", pread_upto(reader, 100, 0))
        second_writer = os.open(path, os.O_WRONLY)
        try:
            pwrite_all(second_writer, b"LO", 3)
            pwrite_all(writer, b"H", 0)
        finally:
            os.close(second_writer)
        expect_bytes("writes through two writable fds", b"HelLO", pread_upto(reader, 100, 0))
    finally:
        os.close(writer)
        os.close(reader)


@check("seek_data_hole")
def check_seek_data_hole(t):
    """cp --sparse copies only the data regions SEEK_DATA/SEEK_HOLE report; that copy must be exact.
    A filesystem without hole tracking may report the whole file as data."""
    path, data = t.p("dense"), t.data(100_000)
    write_file(path, data)
    with opened(path) as fd:
        expect_eq("SEEK_DATA at 0 of a file without holes", 0, os.lseek(fd, 0, os.SEEK_DATA))
        expect_eq("SEEK_HOLE at 0 of a file without holes", len(data), os.lseek(fd, 0, os.SEEK_HOLE))
        expect_errno("SEEK_DATA at EOF", errno.ENXIO, os.lseek, fd, len(data), os.SEEK_DATA)
        expect_errno("SEEK_HOLE past EOF", errno.ENXIO, os.lseek, fd, len(data) + 1, os.SEEK_HOLE)
    path, model = t.p("sparse"), bytearray()
    with opened(path, os.O_RDWR | os.O_CREAT | os.O_EXCL) as fd:
        for offset in (CHUNK, 3 * CHUNK + 5, 5 * CHUNK):
            piece = t.data(70_000)
            pwrite_all(fd, piece, offset)
            apply(model, piece, offset)
        copied, position = bytearray(len(model)), 0
        while position < len(model):
            try:
                start = os.lseek(fd, position, os.SEEK_DATA)
            except OSError as error:
                expect_eq("SEEK_DATA error in the trailing hole", errno.ENXIO, error.errno)
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            expect(position <= start < end <= len(model), "SEEK_DATA %d / SEEK_HOLE %d from %d in a %d-byte file"
                   % (start, end, position, len(model)))
            copied[start:end] = pread_upto(fd, end - start, start)
            position = end
    expect_bytes("sparse copy following SEEK_DATA and SEEK_HOLE", bytes(model), bytes(copied))


@check("copy_file_range")
def check_copy_file_range(t):
    """cp (coreutils 9) copies with copy_file_range."""
    data = t.data(CHUNK + 12_345)
    write_file(t.p("source"), data)
    with opened(t.p("source")) as source, opened(t.p("copy"), os.O_WRONLY | os.O_CREAT | os.O_EXCL) as copy:
        while os.copy_file_range(source, copy, 1 * MiB):
            pass
        os.copy_file_range(source, copy, 10_000, CHUNK - 5000, 0)  # explicit offsets across 4 MiB
    expect_bytes("copy made with copy_file_range", data[CHUNK - 5000:CHUNK + 5000] + data[10_000:],
                 read_file(t.p("copy")))


@check("sendfile")
def check_sendfile(t):
    data = t.data(CHUNK + 3)
    write_file(t.p("source"), data)
    with opened(t.p("source")) as source, opened(t.p("copy"), os.O_WRONLY | os.O_CREAT | os.O_EXCL) as copy:
        offset = 0
        while True:
            sent = os.sendfile(copy, source, offset, 1 * MiB)
            if not sent:
                break
            offset += sent
    expect_bytes("copy made with sendfile", data, read_file(t.p("copy")))


@check("posix_fallocate")
def check_posix_fallocate(t):
    """rsync --preallocate and downloaders reserve space first."""
    path, data = t.p("file"), t.data(100)
    write_file(path, data)
    with opened(path, os.O_RDWR) as fd:
        os.posix_fallocate(fd, 0, 3 * MiB)
        expect_eq("size after posix_fallocate past EOF", 3 * MiB, os.fstat(fd).st_size)
        os.posix_fallocate(fd, CHUNK - 100, 200)
        expect_eq("size after posix_fallocate across 4 MiB", CHUNK + 100, os.fstat(fd).st_size)
        os.posix_fallocate(fd, 0, 50)
        expect_eq("size after posix_fallocate inside the file", CHUNK + 100, os.fstat(fd).st_size)
    expect_bytes("content after posix_fallocate", data + bytes(CHUNK), read_file(path))


LOCK_PROBE = """
import errno, fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    if sys.argv[2] == "flock":
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)
    print("locked")
except OSError as error:
    print(errno.errorcode.get(error.errno, error.errno))
"""


def probe_lock(path, kind):
    """Whether another process can take the lock now: 'locked' or the errno name it got."""
    result = subprocess.run([sys.executable, "-c", LOCK_PROBE, path, kind], capture_output=True, text=True,
                            timeout=30)
    expect(result.returncode == 0, "lock probe failed: %s" % result.stderr.strip().replace("\n", " | "))
    return result.stdout.strip()


@check("posix_locks")
def check_posix_locks(t):
    path = t.p("db")
    write_file(path, bytes(100))
    with opened(path, os.O_RDWR) as fd:
        fcntl.lockf(fd, fcntl.LOCK_EX, 10, 0)
        answer = probe_lock(path, "lockf")
        expect(answer in ("EAGAIN", "EACCES"), "another process locking a locked range got %r" % answer)
        fcntl.lockf(fd, fcntl.LOCK_UN, 10, 0)
        expect_eq("another process locking a released range", "locked", probe_lock(path, "lockf"))


@check("flock")
def check_flock(t):
    path = t.p("lockfile")
    touch(path)
    with opened(path, os.O_RDWR) as fd:
        fcntl.flock(fd, fcntl.LOCK_EX)
        answer = probe_lock(path, "flock")
        expect(answer in ("EAGAIN", "EWOULDBLOCK"), "another process flocking a locked file got %r" % answer)
        fcntl.flock(fd, fcntl.LOCK_UN)
        expect_eq("another process flocking a released file", "locked", probe_lock(path, "flock"))


# == Running =====================================================================================

def location(error):
    """The line of the check the exception came from, for a failure message."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.name.startswith("check_")]
    return " (line %d)" % frames[-1].lineno if frames else ""


def run_check(name, function, root, seed):
    """One output line: ok, FAIL or skip. Returns False on failure."""
    try:
        directory = os.path.join(root, name)
        os.mkdir(directory)
        function(Context(directory, seed, name))
    except CheckSkipped as reason:
        print("skip %s: %s" % (name, reason), flush=True)
        return True
    except CheckFailed as failure:
        print("FAIL %s: %s%s" % (name, failure, location(failure)), flush=True)
        return False
    except OSError as error:
        detail = "%s (%s)" % (errno_name(error.errno), error.strerror) if error.errno else str(error)
        if error.filename is not None:
            detail += " on %r" % os.path.relpath(os.fsdecode(error.filename), root)
        print("FAIL %s: unexpected error %s%s" % (name, detail, location(error)), flush=True)
        return False
    except Exception as error:  # a bug in the check itself, or something stranger
        print("FAIL %s: unexpected %s: %s%s" % (name, type(error).__name__, error, location(error)), flush=True)
        return False
    print("ok %s" % name, flush=True)
    return True


def remove_tree(root):
    """shutil.rmtree, making directories writable when that is what stops it (not root)."""
    def retry(function, path, _):
        os.chmod(os.path.dirname(path), 0o700)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)
        function(path)
    shutil.rmtree(root, onerror=retry)


def parse_names(text, known, option):
    names = [n for n in (text or "").split(",") if n]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit("posix_checks.py: %s: unknown check %s (see --list)" % (option, ", ".join(unknown)))
    return set(names)


UTF8_NAMES_ONLY = False
NO_SPECIAL_FILES = False


def main():
    parser = argparse.ArgumentParser(description="POSIX behaviour checks run inside DIR (see the docstring).")
    parser.add_argument("dir", nargs="?", metavar="DIR", help="directory on the filesystem to check")
    parser.add_argument("--skip", metavar="NAME,...", help="checks not to run (printed as skipped)")
    parser.add_argument("--only", metavar="NAME,...", help="run only these checks")
    parser.add_argument("--seed", default="vishwa", help="seed for the random data (default: vishwa)")
    parser.add_argument("--keep", action="store_true", help="leave the work directory in place")
    parser.add_argument("--list", action="store_true", help="print the check names and exit")
    parser.add_argument("--utf8-names-only", action="store_true",
                        help="names that are not UTF-8 must be refused with EILSEQ (not stored)")
    parser.add_argument("--no-special-files", action="store_true",
                        help="FIFOs and device nodes are refused (EPERM); leave them out of other checks")
    args = parser.parse_args()
    global UTF8_NAMES_ONLY, NO_SPECIAL_FILES
    UTF8_NAMES_ONLY = args.utf8_names_only
    NO_SPECIAL_FILES = args.no_special_files
    known = [name for name, _ in CHECKS]
    if args.list:
        print("\n".join(known))
        return 0
    if args.dir is None:
        parser.error("DIR is required")
    if not os.path.isdir(args.dir):
        parser.error("%s is not a directory" % args.dir)
    try:
        skip = parse_names(args.skip, known, "--skip")
        only = parse_names(args.only, known, "--only")
    except SystemExit as error:
        print(error, file=sys.stderr)
        return 2

    os.umask(0o022)  # mode_bits depends on it
    root = tempfile.mkdtemp(prefix="posix-checks-", dir=args.dir)
    failed = []
    try:
        for name, function in CHECKS:
            if only and name not in only:
                continue
            if name in skip:
                print("skip %s: --skip" % name, flush=True)
                continue
            if not run_check(name, function, root, args.seed):
                failed.append(name)
    finally:
        if args.keep:
            print("# kept %s" % root, flush=True)
        else:
            try:
                remove_tree(root)
                if os.path.lexists(root):
                    raise OSError(errno.EEXIST, "still there after removal", root)
            except OSError as error:
                print("FAIL cleanup: removing %s: %s" % (root, error), flush=True)
                failed.append("cleanup")
    print("# %d failed%s" % (len(failed), (": " + ", ".join(failed)) if failed else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

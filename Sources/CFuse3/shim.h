#ifndef VISHWA_CFUSE3_SHIM_H
#define VISHWA_CFUSE3_SHIM_H
// The one place FUSE_USE_VERSION is defined: fuse_lowlevel.h refuses to compile without it.
#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>
#include <sys/xattr.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

// fuse_session_loop_mt is a macro at this API version, which Swift cannot call.
static inline int vishwa_fuse_session_loop_mt(struct fuse_session *se, struct fuse_loop_config *config) {
    return fuse_session_loop_mt(se, config);
}

// Whether fd is a Unix-domain socket (fusermount3's auto_unmount socket is one).
static inline int vishwa_is_unix_socket(int fd) {
    struct stat info;
    if (fstat(fd, &info) != 0 || !S_ISSOCK(info.st_mode)) return 0;
    struct sockaddr_storage address;
    socklen_t length = sizeof(address);
    if (getsockname(fd, (struct sockaddr *)&address, &length) != 0) return 0;
    return address.ss_family == AF_UNIX;
}

// Closes every descriptor from `low` to `high` inclusive (close_range, or one by one where the
// kernel lacks it).
static inline void vishwa_close_between(unsigned low, unsigned high) {
    if (low > high) return;
    if (syscall(SYS_close_range, low, high, 0) == 0) return;
    for (unsigned fd = low; fd <= high && fd < 65536; fd++) close((int)fd);
}

// fusermount3 (auto_unmount) unmounts once `socket` reaches end of file, but only if opening
// the mountpoint then fails with ENOTCONN. When the daemon dies, the kernel releases its files
// last-opened first, so the socket closes before /dev/fuse: fusermount3's open can reach the
// connection before it is aborted, fail with ECONNABORTED instead, and leave a dead mount.
// A forked child holds the socket too, waits for the parent to die (its lifeline pipe ends)
// and for the connection to be gone, then exits, which lets fusermount3 look. Only system
// calls run in the child, so forking a threaded process is safe. Returns the child's pid or -1.
static inline pid_t vishwa_guard_auto_unmount(int socket, const char *mountpoint) {
    int lifeline[2];
    if (pipe2(lifeline, O_CLOEXEC) != 0) return -1;
    pid_t pid = fork();
    if (pid != 0) {
        close(lifeline[0]);
        if (pid < 0) close(lifeline[1]);
        return pid;
    }
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    setsid();
    prctl(PR_SET_NAME, "vishwafs-guard", 0, 0, 0);  // what ps and top show beside the daemon
    // Keep only the socket and the lifeline: above all not /dev/fuse, which would keep the
    // connection alive.
    unsigned low = (unsigned)(socket < lifeline[0] ? socket : lifeline[0]);
    unsigned high = (unsigned)(socket < lifeline[0] ? lifeline[0] : socket);
    if (low > 0) vishwa_close_between(0, low - 1);
    vishwa_close_between(low + 1, high - 1);
    vishwa_close_between(high + 1, ~0U);
    char byte;
    for (;;) {
        ssize_t got = read(lifeline[0], &byte, 1);
        if (got == 0 || (got < 0 && errno != EINTR)) break;
    }
    struct timespec pause = {0, 10 * 1000 * 1000};
    for (int attempt = 0; attempt < 500; attempt++) {
        int fd = open(mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            close(fd);
            break;
        }
        if (errno != ECONNABORTED) break;
        nanosleep(&pause, NULL);
    }
    _exit(0);
}
#endif

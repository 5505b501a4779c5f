#ifndef VISHWA_CFUSE3_SHIM_H
#define VISHWA_CFUSE3_SHIM_H
// The one place FUSE_USE_VERSION is defined: fuse_lowlevel.h refuses to compile without it.
#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>
#include <sys/xattr.h>

// fuse_session_loop_mt is a macro at this API version, which Swift cannot call.
static inline int vishwa_fuse_session_loop_mt(struct fuse_session *se, struct fuse_loop_config *config) {
    return fuse_session_loop_mt(se, config);
}
#endif

/* Setup flags by value: Debian 12's liburing 2.3 headers predate some of them,
 * and the kernel, not the header, decides which ones a ring may use. */
#ifndef AIOURING_URING_COMPAT_H
#define AIOURING_URING_COMPAT_H
#include <liburing.h>

#define AIOURING_SETUP_CQSIZE        (1U << 3)
#define AIOURING_SETUP_CLAMP         (1U << 4)
#define AIOURING_SETUP_R_DISABLED    (1U << 6)
#define AIOURING_SETUP_SUBMIT_ALL    (1U << 7)
#define AIOURING_SETUP_COOP_TASKRUN  (1U << 8)
#define AIOURING_SETUP_TASKRUN_FLAG  (1U << 9)
#define AIOURING_SETUP_SINGLE_ISSUER (1U << 12)
#define AIOURING_SETUP_DEFER_TASKRUN (1U << 13)

#include <sys/syscall.h>
#include <unistd.h>
#include <errno.h>

#define AIOURING_REGISTER_ENABLE_RINGS 12

/* Opcodes newer than liburing 2.3's header (the probe says if the kernel has them). */
#define AIOURING_OP_FTRUNCATE 55

/* liburing 2.3 declares io_uring_enable_rings() but does not export it. */
static inline int aiouring_enable_rings(struct io_uring *ring)
{
    int ret = (int)syscall(__NR_io_uring_register, ring->ring_fd,
                           AIOURING_REGISTER_ENABLE_RINGS, NULL, 0);
    return ret < 0 ? -errno : ret;
}

#endif

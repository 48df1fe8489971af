# System calls and structures the core uses beyond liburing.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from cpython.object cimport PyObject


cdef extern from "<sys/socket.h>" nogil:
    ctypedef unsigned int socklen_t
    ctypedef unsigned short sa_family_t

    struct sockaddr:
        sa_family_t sa_family

    struct sockaddr_storage:
        sa_family_t ss_family

    struct iovec:
        void *iov_base
        size_t iov_len

    struct msghdr:
        void *msg_name
        socklen_t msg_namelen
        iovec *msg_iov
        size_t msg_iovlen
        void *msg_control
        size_t msg_controllen
        int msg_flags

    ssize_t send(int fd, const void *buf, size_t n, int flags)
    int AF_INET, AF_INET6, AF_UNIX
    int MSG_NOSIGNAL, MSG_DONTWAIT, MSG_TRUNC, MSG_WAITALL
    int SOCK_NONBLOCK, SOCK_CLOEXEC
    int SHUT_WR
    int shutdown(int fd, int how)


cdef extern from "<netinet/in.h>" nogil:
    struct in_addr:
        uint32_t s_addr

    struct in6_addr:
        uint8_t s6_addr[16]

    struct sockaddr_in:
        sa_family_t sin_family
        uint16_t sin_port
        in_addr sin_addr

    struct sockaddr_in6:
        sa_family_t sin6_family
        uint16_t sin6_port
        uint32_t sin6_flowinfo
        in6_addr sin6_addr
        uint32_t sin6_scope_id

    uint16_t htons(uint16_t)
    uint16_t ntohs(uint16_t)
    uint32_t htonl(uint32_t)
    uint32_t ntohl(uint32_t)


cdef extern from "<sys/un.h>" nogil:
    struct sockaddr_un:
        sa_family_t sun_family
        char sun_path[108]


cdef extern from "<arpa/inet.h>" nogil:
    int inet_pton(int af, const char *src, void *dst)
    const char *inet_ntop(int af, const void *src, char *dst, socklen_t size)
    enum:
        INET6_ADDRSTRLEN


cdef extern from "<stddef.h>" nogil:
    size_t offsetof_sun_path "offsetof(struct sockaddr_un, sun_path)"


cdef extern from "<poll.h>" nogil:
    enum:
        POLLIN
        POLLOUT
        POLLERR
        POLLHUP


cdef extern from "<fcntl.h>" nogil:
    int fcntl(int fd, int cmd, ...)
    enum:
        F_GETFD
        O_CLOEXEC


cdef extern from "<time.h>" nogil:
    ctypedef int clockid_t
    struct timespec:
        long tv_sec
        long tv_nsec
    int clock_gettime(clockid_t clk, timespec *ts)
    enum:
        CLOCK_MONOTONIC


cdef extern from "Python.h":
    object PyContext_CopyCurrent()
    int PyContext_Enter(object ctx) except -1
    int PyContext_Exit(object ctx) except -1
    int _PyBytes_Resize(PyObject **bytes, Py_ssize_t newsize) except -1


cdef extern from "<errno.h>" nogil:
    enum:
        ECANCELED
        ENOBUFS
        ECONNABORTED
        EMFILE
        ENFILE
        ENOENT
        EALREADY


cdef extern from "<stdlib.h>" nogil:
    int posix_memalign(void **memptr, size_t alignment, size_t size)
    void free(void *ptr)


cdef extern from "<sys/stat.h>" nogil:
    # glibc's struct statx (Linux 4.11+), filled by IORING_OP_STATX.
    struct statx_timestamp:
        long long tv_sec
        unsigned int tv_nsec

    struct statx:
        unsigned int stx_mask
        unsigned int stx_blksize
        unsigned long long stx_attributes
        unsigned int stx_nlink
        unsigned int stx_uid
        unsigned int stx_gid
        unsigned short stx_mode
        unsigned long long stx_ino
        unsigned long long stx_size
        unsigned long long stx_blocks
        statx_timestamp stx_atime
        statx_timestamp stx_btime
        statx_timestamp stx_ctime
        statx_timestamp stx_mtime
        unsigned int stx_rdev_major
        unsigned int stx_rdev_minor
        unsigned int stx_dev_major
        unsigned int stx_dev_minor


cdef extern from "<sys/mman.h>" nogil:
    void *mmap(void *addr, size_t length, int prot, int flags, int fd, long offset)
    int munmap(void *addr, size_t length)
    void *MAP_FAILED
    enum:
        PROT_READ
        PROT_WRITE
        MAP_PRIVATE
        MAP_ANONYMOUS


cdef extern from "<limits.h>" nogil:
    enum:
        IOV_MAX


cdef extern from "<unistd.h>" nogil:
    int close_fd "close"(int fd)
    ssize_t c_write "write"(int fd, const void *buf, size_t count)


cdef extern from *:
    int c_errno "errno"


cdef extern from "<string.h>" nogil:
    size_t strnlen(const char *s, size_t maxlen)


cdef extern from "<malloc.h>" nogil:
    int mallopt(int param, int value)
    enum:
        M_TRIM_THRESHOLD
        M_MMAP_THRESHOLD

# Declarations of the parts of liburing (2.3+) and the io_uring uapi the core uses.
# liburing's io_uring_prep_* are the one place an SQE's layout is written.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t, int64_t
from posix.types cimport mode_t
from posix.signal cimport sigset_t
from includes.system cimport iovec, msghdr, sockaddr, socklen_t, statx


cdef extern from "includes/uring_compat.h" nogil:
    # Constants newer than Debian 12's liburing headers, defined by the project.
    unsigned AIOURING_SETUP_SINGLE_ISSUER
    unsigned AIOURING_SETUP_DEFER_TASKRUN
    unsigned AIOURING_SETUP_COOP_TASKRUN
    unsigned AIOURING_SETUP_TASKRUN_FLAG
    unsigned AIOURING_SETUP_SUBMIT_ALL
    unsigned AIOURING_SETUP_R_DISABLED
    unsigned AIOURING_SETUP_CQSIZE
    unsigned AIOURING_SETUP_CLAMP
    int AIOURING_OP_FTRUNCATE

    struct __kernel_timespec:
        long long tv_sec
        long long tv_nsec

    struct io_uring_sqe:
        uint8_t opcode
        uint8_t flags
        uint16_t ioprio
        int32_t fd
        uint64_t off
        uint64_t addr
        uint32_t len
        uint32_t rw_flags
        uint32_t msg_flags
        uint32_t poll32_events
        uint32_t accept_flags
        uint32_t cancel_flags
        uint32_t open_flags
        uint32_t statx_flags
        uint32_t timeout_flags
        uint32_t fsync_flags
        uint32_t fadvise_advice
        uint32_t splice_flags
        uint32_t rename_flags
        uint32_t unlink_flags
        uint32_t hardlink_flags
        uint64_t user_data
        uint16_t buf_index
        uint16_t buf_group
        uint32_t file_index
        int32_t splice_fd_in
        uint64_t addr3

    struct io_uring_cqe:
        uint64_t user_data
        int32_t res
        uint32_t flags

    struct io_uring_sq:
        unsigned *kflags
        unsigned ring_entries

    struct io_uring_cq:
        unsigned ring_entries

    struct io_uring:
        io_uring_sq sq
        io_uring_cq cq
        unsigned flags
        int ring_fd
        unsigned features

    struct io_uring_params:
        uint32_t sq_entries
        uint32_t cq_entries
        uint32_t flags
        uint32_t sq_thread_cpu
        uint32_t sq_thread_idle
        uint32_t features
        uint32_t wq_fd

    struct io_uring_probe:
        uint8_t last_op
        uint8_t ops_len

    int io_uring_queue_init_params(unsigned entries, io_uring *ring, io_uring_params *p)
    void io_uring_queue_exit(io_uring *ring)
    io_uring_probe *io_uring_get_probe_ring(io_uring *ring)
    void io_uring_free_probe(io_uring_probe *probe)
    int io_uring_opcode_supported(const io_uring_probe *p, int op)
    int aiouring_enable_rings(io_uring *ring)

    io_uring_sqe *io_uring_get_sqe(io_uring *ring)
    unsigned io_uring_sq_ready(const io_uring *ring)
    unsigned io_uring_sq_space_left(const io_uring *ring)
    unsigned io_uring_cq_ready(const io_uring *ring)
    int io_uring_submit(io_uring *ring)
    int io_uring_submit_and_get_events(io_uring *ring)
    int io_uring_submit_and_wait_timeout(io_uring *ring, io_uring_cqe **cqe_ptr,
                                         unsigned wait_nr, __kernel_timespec *ts,
                                         sigset_t *sigmask)
    unsigned io_uring_peek_batch_cqe(io_uring *ring, io_uring_cqe **cqes, unsigned count)
    void io_uring_cq_advance(io_uring *ring, unsigned nr)

    void io_uring_sqe_set_data64(io_uring_sqe *sqe, uint64_t data)

    # The one encoder of SQEs: liburing's io_uring_prep_* (one per opcode),
    # plus src/requests/prep.pxd for what liburing 2.3 lacks.
    void io_uring_prep_rw(int op, io_uring_sqe *sqe, int fd, const void *addr,
                          unsigned len, uint64_t offset)
    void io_uring_prep_nop(io_uring_sqe *sqe)
    void io_uring_prep_read(io_uring_sqe *sqe, int fd, void *buf, unsigned nbytes,
                            uint64_t offset)
    void io_uring_prep_write(io_uring_sqe *sqe, int fd, const void *buf, unsigned nbytes,
                             uint64_t offset)
    void io_uring_prep_read_fixed(io_uring_sqe *sqe, int fd, void *buf, unsigned nbytes,
                                  uint64_t offset, int buf_index)
    void io_uring_prep_write_fixed(io_uring_sqe *sqe, int fd, const void *buf,
                                   unsigned nbytes, uint64_t offset, int buf_index)
    void io_uring_prep_readv(io_uring_sqe *sqe, int fd, const iovec *iovecs,
                             unsigned nr_vecs, uint64_t offset)
    void io_uring_prep_writev(io_uring_sqe *sqe, int fd, const iovec *iovecs,
                              unsigned nr_vecs, uint64_t offset)
    void io_uring_prep_recv(io_uring_sqe *sqe, int sockfd, void *buf, size_t len, int flags)
    void io_uring_prep_send(io_uring_sqe *sqe, int sockfd, const void *buf, size_t len,
                            int flags)
    void io_uring_prep_send_zc(io_uring_sqe *sqe, int sockfd, const void *buf, size_t len,
                               int flags, unsigned zc_flags)
    void io_uring_prep_recvmsg(io_uring_sqe *sqe, int fd, msghdr *msg, unsigned flags)
    void io_uring_prep_sendmsg(io_uring_sqe *sqe, int fd, const msghdr *msg, unsigned flags)
    void io_uring_prep_accept(io_uring_sqe *sqe, int fd, sockaddr *addr,
                              socklen_t *addrlen, int flags)
    void io_uring_prep_multishot_accept(io_uring_sqe *sqe, int fd, sockaddr *addr,
                                        socklen_t *addrlen, int flags)
    void io_uring_prep_connect(io_uring_sqe *sqe, int fd, const sockaddr *addr,
                               socklen_t addrlen)
    void io_uring_prep_shutdown(io_uring_sqe *sqe, int fd, int how)
    void io_uring_prep_poll_add(io_uring_sqe *sqe, int fd, unsigned poll_mask)
    void io_uring_prep_cancel64(io_uring_sqe *sqe, uint64_t user_data, int flags)
    void io_uring_prep_timeout(io_uring_sqe *sqe, __kernel_timespec *ts, unsigned count,
                               unsigned flags)
    void io_uring_prep_link_timeout(io_uring_sqe *sqe, __kernel_timespec *ts, unsigned flags)
    void io_uring_prep_openat(io_uring_sqe *sqe, int dfd, const char *path, int flags,
                              mode_t mode)
    void io_uring_prep_openat_direct(io_uring_sqe *sqe, int dfd, const char *path, int flags,
                                     mode_t mode, unsigned file_index)
    void io_uring_prep_close(io_uring_sqe *sqe, int fd)
    void io_uring_prep_close_direct(io_uring_sqe *sqe, unsigned file_index)
    void io_uring_prep_statx(io_uring_sqe *sqe, int dfd, const char *path, int flags,
                             unsigned mask, statx *statxbuf)
    void io_uring_prep_fsync(io_uring_sqe *sqe, int fd, unsigned fsync_flags)
    void io_uring_prep_fallocate(io_uring_sqe *sqe, int fd, int mode, uint64_t offset,
                                 uint64_t len)
    void io_uring_prep_fadvise(io_uring_sqe *sqe, int fd, uint64_t offset, unsigned len,
                               int advice)
    void io_uring_prep_unlinkat(io_uring_sqe *sqe, int dfd, const char *path, int flags)
    void io_uring_prep_renameat(io_uring_sqe *sqe, int olddfd, const char *oldpath,
                                int newdfd, const char *newpath, unsigned flags)
    void io_uring_prep_mkdirat(io_uring_sqe *sqe, int dfd, const char *path, mode_t mode)
    void io_uring_prep_linkat(io_uring_sqe *sqe, int olddfd, const char *oldpath,
                              int newdfd, const char *newpath, int flags)
    void io_uring_prep_symlinkat(io_uring_sqe *sqe, const char *target, int newdirfd,
                                 const char *linkpath)
    void io_uring_prep_splice(io_uring_sqe *sqe, int fd_in, int64_t off_in, int fd_out,
                              int64_t off_out, unsigned nbytes, unsigned splice_flags)
    void io_uring_prep_tee(io_uring_sqe *sqe, int fd_in, int fd_out, unsigned nbytes,
                           unsigned splice_flags)
    void io_uring_prep_msg_ring(io_uring_sqe *sqe, int fd, unsigned len, uint64_t data,
                                unsigned flags)

    int io_uring_register_files_sparse(io_uring *ring, unsigned nr)
    int io_uring_register_file_alloc_range(io_uring *ring, unsigned off, unsigned len)
    int io_uring_register_buffers_sparse(io_uring *ring, unsigned nr)
    int io_uring_register_buffers_update_tag(io_uring *ring, unsigned off,
                                             const iovec *iovecs,
                                             const unsigned long long *tags, unsigned nr)

    # Provided buffer rings (IORING_REGISTER_PBUF_RING).
    struct io_uring_buf_ring:
        uint16_t tail

    struct io_uring_buf_reg:
        uint64_t ring_addr
        uint32_t ring_entries
        uint16_t bgid

    int io_uring_register_buf_ring(io_uring *ring, io_uring_buf_reg *reg, unsigned flags)
    int io_uring_unregister_buf_ring(io_uring *ring, int bgid)
    int io_uring_buf_ring_mask(uint32_t ring_entries)
    void io_uring_buf_ring_init(io_uring_buf_ring *br)
    void io_uring_buf_ring_add(io_uring_buf_ring *br, void *addr, unsigned len,
                               unsigned short bid, int mask, int buf_offset)
    void io_uring_buf_ring_advance(io_uring_buf_ring *br, int count)

    enum:
        IORING_OP_NOP
        IORING_OP_READV
        IORING_OP_WRITEV
        IORING_OP_FSYNC
        IORING_OP_READ_FIXED
        IORING_OP_WRITE_FIXED
        IORING_OP_LINK_TIMEOUT
        IORING_OP_FALLOCATE
        IORING_OP_OPENAT
        IORING_OP_CLOSE
        IORING_OP_STATX
        IORING_OP_FADVISE
        IORING_OP_TEE
        IORING_OP_RENAMEAT
        IORING_OP_UNLINKAT
        IORING_OP_MKDIRAT
        IORING_OP_SYMLINKAT
        IORING_OP_LINKAT
        IORING_OP_POLL_ADD
        IORING_OP_POLL_REMOVE
        IORING_OP_SENDMSG
        IORING_OP_RECVMSG
        IORING_OP_TIMEOUT
        IORING_OP_ACCEPT
        IORING_OP_ASYNC_CANCEL
        IORING_OP_CONNECT
        IORING_OP_READ
        IORING_OP_WRITE
        IORING_OP_SEND
        IORING_OP_RECV
        IORING_OP_SPLICE
        IORING_OP_SHUTDOWN
        IORING_OP_SEND_ZC
        IORING_OP_LAST

        IOSQE_FIXED_FILE
        IOSQE_IO_LINK
        IOSQE_IO_HARDLINK
        IOSQE_ASYNC
        IOSQE_BUFFER_SELECT
        IOSQE_CQE_SKIP_SUCCESS

        IORING_CQE_F_MORE
        IORING_CQE_F_BUFFER
        IORING_CQE_BUFFER_SHIFT
        IORING_CQE_F_SOCK_NONEMPTY

        IORING_RECVSEND_POLL_FIRST
        IORING_RECV_MULTISHOT
        IORING_ACCEPT_MULTISHOT

        IORING_FEAT_EXT_ARG
        IORING_FEAT_NODROP

        IORING_ASYNC_CANCEL_ALL
        IORING_ASYNC_CANCEL_FD

        IORING_POLL_ADD_MULTI
        IORING_FSYNC_DATASYNC
        IORING_TIMEOUT_ABS
        IORING_FILE_INDEX_ALLOC
        SPLICE_F_FD_IN_FIXED

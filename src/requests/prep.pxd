# SQE layouts liburing 2.3 does not write for us; every other request is
# written by liburing's io_uring_prep_* (declared in includes/uring.pxd).

cdef inline void prep_recv_provided(io_uring_sqe* sqe, int fd, uint16_t group,
                                    bint multishot) noexcept nogil:
    """A RECV that picks its buffer from provided-buffer group `group`
    when data arrives (multishot: one CQE per arrival until stopped)."""
    io_uring_prep_recv(sqe, fd, NULL, 0, 0)
    if multishot:
        sqe.ioprio = IORING_RECV_MULTISHOT
    sqe.flags |= IOSQE_BUFFER_SELECT
    sqe.buf_group = group


cdef inline void prep_ftruncate(io_uring_sqe* sqe, int fd, int64_t length) noexcept nogil:
    """ftruncate(2) (IORING_OP_FTRUNCATE, Linux 6.9)."""
    io_uring_prep_rw(AIOURING_OP_FTRUNCATE, sqe, fd, NULL, 0, <uint64_t>length)


cdef inline void prep_msg_ring_wake(io_uring_sqe* sqe, int ring_fd, uint32_t value,
                                    uint64_t target_user_data) noexcept nogil:
    """A MSG_RING posting a CQE (res value, user_data target_user_data) on
    another ring."""
    io_uring_prep_msg_ring(sqe, ring_fd, value, target_user_data, 0)

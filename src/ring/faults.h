/* The fault injector's view of liburing's submission queue: the SQEs taken
 * since the last submission (sqe_head .. sqe_tail), which the kernel has not
 * seen yet and so may still be rewritten. */
#ifndef AIOURING_RING_FAULTS_H
#define AIOURING_RING_FAULTS_H
#include <liburing.h>

/* IORING_OP_NOP's flag that makes its CQE carry sqe->len as res (6.10+). */
#define AIOURING_NOP_INJECT_RESULT (1U << 0)

static inline unsigned aiouring_sq_unflushed_head(const struct io_uring *ring)
{
	return ring->sq.sqe_head;
}

static inline unsigned aiouring_sq_unflushed_tail(const struct io_uring *ring)
{
	return ring->sq.sqe_tail;
}

static inline struct io_uring_sqe *aiouring_sq_entry(struct io_uring *ring, unsigned index)
{
	return &ring->sq.sqes[index & ring->sq.ring_mask];
}

#endif

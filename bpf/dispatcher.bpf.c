// SPDX-License-Identifier: GPL-2.0
/* The program ring's dispatcher: the io_uring_bpf_ops loop_step that runs every
 * chain program of a loop inside io_uring_enter on its program ring (Linux
 * 7.1+). One program serves every chain program (the built-ins and a
 * loop's registered user programs): each call consumes
 * one CQE and, by its user_data, starts a chain the loop handed over, runs
 * the step of the chain whose request completed, or cancels; a finished
 * chain's result goes to the loop's ring as a MSG_RING CQE aimed at the
 * Operation that waits for it. The layout it shares with the loop is in
 * dispatcher.h. */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "io_uring_bpf.h"
#include "dispatcher.h"
#include "programs/builtin.h"

char LICENSE[] SEC("license") = "GPL";

#define CHAIN_ECANCELED 125

/* Ring geometry, set by the runtime before load: constants for the verifier
 * (region sizes must be known). */
const volatile __u32 cq_head_off;
const volatile __u32 cq_tail_off;
const volatile __u32 cqes_off;
const volatile __u32 cq_entries = PROGRAM_RING_CQ_ENTRIES;
const volatile __u32 sq_entries = PROGRAM_RING_SQ_ENTRIES;

struct aiouring_chain_shared shared;

/* User programs (`python -m aiouring.bpf build prog.c`): a generated wrapper
 * includes their sources, defines CHAIN_USER_PROGRAMS(X) as X(name) for each
 * and then includes this file; they take the indices after the built-ins,
 * in that order, as in the native build the loop registers. */
#ifndef CHAIN_USER_PROGRAMS
#define CHAIN_USER_PROGRAMS(X)
#endif
#define CHAIN_PROGRAMS(X) CHAIN_BUILTIN_PROGRAMS(X) CHAIN_USER_PROGRAMS(X)

#define INDEX_ENTRY(name) CHAIN_INDEX_##name,
enum { CHAIN_PROGRAMS(INDEX_ENTRY) CHAIN_PROGRAM_COUNT };

static __always_inline int program_start(__u32 program, struct aiouring_chain *c,
					 struct chain_io *io)
{
#define START_CASE(name) case CHAIN_INDEX_##name: return name##_start(c, io);
	switch (program) {
	CHAIN_PROGRAMS(START_CASE)
	}
	return chain_finish(c, -CHAIN_EINVAL);
}

static __always_inline int program_step(__u32 program, struct aiouring_chain *c,
					struct chain_io *io, __s32 res)
{
#define STEP_CASE(name) case CHAIN_INDEX_##name: return name##_step(c, io, res);
	switch (program) {
	CHAIN_PROGRAMS(STEP_CASE)
	}
	return chain_finish(c, -CHAIN_EINVAL);
}

struct ring_view {
	struct chain_sqe *sqes;
	__u32 *head;
	__u32 *tail;
	struct iou_cqe *cqes;
};

/* Posts the chain's end to the loop's ring: a CQE with the waiter's
 * user_data and the result (clamped to 32 bits; the slot holds all of it). */
static __noinline void finish(struct iou_ctx *ctx, struct chain_sqe *sqes,
			      struct aiouring_chain_slot *s, __u32 index)
{
	__s64 result = s->chain.result;
	__s32 res = result > 0x7fffffff ? 0x7fffffff : (__s32)result;

	s->state = CHAIN_SLOT_DONE;
	shared.finished++;
	if (shared.notify_fd < 0 || shared.shutdown)
		return;
	chain_prep_sqe(&sqes[0], IOU_OP_MSG_RING, shared.notify_fd, IOU_MSG_DATA, (__u32)res,
		 s->waiter, CHAIN_UD_NOTIFY | index);
	sqes[0].flags = IOU_SQE_CQE_SKIP_SUCCESS;
	if (bpf_io_uring_submit_sqes(ctx, 1) != 1)
		shared.notify_failures++;
}

/* After a program's start or step: end the chain, or submit its request. */
static __always_inline void advance(struct iou_ctx *ctx, struct chain_sqe *sqes,
				    struct aiouring_chain_slot *s, __u32 index,
				    struct chain_io *io, int rc)
{
	if (rc == CHAIN_DONE) {
		finish(ctx, sqes, s, index);
		return;
	}
	if (io->issued != 1) {
		s->chain.result = io->issued == 0 ? -CHAIN_EIO : -CHAIN_EINVAL;
		finish(ctx, sqes, s, index);
		return;
	}
	if (bpf_io_uring_submit_sqes(ctx, 1) != 1) {
		s->chain.result = -CHAIN_EIO;
		finish(ctx, sqes, s, index);
		return;
	}
	s->chain.steps++;
	s->inflight = 1;
	s->request = io->user_data;
	shared.inflight++;
	shared.requests++;
}

static __always_inline void init_io(struct chain_io *io, struct chain_sqe *sqes,
				    struct aiouring_chain_slot *s, __u32 index)
{
	io->sqes = sqes;
	io->count = 0;
	io->capacity = sq_entries;
	io->issued = 0;
	io->user_data = CHAIN_UD_REQUEST | ((__u64)s->generation << 16) | index;
}

static __noinline void on_wake(struct iou_ctx *ctx, struct chain_sqe *sqes, __s32 res)
{
	__u32 cmd = (__u32)res >> 16, index = res & 0xffff;
	struct aiouring_chain_slot *s;
	struct chain_io io;
	int rc;

	if (index >= CHAIN_SLOTS)
		return;
	s = &shared.slots[index];
	if (cmd == CHAIN_CMD_START) {
		if (s->state != CHAIN_SLOT_STARTING)
			return;
		s->state = CHAIN_SLOT_RUNNING;
		s->where = CHAIN_RAN_IN_KERNEL;
		s->generation++;
		s->inflight = 0;
		shared.started++;
		init_io(&io, sqes, s, index);
		rc = program_start(s->chain.program, &s->chain, &io);
		advance(ctx, sqes, s, index, &io, rc);
	} else if (cmd == CHAIN_CMD_CANCEL) {
		if (s->state != CHAIN_SLOT_RUNNING)
			return;
		s->cancel = 1;
		if (!s->inflight)
			return;
		/* Its CQE (-ECANCELED or what it got first) ends the chain. */
		chain_prep_sqe(&sqes[0], IOU_OP_ASYNC_CANCEL, -1, s->request, 0, 0, CHAIN_UD_IGNORE);
		sqes[0].flags = IOU_SQE_CQE_SKIP_SUCCESS;
		bpf_io_uring_submit_sqes(ctx, 1);
	}
}

static __noinline void on_request(struct iou_ctx *ctx, struct chain_sqe *sqes,
				  __u64 user_data, __s32 res)
{
	__u32 index = user_data & 0xffff;
	__u32 generation = (user_data >> 16) & 0xffffffff;
	struct aiouring_chain_slot *s;
	struct chain_io io;
	int rc;

	if (index >= CHAIN_SLOTS)
		return;
	s = &shared.slots[index];
	if (s->state != CHAIN_SLOT_RUNNING || s->generation != generation || !s->inflight)
		return;
	s->inflight = 0;
	if (shared.inflight)
		shared.inflight--;
	if (s->cancel) {
		s->chain.result = -CHAIN_ECANCELED;
		finish(ctx, sqes, s, index);
		return;
	}
	if (s->chain.steps >= s->chain.max_steps) {
		s->chain.result = -CHAIN_ELOOP;
		finish(ctx, sqes, s, index);
		return;
	}
	init_io(&io, sqes, s, index);
	rc = program_step(s->chain.program, &s->chain, &io, res);
	advance(ctx, sqes, s, index, &io, rc);
}

SEC("struct_ops/loop_step")	/* made sleepable by the runtime: BPF_F_SLEEPABLE */
int BPF_PROG(loop_step, struct iou_ctx *ring, struct iou_loop_params *lp)
{
	struct chain_sqe *sqes;
	struct iou_cqe *cqe;
	__u8 *rings;
	__u32 head, tail;
	__u64 user_data;
	__s32 res;

	shared.loop_steps++;
	sqes = (void *)bpf_io_uring_get_region(ring, IOU_REGION_SQ,
					       sq_entries * sizeof(struct chain_sqe));
	rings = bpf_io_uring_get_region(ring, IOU_REGION_CQ,
					cqes_off + cq_entries * sizeof(struct iou_cqe));
	if (!sqes || !rings) {
		shared.fatal = -CHAIN_EFAULT;
		return IOU_LOOP_STOP;
	}
	if (shared.shutdown)
		return IOU_LOOP_STOP;
	head = *(volatile __u32 *)(rings + cq_head_off);
	tail = *(volatile __u32 *)(rings + cq_tail_off);
	if (head != tail) {
		cqe = (void *)(rings + cqes_off) + (head & (cq_entries - 1)) * sizeof(*cqe);
		user_data = cqe->user_data;
		res = cqe->res;
		head++;
		*(volatile __u32 *)(rings + cq_head_off) = head;
		shared.cqes++;
		switch (user_data >> CHAIN_UD_KIND_SHIFT) {
		case CHAIN_UD_REQUEST >> CHAIN_UD_KIND_SHIFT:
			on_request(ring, sqes, user_data, res);
			break;
		case CHAIN_UD_WAKE >> CHAIN_UD_KIND_SHIFT:
			on_wake(ring, sqes, res);
			if (shared.shutdown)
				return IOU_LOOP_STOP;
			break;
		case CHAIN_UD_NOTIFY >> CHAIN_UD_KIND_SHIFT:
			if (res < 0)
				shared.notify_failures++;
			break;
		}
	}
	/* More CQEs waiting: the kernel calls again at once. */
	lp->cq_wait_idx = head + 1;
	return IOU_LOOP_CONTINUE;
}

SEC(".struct_ops")
struct io_uring_bpf_ops chain_dispatcher = {
	.loop_step = (void *)loop_step,
	.ring_fd = 0,			/* set by the runtime before load */
};

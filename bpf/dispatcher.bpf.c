// SPDX-License-Identifier: GPL-2.0
/* The program ring's dispatcher: the io_uring_bpf_ops loop_step that runs every
 * chain program of a loop inside io_uring_enter on its program ring (Linux
 * 7.1+). One program serves every chain program (the built-ins and a loop's
 * registered user programs). Each call consumes one CQE and, by its
 * user_data, starts a chain the loop handed over (its linked steps, then
 * start()), gives a completed request's result to its chain's step(), or
 * cancels a chain. Every request a program queues is checked against what
 * the coroutine handed over (chain_check.h) before it becomes an SQE. A
 * finished chain's in-flight requests are cancelled and its direct
 * descriptors closed; then its result goes to the loop's ring as a MSG_RING
 * CQE aimed at the Operation that waits for it. The memory it shares with
 * the loop is described in dispatcher.h. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "io_uring_bpf.h"
#include "dispatcher.h"
#include "programs/builtin.h"

char LICENSE[] SEC("license") = "GPL";

#ifndef BPF_F_MMAPABLE
#define BPF_F_MMAPABLE (1U << 10)
#endif

/* Ring geometry, set by the runtime before load: constants for the verifier
 * (region sizes must be known). */
const volatile __u32 cq_head_off;
const volatile __u32 cq_tail_off;
const volatile __u32 cqes_off;
const volatile __u32 cq_entries = PROGRAM_RING_CQ_ENTRIES;
const volatile __u32 sq_entries = PROGRAM_RING_SQ_ENTRIES;

/* What programs see (the .bss map). */
struct aiouring_chains chains;

/* What they cannot reach: defined after every program's code. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct aiouring_chain_control);
	__uint(map_flags, BPF_F_MMAPABLE);
} control SEC(".maps");

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

/* A value kept in map memory, read and written as such: the compiler may
 * not keep it in a register, so the verifier does not follow it. */
#define IN_MAP(x) (*(volatile __typeof__(x) *)&(x))

static __always_inline struct aiouring_chain_control *control_map(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&control, &zero);
}

/* What every handler works with: the ring being run, its SQ region and the
 * control map (passed as one pointer: BPF calls take five arguments). */
struct dispatch {
	struct iou_ctx *ctx;
	struct iou_sqe *sqes;
	struct aiouring_chain_control *k;
};

/* chain_load() in the kernel: a range of the running chain's buffers. */
static __always_inline int chain_kernel_load(__u32 index, __u32 offset, void *dst, __u32 size)
{
	struct aiouring_chain_control *k = control_map();
	__u64 addr = 0;
	__u32 slot;

	if (!k)
		return -CHAIN_EFAULT;
	slot = k->current;
	if (slot >= CHAIN_SLOTS)
		return -CHAIN_EFAULT;
	if (chain_check_buffer(&k->slots[slot].tables, index, offset, size, 0, &addr))
		return -CHAIN_EFAULT;
	return bpf_copy_from_user(dst, size, (const void *)addr) ? -CHAIN_EFAULT : 0;
}

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
					struct chain_io *io, __u32 tag, __s32 res)
{
#define STEP_CASE(name) case CHAIN_INDEX_##name: return name##_step(c, io, tag, res);
	switch (program) {
	CHAIN_PROGRAMS(STEP_CASE)
	}
	return chain_finish(c, -CHAIN_EINVAL);
}

/* The user address of an entry's timespec (the kernel copies it at submission). */
static __always_inline __u64 entry_ts_address(struct aiouring_chain_control *k, __u32 index,
					      __u32 e)
{
	return k->control_user_base + __builtin_offsetof(struct aiouring_chain_control, slots)
		+ (__u64)index * sizeof(struct chain_control_slot)
		+ __builtin_offsetof(struct chain_control_slot, entries)
		+ (__u64)e * sizeof(struct chain_entry)
		+ __builtin_offsetof(struct chain_entry, ts_sec);
}

/* The check of chain_check.h, as a global function: the verifier checks it
 * once, on its own, however many call sites and requests there are. */
__noinline __u32 dispatcher_check(const struct chain_tables *t, const struct chain_request *r,
				  __u32 previous, struct chain_resolved *out, __u32 *detail)
{
	if (!t || !r || !out || !detail)
		return CHAIN_FAULT_OPCODE;
	return chain_check_request(t, r, previous, out, detail);
}

/* Writes a checked request as an SQE (a global function, for the same
 * reason). */
__noinline int dispatcher_encode(struct iou_sqe *sqe, const struct chain_resolved *r,
				 __u64 user_data, __u64 ts_address)
{
	if (!sqe || !r)
		return -1;
	__builtin_memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = r->opcode;
	sqe->flags = r->sqe_flags;
	sqe->fd = r->fd;
	sqe->user_data = user_data;
	switch (r->opcode) {
	case CHAIN_OP_READ:
	case CHAIN_OP_WRITE:
		sqe->addr = r->addr;
		sqe->len = r->len;
		sqe->off = r->off;
		sqe->op_flags = r->op_flags;
		break;
	case CHAIN_OP_RECV:
	case CHAIN_OP_SEND:
	case CHAIN_OP_SEND_ZC:
		sqe->addr = r->addr;
		sqe->len = r->len;
		sqe->op_flags = r->op_flags;
		break;
	case CHAIN_OP_OPENAT:
		sqe->addr = r->addr;
		sqe->len = r->mode;
		sqe->op_flags = r->op_flags;
		sqe->file_index = r->file_index + 1;
		break;
	case CHAIN_OP_CLOSE:
		sqe->fd = 0;
		sqe->file_index = r->file_index + 1;
		break;
	case CHAIN_OP_STATX:
		sqe->addr = r->addr;
		sqe->len = r->mode;
		sqe->off = r->addr2;
		sqe->op_flags = r->op_flags;
		break;
	case CHAIN_OP_ACCEPT:
		sqe->file_index = r->file_index + 1;
		break;
	case CHAIN_OP_CONNECT:
		sqe->addr = r->addr;
		sqe->off = r->off;
		break;
	case CHAIN_OP_SPLICE:
		sqe->off = r->off;
		sqe->addr = r->addr2;
		sqe->len = r->len;
		sqe->op_flags = r->op_flags | (r->fixed_in ? IOU_SPLICE_F_FD_IN_FIXED : 0);
		sqe->file_index = r->fd_in;
		break;
	case CHAIN_OP_TIMEOUT:
		sqe->fd = -1;
		sqe->addr = ts_address;
		sqe->len = 1;
		sqe->op_flags = IOU_TIMEOUT_ETIME_SUCCESS;
		break;
	case CHAIN_OP_LINK_TIMEOUT:
		sqe->fd = -1;
		sqe->addr = ts_address;
		sqe->len = 1;
		break;
	case CHAIN_OP_FSYNC:
		sqe->op_flags = r->op_flags;
		break;
	}
	return 0;
}

static __always_inline int take_entry(struct chain_control_slot *s)
{
	__u32 top = s->free_top;
	if (top == 0 || top > CHAIN_MAX_INFLIGHT)
		return -1;
	top--;
	s->free_top = top;
	return s->free_list[top & (CHAIN_MAX_INFLIGHT - 1)] & (CHAIN_MAX_INFLIGHT - 1);
}

static __always_inline void give_entry(struct chain_control_slot *s, __u32 e)
{
	__u32 top = s->free_top;
	s->entries[e & (CHAIN_MAX_INFLIGHT - 1)].state = CHAIN_ENTRY_FREE;
	if (top < CHAIN_MAX_INFLIGHT) {
		s->free_list[top] = e;
		s->free_top = top + 1;
	}
}

/* Posts the chain's end to the loop's ring: a CQE with the waiter's
 * user_data and the result (clamped to 32 bits; the slot holds all of it). */
static __noinline void post_final(struct dispatch *d, __u32 index)
{
	struct aiouring_chain_control *k = d->k;
	struct iou_sqe *sqes = d->sqes;
	struct chain_control_slot *s;
	__s64 result;
	__s32 res;
	__u64 waiter;

	if (index >= CHAIN_SLOTS)
		return;
	s = &k->slots[index];
	result = chains.chains[index].result;
	res = result > 0x7fffffff ? 0x7fffffff : (__s32)result;
	/* Everything of the slot is read before it says DONE: from then on the
	 * loop may deliver the chain early, free the slot and start another
	 * chain in it (whose waiter must not get this end). */
	waiter = s->waiter;
	s->end_ns = bpf_ktime_get_ns();
	__asm__ __volatile__("" ::: "memory");
	s->state = CHAIN_SLOT_DONE;
	k->finished++;
	if (k->notify_fd < 0 || k->shutdown)
		return;
	__builtin_memset(&sqes[0], 0, sizeof(sqes[0]));
	sqes[0].opcode = IOU_OP_MSG_RING;
	sqes[0].fd = k->notify_fd;
	sqes[0].addr = IOU_MSG_DATA;
	sqes[0].len = (__u32)res;
	sqes[0].off = waiter;
	sqes[0].user_data = CHAIN_UD_NOTIFY | index;
	sqes[0].flags = IOU_SQE_CQE_SKIP_SUCCESS;
	if (bpf_io_uring_submit_sqes(d->ctx, 1) != 1)
		k->notify_failures++;
}

/* A finishing chain with nothing in flight: close the direct descriptors
 * it left open, then post its end. */
static __noinline void settle(struct dispatch *d, __u32 index)
{
	struct aiouring_chain_control *k = d->k;
	struct iou_sqe *sqes = d->sqes;
	struct chain_control_slot *s;
	__u32 n, i;
	int e, done;

	if (index >= CHAIN_SLOTS)
		return;
	s = &k->slots[index];
	if (s->inflight)
		return;
	IN_MAP(k->sqe_count) = 0;
	for (i = 0; i < CHAIN_MAX_DIRECT; i++) {
		if (!(s->direct_open & (1U << i)) || s->tables.direct[i] < 0)
			continue;
		e = take_entry(s);
		if (e < 0)
			break;
		s->entries[e].state = CHAIN_ENTRY_INFLIGHT;
		s->entries[e].effect = CHAIN_EFFECT_CLEANUP;
		s->entries[e].zerocopy = 0;
		n = IN_MAP(k->sqe_count) & (CHAIN_MAX_DIRECT - 1);
		__builtin_memset(&sqes[n], 0, sizeof(sqes[n]));
		sqes[n].opcode = CHAIN_OP_CLOSE;
		sqes[n].file_index = s->tables.direct[i] + 1;
		sqes[n].user_data = CHAIN_ENTRY_USER_DATA(s->generation, index, e);
		IN_MAP(k->sqe_count) = n + 1;
	}
	s->direct_open = 0;
	n = IN_MAP(k->sqe_count);
	if (n) {
		done = bpf_io_uring_submit_sqes(d->ctx, n & 7);
		if (done < 0)
			done = 0;
		for (i = 0; i < CHAIN_MAX_DIRECT; i++) {
			if (i >= n)
				break;
			if (i < (__u32)done) {
				s->inflight++;
				k->inflight++;
			} else {
				give_entry(s, (__u32)(sqes[i].user_data & 0xff));
			}
		}
		if (s->inflight)
			return;
	}
	post_final(d, index);
}

/* Ends a chain with its result: cancels what is in flight; settle() posts
 * the end once the kernel is done with all of it. */
static __noinline void begin_finish(struct dispatch *d, __u32 index)
{
	struct aiouring_chain_control *k = d->k;
	struct iou_sqe *sqes = d->sqes;
	struct chain_control_slot *s;
	__u32 i, n;

	if (index >= CHAIN_SLOTS)
		return;
	s = &k->slots[index];
	s->state = CHAIN_SLOT_FINISHING;
	/* The count lives in map memory: the verifier does not follow it from
	 * one iteration to the next. */
	IN_MAP(k->sqe_count) = 0;
	for (i = 0; i < CHAIN_MAX_INFLIGHT; i++) {
		if (s->entries[i].state != CHAIN_ENTRY_INFLIGHT)
			continue;
		n = IN_MAP(k->sqe_count) & (PROGRAM_RING_SQ_ENTRIES - 1);
		__builtin_memset(&sqes[n], 0, sizeof(sqes[0]));
		sqes[n].opcode = IOU_OP_ASYNC_CANCEL;
		sqes[n].fd = -1;
		sqes[n].addr = CHAIN_ENTRY_USER_DATA(s->generation, index, i);
		sqes[n].user_data = CHAIN_UD_IGNORE;
		sqes[n].flags = IOU_SQE_CQE_SKIP_SUCCESS;
		IN_MAP(k->sqe_count) = n + 1;
	}
	n = IN_MAP(k->sqe_count);
	if (n)
		bpf_io_uring_submit_sqes(d->ctx, n & (PROGRAM_RING_SQ_ENTRIES * 2 - 1));
	settle(d, index);
}

static __always_inline void fail(struct aiouring_chain_control *k, __u32 index, __s64 error)
{
	if (index < CHAIN_SLOTS)
		chains.chains[index].result = error;
}

/* Checks and submits what the running step queued (count requests in
 * chains.batch). 0, or -errno for the chain (a fault is recorded in its
 * slot). */
static __noinline int submit_batch(struct dispatch *d, __u32 index)
{
	struct aiouring_chain_control *k = d->k;
	struct iou_sqe *sqes = d->sqes;
	struct chain_control_slot *s;
	struct chain_request *r;
	__u32 i, n = 0, fault = 0, count, previous;
	int e, done;

	if (index >= CHAIN_SLOTS)
		return -CHAIN_EINVAL;
	s = &k->slots[index];
	count = IN_MAP(k->stage_count);
	if (IN_MAP(k->stage_error) || count > CHAIN_MAX_BATCH || s->inflight + count > CHAIN_MAX_INFLIGHT) {
		s->fault.code = CHAIN_FAULT_BUSY;
		s->fault.position = count;
		return -CHAIN_EBUSY;
	}
	if (count == 0)
		return 0;
	if (s->steps + count > s->max_steps)
		return -CHAIN_ELOOP;
	/* SQEs written so far, in map memory (see IN_MAP). */
	IN_MAP(k->sqe_count) = 0;
	for (i = 0; i < CHAIN_MAX_BATCH; i++) {
		if (i >= count)
			break;
		r = &chains.batch[i];
		previous = i ? CHAIN_PREVIOUS(&chains.batch[i - 1]) : 0;
		fault = dispatcher_check(&s->tables, r, previous, &k->resolved, &k->detail);
		if (fault) {
			s->fault.code = fault;
			s->fault.position = i;
			s->fault.detail = k->detail;
			s->fault.request = *r;
			goto refuse;
		}
		e = take_entry(s);
		if (e < 0) {
			s->fault.code = CHAIN_FAULT_BUSY;
			s->fault.position = i;
			fault = CHAIN_FAULT_BUSY;
			goto refuse;
		}
		s->entries[e].tag = r->tag;
		s->entries[e].state = CHAIN_ENTRY_INFLIGHT;
		s->entries[e].zerocopy = r->opcode == CHAIN_OP_SEND_ZC;
		s->entries[e].effect = r->opcode == CHAIN_OP_OPENAT || r->opcode == CHAIN_OP_ACCEPT
			? CHAIN_EFFECT_OPENS : r->opcode == CHAIN_OP_CLOSE
			? CHAIN_EFFECT_CLOSES : CHAIN_EFFECT_NONE;
		s->entries[e].direct = r->opcode == CHAIN_OP_CLOSE ? (__u8)(r->file & 0xff)
			: (__u8)r->off;
		s->entries[e].ts_sec = r->off / 1000000000ULL;
		s->entries[e].ts_nsec = r->off % 1000000000ULL;
		dispatcher_encode(&sqes[i], &k->resolved, CHAIN_ENTRY_USER_DATA(s->generation, index, e),
				  entry_ts_address(k, index, e));
		IN_MAP(k->sqe_count) = i + 1;
	}
	n = IN_MAP(k->sqe_count) & (CHAIN_MAX_BATCH * 2 - 1);
	if (n == 0 || n > CHAIN_MAX_BATCH)
		return 0;
	sqes[(n - 1) & (PROGRAM_RING_SQ_ENTRIES - 1)].flags &= ~IOU_SQE_IO_LINK;
	done = bpf_io_uring_submit_sqes(d->ctx, n);
	if (done < 0)
		done = 0;
	if ((__u32)done < n) {
		k->refused += n - done;
		for (i = 0; i < CHAIN_MAX_BATCH; i++) {
			if (i >= n)
				break;
			if (i >= (__u32)done)
				give_entry(s, (__u32)(sqes[i].user_data & 0xff));
		}
	}
	s->steps += done;
	s->inflight += done;
	s->batches++;
	k->inflight += done;
	k->requests += done;
	return (__u32)done == n ? 0 : -CHAIN_EIO;
refuse:
	n = IN_MAP(k->sqe_count);
	for (i = 0; i < CHAIN_MAX_BATCH; i++) {
		if (i >= n)
			break;
		give_entry(s, (__u32)(sqes[i].user_data & 0xff));
	}
	return -chain_fault_errno(fault);
}

/* Mirrors the driver's counts into the program's view, before it runs. */
static __always_inline void prepare(struct aiouring_chain_control *k, __u32 index,
				    struct chain_io *io)
{
	struct chain_control_slot *s = &k->slots[index & (CHAIN_SLOTS - 1)];
	struct aiouring_chain *c = &chains.chains[index & (CHAIN_SLOTS - 1)];

	c->steps = s->steps;
	c->max_steps = s->max_steps;
	c->inflight = s->inflight;
	k->current = index;
	io->reqs = chains.batch;
	io->count = 0;
	io->error = 0;
}

/* Keeps what a program's start()/step() left in map memory, where the
 * verifier stops following it: whatever path the program took, what comes
 * after is checked once. */
static __always_inline void stage(struct aiouring_chain_control *k, struct chain_io *io, int rc)
{
	IN_MAP(k->stage_rc) = rc;
	IN_MAP(k->stage_count) = io->count;
	IN_MAP(k->stage_error) = io->error;
}

/* After a program's start() or step(): submit what it queued, or end it. */
static __noinline void after_program(struct dispatch *d, __u32 index)
{
	struct aiouring_chain_control *k = d->k;
	struct chain_control_slot *s;
	int err = 0, rc;

	if (index >= CHAIN_SLOTS)
		return;
	s = &k->slots[index];
	k->current = CHAIN_SLOTS;
	rc = IN_MAP(k->stage_rc);
	if (rc != CHAIN_DONE) {
		err = submit_batch(d, index);
		if (!err && s->inflight == 0)
			err = -CHAIN_EIO;	/* waits with nothing in flight */
	}
	if (err)
		fail(k, index, err);
	if (err || rc == CHAIN_DONE)
		begin_finish(d, index);
}

/* Submits the linked chain the loop staged for a chain. */
static __noinline int submit_linked(struct dispatch *d, __u32 index)
{
	struct aiouring_chain_control *k = d->k;
	struct iou_sqe *sqes = d->sqes;
	struct chain_control_slot *s;
	__u32 i, n = 0, j;
	int e, done;

	if (index >= CHAIN_SLOTS)
		return -CHAIN_EINVAL;
	s = &k->slots[index];
	for (i = 0; i < CHAIN_MAX_LINKED; i++) {
		if (i >= s->nlinked)
			break;
		e = take_entry(s);
		if (e < 0)
			break;
		s->entries[e].tag = CHAIN_LINKED_TAG(i);
		s->entries[e].state = CHAIN_ENTRY_INFLIGHT;
		s->entries[e].zerocopy = 0;
		s->entries[e].effect = s->linked_effect[i];
		s->entries[e].direct = s->linked_direct[i];
		for (j = 0; j < 8; j++)
			((__u64 *)&sqes[i])[j] = s->linked[i].words[j];
		sqes[i].user_data = CHAIN_ENTRY_USER_DATA(s->generation, index, e);
		n = i + 1;
	}
	if (n == 0)
		return 0;
	done = bpf_io_uring_submit_sqes(d->ctx, n);
	if (done < 0)
		done = 0;
	for (i = 0; i < CHAIN_MAX_LINKED; i++) {
		if (i >= n)
			break;
		if (i >= (__u32)done)
			give_entry(s, (__u32)(sqes[i].user_data & 0xff));
	}
	s->steps += done;
	s->inflight += done;
	k->inflight += done;
	k->requests += done;
	return (__u32)done == n ? 0 : -CHAIN_EIO;
}

static __noinline void on_start(struct dispatch *d, __u32 index)
{
	struct aiouring_chain_control *k = d->k;
	struct chain_control_slot *s;
	struct aiouring_chain *c;
	struct chain_io io;
	int rc, err;

	if (index >= CHAIN_SLOTS)
		return;
	s = &k->slots[index];
	c = &chains.chains[index];
	if (s->state != CHAIN_SLOT_STARTING)
		return;
	s->state = CHAIN_SLOT_RUNNING;
	s->where = CHAIN_RAN_IN_KERNEL;
	s->start_ns = bpf_ktime_get_ns();
	k->started++;
	err = submit_linked(d, index);
	if (err) {
		fail(k, index, err);
		begin_finish(d, index);
		return;
	}
	prepare(k, index, &io);
	rc = program_start(s->program, c, &io);
	stage(k, &io, rc);
	after_program(d, index);
}

static __noinline void on_request(struct dispatch *d, __u64 user_data, __s32 res,
				  __u32 flags)
{
	struct aiouring_chain_control *k = d->k;
	__u32 index = (user_data >> CHAIN_UD_SLOT_SHIFT) & 0xffff;
	__u32 generation = (user_data >> CHAIN_UD_GENERATION_SHIFT) & 0xffffffff;
	__u32 e = user_data & 0xff;
	struct chain_control_slot *s;
	struct chain_entry *entry;
	struct aiouring_chain *c;
	struct chain_io io;
	__u32 tag;
	int rc;

	if (index >= CHAIN_SLOTS || e >= CHAIN_MAX_INFLIGHT)
		return;
	s = &k->slots[index];
	c = &chains.chains[index];
	entry = &s->entries[e];
	if (s->generation != generation || entry->state == CHAIN_ENTRY_FREE ||
	    (s->state != CHAIN_SLOT_RUNNING && s->state != CHAIN_SLOT_FINISHING))
		return;
	tag = entry->tag;
	if (entry->zerocopy && (flags & IOU_CQE_F_NOTIF)) {
		/* send_zc: the kernel is done with the buffer; the result came before. */
		give_entry(s, e);
		s->inflight--;
		k->inflight--;
		if (s->state == CHAIN_SLOT_FINISHING)
			settle(d, index);
		return;
	}
	if (entry->zerocopy && (flags & IOU_CQE_F_MORE)) {
		entry->state = CHAIN_ENTRY_NOTIF;	/* the result; the notification follows */
	} else {
		if (res >= 0 && entry->effect == CHAIN_EFFECT_OPENS)
			s->direct_open |= 1U << (entry->direct & 31);
		if (res >= 0 && entry->effect == CHAIN_EFFECT_CLOSES)
			s->direct_open &= ~(1U << (entry->direct & 31));
		if (chain_is_linked_tag(tag) && chain_linked_index(tag) < CHAIN_MAX_LINKED) {
			s->linked_results[chain_linked_index(tag) & (CHAIN_MAX_LINKED - 1)] = res;
			s->linked_posted |= 1U << (chain_linked_index(tag) & (CHAIN_MAX_LINKED - 1));
		}
		give_entry(s, e);
		s->inflight--;
		k->inflight--;
		if (entry->effect == CHAIN_EFFECT_CLEANUP || s->state == CHAIN_SLOT_FINISHING) {
			settle(d, index);
			return;
		}
	}
	if (s->state != CHAIN_SLOT_RUNNING)
		return;
	if (s->cancel) {
		fail(k, index, -CHAIN_ECANCELED);
		begin_finish(d, index);
		return;
	}
	prepare(k, index, &io);
	rc = program_step(s->program, c, &io, tag, res);
	stage(k, &io, rc);
	after_program(d, index);
}

static __noinline void on_wake(struct dispatch *d, __s32 res)
{
	struct aiouring_chain_control *k = d->k;
	__u32 cmd = (__u32)res >> 16, index = res & 0xffff;
	struct chain_control_slot *s;

	if (index >= CHAIN_SLOTS)
		return;
	s = &k->slots[index];
	if (cmd == CHAIN_CMD_START) {
		on_start(d, index);
	} else if (cmd == CHAIN_CMD_CANCEL) {
		if (s->state != CHAIN_SLOT_RUNNING)
			return;
		s->cancel = 1;
		fail(k, index, -CHAIN_ECANCELED);
		begin_finish(d, index);
	}
}

SEC("struct_ops/loop_step")	/* made sleepable by the runtime: BPF_F_SLEEPABLE */
int BPF_PROG(loop_step, struct iou_ctx *ring, struct iou_loop_params *lp)
{
	struct aiouring_chain_control *k;
	struct dispatch d;
	struct iou_sqe *sqes;
	struct iou_cqe *cqe;
	__u8 *rings;
	__u32 head, tail, flags;
	__u64 user_data;
	__s32 res;

	k = control_map();
	if (!k)
		return IOU_LOOP_STOP;
	k->loop_steps++;
	sqes = (void *)bpf_io_uring_get_region(ring, IOU_REGION_SQ,
					       sq_entries * sizeof(struct iou_sqe));
	rings = bpf_io_uring_get_region(ring, IOU_REGION_CQ,
					cqes_off + cq_entries * sizeof(struct iou_cqe));
	if (!sqes || !rings) {
		k->fatal = -CHAIN_EFAULT;
		return IOU_LOOP_STOP;
	}
	if (k->shutdown)
		return IOU_LOOP_STOP;
	d.ctx = ring;
	d.sqes = sqes;
	d.k = k;
	head = *(volatile __u32 *)(rings + cq_head_off);
	tail = *(volatile __u32 *)(rings + cq_tail_off);
	if (head != tail) {
		cqe = (void *)(rings + cqes_off) + (head & (cq_entries - 1)) * sizeof(*cqe);
		user_data = cqe->user_data;
		res = cqe->res;
		flags = cqe->flags;
		head++;
		*(volatile __u32 *)(rings + cq_head_off) = head;
		k->cqes++;
		switch (user_data >> CHAIN_UD_KIND_SHIFT) {
		case CHAIN_UD_REQUEST >> CHAIN_UD_KIND_SHIFT:
			on_request(&d, user_data, res, flags);
			break;
		case CHAIN_UD_WAKE >> CHAIN_UD_KIND_SHIFT:
			on_wake(&d, res);
			if (k->shutdown)
				return IOU_LOOP_STOP;
			break;
		case CHAIN_UD_NOTIFY >> CHAIN_UD_KIND_SHIFT:
			if (res < 0)
				k->notify_failures++;
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

/*
 * aiouring chain programs: dependent multi-step I/O decided without Python.
 *
 * A chain program is C written against this header. The same source is
 * compiled twice:
 *   - to BPF (clang -target bpf), linked into the dispatcher that runs as the
 *     io_uring_bpf_ops loop_step of a program ring, inside io_uring_enter
 *     (Linux 7.1+): every step is decided in the kernel;
 *   - natively (CHAIN_NATIVE defined), run by aiouring's core on each
 *     completion of the chain on the loop's own ring: no Python between steps.
 * Either way the coroutine that started the chain is resumed once, with the
 * chain's result.
 *
 * A program is two functions and one registration line:
 *
 *   static int myprog_start(struct aiouring_chain *c, struct chain_io *io);
 *   static int myprog_step(struct aiouring_chain *c, struct chain_io *io, __s32 res);
 *   CHAIN_PROGRAM(myprog);
 *
 * start() issues the first request; step() receives the result (CQE res) of
 * the request in flight and issues the next one. Each returns CHAIN_WAIT
 * after issuing a request, or chain_finish(c, result) to end the chain
 * (result >= 0: success; -errno: failure). One request is in flight per chain
 * at a time. c->arg[] holds the arguments the coroutine passed; c->var[] is
 * the program's own state, zeroed at start; c->phase is a free state-machine
 * position, 0 at start. Buffers are addresses in the calling process (u64)
 * that the coroutine passed as arguments; chain_load_u32/u64 read from them.
 * The driver ends a chain that issues more than c->max_steps requests with
 * -ELOOP, and one whose request cannot be issued with -EIO.
 *
 * Your own programs: put CHAIN_PROGRAM(name); on a line of its own (the
 * build finds the programs by these lines; names are C identifiers, unique,
 * none of the built-ins'), then
 *
 *   python -m aiouring.bpf build prog.c -o prog.chain
 *   loop.bpf.register("prog.chain")          # or aiouring.bpf.register()
 *   await aiouring.bpf.run("name", arg0, ...)
 *
 * The BPF build has no libc and calls at most five-argument functions; the
 * kernel's verifier checks the program at register() (every memory access
 * bounded, every loop bounded). Helpers: chain_read/write/recv/send/nop issue
 * the next request, chain_request() any other io_uring opcode,
 * chain_finish() ends the chain, chain_load_u32/u64 read the caller's
 * buffers. See docs/chain-programs.md.
 */
#ifndef AIOURING_CHAIN_H
#define AIOURING_CHAIN_H

#ifdef CHAIN_NATIVE
#include <stdint.h>
#include <string.h>
#include <linux/types.h>
#else
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#endif

#define CHAIN_MAX_ARGS 6
#define CHAIN_MAX_VARS 8

#define CHAIN_WAIT 0
#define CHAIN_DONE 1

#define CHAIN_RAN_IN_KERNEL 1
#define CHAIN_RAN_LOOP_SIDE 2

/* Offset meaning "the file's current position" (pipes, sockets, streams). */
#define CHAIN_CURRENT_POSITION ((__u64)-1)

/* errno values the programs use (BPF programs have no <errno.h>). */
#define CHAIN_EIO 5
#define CHAIN_ENXIO 6
#define CHAIN_EFAULT 14
#define CHAIN_EINVAL 22
#define CHAIN_EPIPE 32
#define CHAIN_ENODATA 61
#define CHAIN_EPROTO 71
#define CHAIN_EMSGSIZE 90
#define CHAIN_ELOOP 40

/* One chain's context: a slot of the region shared by the loop and the
 * program. The loop writes program, arg[] and max_steps before start and
 * reads result (and var[]) after. Layout is fixed: 136 bytes. */
struct aiouring_chain {
	__u32 program;
	__u32 phase;
	__s64 result;
	__u64 arg[CHAIN_MAX_ARGS];
	__u64 var[CHAIN_MAX_VARS];
	__u32 steps;
	__u32 max_steps;
};

/* io_uring opcodes and SQE layout the helpers fill (uapi, stable). */
#define CHAIN_OP_NOP 0
#define CHAIN_OP_READ 22
#define CHAIN_OP_WRITE 23
#define CHAIN_OP_SEND 26
#define CHAIN_OP_RECV 27

struct chain_sqe {
	__u8 opcode;
	__u8 flags;
	__u16 ioprio;
	__s32 fd;
	__u64 off;
	__u64 addr;
	__u32 len;
	__u32 op_flags;
	__u64 user_data;
	__u64 pad[3];
};

#ifdef CHAIN_NATIVE
/* Loop-side: the core hands the program a function that queues an SQE on
 * the loop's ring for this chain. */
struct chain_io {
	struct chain_sqe *(*next_sqe)(void *owner);
	void *owner;
	__u64 user_data;	/* set by next_sqe for the SQE it returns */
	int issued;
};

static inline struct chain_sqe *chain_sqe_slot(struct chain_io *io)
{
	return io->next_sqe(io->owner);
}

static inline int chain_load_u64(__u64 addr, __u64 *value)
{
	memcpy(value, (const void *)(uintptr_t)addr, sizeof(*value));
	return 0;
}

static inline int chain_load_u32(__u64 addr, __u32 *value)
{
	memcpy(value, (const void *)(uintptr_t)addr, sizeof(*value));
	return 0;
}

#define CHAIN_INLINE static inline
#else
/* In-kernel: the dispatcher hands the program the program ring's SQ region;
 * the SQEs written are submitted with bpf_io_uring_submit_sqes(). */
struct chain_io {
	struct chain_sqe *sqes;
	__u32 count;
	__u32 capacity;
	__u64 user_data;
	int issued;
};

static __always_inline struct chain_sqe *chain_sqe_slot(struct chain_io *io)
{
	__u32 i = io->count;
	if (i >= io->capacity || i >= 8)
		return 0;
	io->count = i + 1;
	return &io->sqes[i];
}

static __always_inline int chain_load_u64(__u64 addr, __u64 *value)
{
	return bpf_copy_from_user(value, sizeof(*value), (const void *)addr);
}

static __always_inline int chain_load_u32(__u64 addr, __u32 *value)
{
	return bpf_copy_from_user(value, sizeof(*value), (const void *)addr);
}

#define CHAIN_INLINE static __always_inline
#endif

/* Fills an SQE with the fields chain requests use (and the dispatcher's own
 * MSG_RING and cancel requests), the rest zeroed. */
CHAIN_INLINE void chain_prep_sqe(struct chain_sqe *sqe, __u8 opcode, int fd,
				 __u64 addr, __u32 len, __u64 off, __u64 user_data)
{
	__builtin_memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = opcode;
	sqe->fd = fd;
	sqe->addr = addr;
	sqe->len = len;
	sqe->off = off;
	sqe->user_data = user_data;
}

/* Queues the chain's next request: any io_uring opcode, with the SQE fields
 * the helpers below fill. Returns CHAIN_WAIT, or -EIO when no SQE could be
 * had (then the driver ends the chain with -EIO). A request the kernel
 * refuses completes with its -errno as the next step's res. */
CHAIN_INLINE int chain_request(struct chain_io *io, __u8 opcode, int fd,
			       __u64 addr, __u32 len, __u64 off, __u32 op_flags)
{
	struct chain_sqe *sqe = chain_sqe_slot(io);
	if (!sqe)
		return -CHAIN_EIO;
	chain_prep_sqe(sqe, opcode, fd, addr, len, off, io->user_data);
	sqe->op_flags = op_flags;
	io->issued++;
	return CHAIN_WAIT;
}

/* A request that does nothing: a step with no I/O in it. */
CHAIN_INLINE int chain_nop(struct chain_io *io)
{
	return chain_request(io, CHAIN_OP_NOP, -1, 0, 0, 0, 0);
}

/* read(2)/pread(2): off is a file offset or CHAIN_CURRENT_POSITION. */
CHAIN_INLINE int chain_read(struct chain_io *io, int fd, __u64 buf, __u32 len, __u64 off)
{
	return chain_request(io, CHAIN_OP_READ, fd, buf, len, off, 0);
}

CHAIN_INLINE int chain_write(struct chain_io *io, int fd, __u64 buf, __u32 len, __u64 off)
{
	return chain_request(io, CHAIN_OP_WRITE, fd, buf, len, off, 0);
}

CHAIN_INLINE int chain_recv(struct chain_io *io, int fd, __u64 buf, __u32 len, __u32 flags)
{
	return chain_request(io, CHAIN_OP_RECV, fd, buf, len, 0, flags);
}

#define CHAIN_MSG_NOSIGNAL 0x4000

CHAIN_INLINE int chain_send(struct chain_io *io, int fd, __u64 buf, __u32 len, __u32 flags)
{
	return chain_request(io, CHAIN_OP_SEND, fd, buf, len, 0, flags | CHAIN_MSG_NOSIGNAL);
}

CHAIN_INLINE int chain_finish(struct aiouring_chain *c, __s64 result)
{
	c->result = result;
	return CHAIN_DONE;
}

/* A program's entry points, found by the driver in a table. */
typedef int (*chain_start_fn)(struct aiouring_chain *, struct chain_io *);
typedef int (*chain_step_fn)(struct aiouring_chain *, struct chain_io *, __s32);

struct chain_program {
	const char *name;
	chain_start_fn start;
	chain_step_fn step;
};

#ifdef CHAIN_NATIVE
/* Native builds of a user program export its entry points under one name. */
#define CHAIN_PROGRAM(name)                                                    \
	const struct chain_program aiouring_chain_program_##name = {           \
		#name, name##_start, name##_step }
#else
/* BPF builds: the dispatcher calls name##_start / name##_step directly. */
#define CHAIN_PROGRAM(name)
#endif

#endif /* AIOURING_CHAIN_H */

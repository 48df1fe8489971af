/*
 * aiouring chain programs: multi-step I/O decided without Python.
 *
 * A chain program is C written against this header. The same source is
 * compiled twice:
 *   - to BPF (clang -target bpf), linked into the dispatcher that runs as the
 *     io_uring_bpf_ops loop_step of a program ring, inside io_uring_enter
 *     (Linux 7.1+): every step is decided in the kernel;
 *   - natively (CHAIN_NATIVE defined), run by aiouring's core on each
 *     completion of the chain on the loop's own ring: no Python between steps.
 * Either way the coroutine that started the chain is resumed once.
 *
 * A program is two functions and one registration line:
 *
 *   static int myprog_start(struct aiouring_chain *c, struct chain_io *io);
 *   static int myprog_step(struct aiouring_chain *c, struct chain_io *io,
 *                          __u32 tag, __s32 res);
 *   CHAIN_PROGRAM(myprog);
 *
 * start() queues the first requests; step() is called once per completed
 * request with the tag the program gave it and its result (the CQE's res),
 * and may queue more. Up to CHAIN_MAX_INFLIGHT requests are in flight per
 * chain; chain_link() joins a request to the next one queued (IOSQE_IO_LINK):
 * the next starts only when it succeeded. Each returns CHAIN_WAIT to go on
 * or chain_finish(c, result) to end the chain (result >= 0: success; -errno:
 * failure); what is still in flight then is cancelled, and the coroutine
 * resumes when the kernel is done with all of it.
 *
 * Memory is named, never addressed: the coroutine hands over buffers, files
 * and a context region, and requests name them by index (chain_buf(),
 * CHAIN_FILE(), CHAIN_DIRECT(), CHAIN_CONTEXT). The driver checks every
 * request against what the chain was given before it reaches a ring, on
 * both paths, and ends the chain with a ChainRequestError (EFAULT, EBADF,
 * EINVAL, EBUSY) when it names anything else.
 *
 * The driver ends a chain that issues more than max_steps requests with
 * -ELOOP, and one that waits with nothing in flight with -EIO.
 *
 *   python -m aiouring.bpf build prog.c -o prog.chain
 *   loop.bpf.register("prog.chain")          # or aiouring.bpf.register()
 *   await aiouring.bpf.run("myprog", arg0, ..., buffers=[...], files=[...])
 *
 * The BPF build has no libc and calls at most five-argument functions; the
 * kernel's verifier checks the program at register() (every memory access
 * bounded, every loop bounded). See docs/chain-programs.md.
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

#define CHAIN_MAX_ARGS 8
#define CHAIN_MAX_VARS 16
#define CHAIN_MAX_BUFFERS 8
#define CHAIN_MAX_FILES 8
#define CHAIN_MAX_DIRECT 4		/* direct descriptors a chain may open */
#define CHAIN_MAX_INFLIGHT 64		/* requests in flight per chain */
#define CHAIN_MAX_BATCH 64		/* requests one start()/step() may queue */
#define CHAIN_CONTEXT_SIZE 1024		/* bytes of a chain's context region */

#define CHAIN_WAIT 0
#define CHAIN_DONE 1

#define CHAIN_RAN_IN_KERNEL 1
#define CHAIN_RAN_LOOP_SIDE 2

/* Offset meaning "the file's current position" (pipes, sockets, streams). */
#define CHAIN_CURRENT_POSITION ((__u64)-1)

/* Tags of the steps of a linked chain a program is attached to
 * (aiouring.chain(*steps, program=...)): step i completes with tag
 * CHAIN_LINKED_TAG(i). A program's own tags are below CHAIN_LINKED_TAG(0). */
#define CHAIN_LINKED_TAG(i) (0xffff0000u | (__u32)(i))
#define chain_is_linked_tag(tag) (((tag) & 0xffff0000u) == 0xffff0000u)
#define chain_linked_index(tag) ((tag) & 0xffffu)

/* errno values the programs use (BPF programs have no <errno.h>). */
#define CHAIN_EIO 5
#define CHAIN_ENXIO 6
#define CHAIN_E2BIG 7
#define CHAIN_EBADF 9
#define CHAIN_EFAULT 14
#define CHAIN_EBUSY 16
#define CHAIN_EINVAL 22
#define CHAIN_EPIPE 32
#define CHAIN_ENOENT 2
#define CHAIN_ELOOP 40
#define CHAIN_ENODATA 61
#define CHAIN_ETIME 62
#define CHAIN_EPROTO 71
#define CHAIN_EMSGSIZE 90
#define CHAIN_ECANCELED 125

/* One chain as its program sees it: a slot of memory the loop shares with
 * the driver. The loop writes program and arg[] before start and reads
 * result and the context region after (and while it runs). The fields
 * marked "driver's" are copies for the program to read: the driver keeps
 * its own, so writing them changes nothing but the program's view. */
struct aiouring_chain {
	__u32 program;
	__u32 phase;			/* the program's own state-machine position, 0 at start */
	__s64 result;
	__u64 arg[CHAIN_MAX_ARGS];	/* integers the coroutine passed */
	__u64 var[CHAIN_MAX_VARS];	/* the program's own state, zeroed at start */
	__u32 steps;			/* driver's: requests issued so far */
	__u32 max_steps;		/* driver's */
	__u32 inflight;			/* driver's: requests in flight */
	__u32 nbuffers;			/* driver's: buffers handed over */
	__u32 buffer_len[CHAIN_MAX_BUFFERS];	/* driver's: their lengths */
	__u32 nfiles;			/* driver's: files handed over */
	__u32 linked;			/* driver's: steps of the linked chain, if any */
	union {				/* the context region */
		__u8 bytes[CHAIN_CONTEXT_SIZE];
		__u32 u32[CHAIN_CONTEXT_SIZE / 4];
		__u64 u64[CHAIN_CONTEXT_SIZE / 8];
	} context;
};

/* io_uring opcodes a program may use (uapi numbers). */
#define CHAIN_OP_NOP 0
#define CHAIN_OP_FSYNC 3
#define CHAIN_OP_TIMEOUT 11
#define CHAIN_OP_ACCEPT 13
#define CHAIN_OP_LINK_TIMEOUT 15
#define CHAIN_OP_CONNECT 16
#define CHAIN_OP_OPENAT 18
#define CHAIN_OP_CLOSE 19
#define CHAIN_OP_STATX 21
#define CHAIN_OP_READ 22
#define CHAIN_OP_WRITE 23
#define CHAIN_OP_SEND 26
#define CHAIN_OP_RECV 27
#define CHAIN_OP_SPLICE 30
#define CHAIN_OP_SEND_ZC 47

/* Files: the i-th of the coroutine's files=, the chain's i-th direct
 * descriptor (opened by chain_openat()/chain_accept() or a direct openat
 * step of the linked chain), or the current directory (paths only). */
#define CHAIN_FILE(i) ((__u16)(i))
#define CHAIN_DIRECT(i) ((__u16)(0x100 | (i)))
#define CHAIN_CWD ((__u16)0x200)
#define CHAIN_NO_FILE ((__u16)0xffff)

/* The buffer index of the chain's context region. */
#define CHAIN_CONTEXT 0xffu
#define CHAIN_NO_BUFFER 0xffffu

/* A range of a handed-over buffer: index (or CHAIN_CONTEXT), offset, length. */
struct chain_buf {
	__u32 index;
	__u32 offset;
	__u32 len;
};

/* One queued request, checked by the driver before it becomes an SQE. */
struct chain_request {
	__u8 opcode;
	__u8 link;			/* linked to the next request of this step */
	__u16 file;			/* CHAIN_FILE / CHAIN_DIRECT / CHAIN_CWD */
	__u16 file_in;			/* splice: the source */
	__u16 buf;			/* buffer index, CHAIN_CONTEXT, CHAIN_NO_BUFFER */
	__u32 buf_offset;
	__u32 len;
	__u32 tag;
	__u32 op_flags;			/* RWF_*, MSG_*, O_*, AT_*, SPLICE_F_*, ... */
	__u32 extra;			/* openat: mode; statx: mask; direct: slot */
	__u16 buf2;			/* statx: where the result goes */
	__u16 reserved;
	__u32 buf2_offset;
	__u64 off;			/* file offset; splice: off_out; timeouts: ns */
	__u64 off_in;			/* splice: off_in */
};

/* What start()/step() queue requests into. */
struct chain_io {
	struct chain_request *reqs;
	__u32 count;
	__s32 error;			/* first queuing error (-errno) */
#ifdef CHAIN_NATIVE
	/* Loop-side: the buffers, for chain_load() (the driver's table). */
	const __u64 *buf_addr;
	const __u32 *buf_len;
	__u32 nbuffers;
	__u64 context_addr;
#endif
};

#ifdef CHAIN_NATIVE
#define CHAIN_INLINE static inline
#else
#define CHAIN_INLINE static __always_inline
#endif

CHAIN_INLINE struct chain_buf chain_buf(__u32 index, __u32 offset, __u32 len)
{
	struct chain_buf b = { index, offset, len };
	return b;
}

/* Queues a request and returns it zeroed but for opcode and tag; NULL when
 * the step already queued CHAIN_MAX_BATCH (then the chain ends with EBUSY). */
CHAIN_INLINE struct chain_request *chain_queue(struct chain_io *io, __u8 opcode, __u32 tag)
{
	struct chain_request *r;
	__u32 i = io->count;

	if (i >= CHAIN_MAX_BATCH) {
		if (!io->error)
			io->error = -CHAIN_EBUSY;
		return 0;
	}
	r = &io->reqs[i];
	__builtin_memset(r, 0, sizeof(*r));
	r->opcode = opcode;
	r->tag = tag;
	r->file = CHAIN_NO_FILE;
	r->file_in = CHAIN_NO_FILE;
	r->buf = CHAIN_NO_BUFFER;
	r->buf2 = CHAIN_NO_BUFFER;
	io->count = i + 1;
	return r;
}

CHAIN_INLINE int chain_queued(struct chain_io *io, struct chain_request *r)
{
	return r ? CHAIN_WAIT : io->error;
}

CHAIN_INLINE void chain_set_buf(struct chain_request *r, struct chain_buf b)
{
	r->buf = (__u16)(b.index > CHAIN_NO_BUFFER ? CHAIN_NO_BUFFER : b.index);
	r->buf_offset = b.offset;
	r->len = b.len;
}

/* Links the request queued last to the next one queued (IOSQE_IO_LINK): the
 * next starts when it succeeded and is cancelled (-ECANCELED) when it failed. */
CHAIN_INLINE int chain_link(struct chain_io *io)
{
	__u32 i = io->count;
	if (i == 0 || i > CHAIN_MAX_BATCH)
		return -CHAIN_EINVAL;
	io->reqs[i - 1].link = 1;
	return CHAIN_WAIT;
}

/* A request that does nothing: a step with no I/O in it. */
CHAIN_INLINE int chain_nop(struct chain_io *io, __u32 tag)
{
	return chain_queued(io, chain_queue(io, CHAIN_OP_NOP, tag));
}

/* pread(2) into a buffer range: off is a file offset or CHAIN_CURRENT_POSITION. */
CHAIN_INLINE int chain_read(struct chain_io *io, __u32 tag, __u16 file, struct chain_buf b,
			    __u64 off)
{
	struct chain_request *r = chain_queue(io, CHAIN_OP_READ, tag);
	if (r) {
		r->file = file;
		chain_set_buf(r, b);
		r->off = off;
	}
	return chain_queued(io, r);
}

/* pwrite(2) of a buffer range. */
CHAIN_INLINE int chain_write(struct chain_io *io, __u32 tag, __u16 file, struct chain_buf b,
			     __u64 off)
{
	struct chain_request *r = chain_queue(io, CHAIN_OP_WRITE, tag);
	if (r) {
		r->file = file;
		chain_set_buf(r, b);
		r->off = off;
	}
	return chain_queued(io, r);
}

#define CHAIN_MSG_PEEK 0x2
#define CHAIN_MSG_DONTWAIT 0x40
#define CHAIN_MSG_WAITALL 0x100
#define CHAIN_MSG_MORE 0x8000

/* recv(2) into a buffer range (flags: CHAIN_MSG_*). */
CHAIN_INLINE int chain_recv(struct chain_io *io, __u32 tag, __u16 file, struct chain_buf b,
			    __u32 flags)
{
	struct chain_request *r = chain_queue(io, CHAIN_OP_RECV, tag);
	if (r) {
		r->file = file;
		chain_set_buf(r, b);
		r->op_flags = flags;
	}
	return chain_queued(io, r);
}

/* send(2) of a buffer range (MSG_NOSIGNAL is always added). */
CHAIN_INLINE int chain_send(struct chain_io *io, __u32 tag, __u16 file, struct chain_buf b,
			    __u32 flags)
{
	struct chain_request *r = chain_queue(io, CHAIN_OP_SEND, tag);
	if (r) {
		r->file = file;
		chain_set_buf(r, b);
		r->op_flags = flags;
	}
	return chain_queued(io, r);
}

/* Zero-copy send: step() gets the send's result; the driver holds the
 * chain until the kernel is done with the buffer (its notification). */
CHAIN_INLINE int chain_send_zc(struct chain_io *io, __u32 tag, __u16 file, struct chain_buf b,
			       __u32 flags)
{
	struct chain_request *r = chain_queue(io, CHAIN_OP_SEND_ZC, tag);
	if (r) {
		r->file = file;
		chain_set_buf(r, b);
		r->op_flags = flags;
	}
	return chain_queued(io, r);
}

/* openat(2) of the NUL-terminated path at path.offset of a path buffer (a
 * str or path the coroutine handed over), relative to dir (CHAIN_CWD or a
 * CHAIN_FILE directory), into the chain's direct descriptor `direct`
 * (0..CHAIN_MAX_DIRECT-1), then named CHAIN_DIRECT(direct). The driver
 * closes direct descriptors the chain leaves open. */
CHAIN_INLINE int chain_openat(struct chain_io *io, __u32 tag, __u16 dir, struct chain_buf path,
			      __u32 flags, __u32 mode, __u32 direct)
{
	struct chain_request *r = chain_queue(io, CHAIN_OP_OPENAT, tag);
	if (r) {
		r->file = dir;
		chain_set_buf(r, path);
		r->op_flags = flags;
		r->extra = mode;
		r->off = direct;
	}
	return chain_queued(io, r);
}

/* close(2) of one of the chain's direct descriptors. */
CHAIN_INLINE int chain_close(struct chain_io *io, __u32 tag, __u16 file)
{
	struct chain_request *r = chain_queue(io, CHAIN_OP_CLOSE, tag);
	if (r)
		r->file = file;
	return chain_queued(io, r);
}

#define CHAIN_STATX_SIZE 256		/* sizeof(struct statx) */
#define CHAIN_STATX_MODE_OFFSET 28	/* offsets of fields in struct statx */
#define CHAIN_STATX_SIZE_OFFSET 40
#define CHAIN_STATX_BASIC_STATS 0x7ff
#define CHAIN_AT_EMPTY_PATH 0x1000

/* statx(2) of a path (as chain_openat names it) into `out` (at least
 * CHAIN_STATX_SIZE bytes of a writable buffer or of the context region). */
CHAIN_INLINE int chain_statx(struct chain_io *io, __u32 tag, __u16 dir, struct chain_buf path,
			     __u32 flags, __u32 mask, struct chain_buf out)
{
	struct chain_request *r = chain_queue(io, CHAIN_OP_STATX, tag);
	if (r) {
		r->file = dir;
		chain_set_buf(r, path);
		r->op_flags = flags;
		r->extra = mask;
		r->buf2 = (__u16)(out.index > CHAIN_NO_BUFFER ? CHAIN_NO_BUFFER : out.index);
		r->buf2_offset = out.offset;
		r->off = out.len;
	}
	return chain_queued(io, r);
}

/* accept4(2) on a listening socket into the chain's direct descriptor
 * `direct`: the connection is then CHAIN_DIRECT(direct). */
CHAIN_INLINE int chain_accept(struct chain_io *io, __u32 tag, __u16 file, __u32 direct)
{
	struct chain_request *r = chain_queue(io, CHAIN_OP_ACCEPT, tag);
	if (r) {
		r->file = file;
		r->off = direct;
	}
	return chain_queued(io, r);
}

/* connect(2) to the struct sockaddr held in a buffer range (the coroutine
 * hands it over, e.g. as aiouring.bpf.sockaddr(sock, address)). */
CHAIN_INLINE int chain_connect(struct chain_io *io, __u32 tag, __u16 file, struct chain_buf addr)
{
	struct chain_request *r = chain_queue(io, CHAIN_OP_CONNECT, tag);
	if (r) {
		r->file = file;
		chain_set_buf(r, addr);
	}
	return chain_queued(io, r);
}

#define CHAIN_SPLICE_F_MOVE 1
#define CHAIN_SPLICE_F_NONBLOCK 2
#define CHAIN_SPLICE_F_MORE 4

/* splice(2) of len bytes from file_in to file_out (offsets
 * CHAIN_CURRENT_POSITION for pipes and sockets); one side must be a pipe. */
CHAIN_INLINE int chain_splice(struct chain_io *io, __u32 tag, __u16 file_in, __u64 off_in,
			      __u16 file_out, __u64 off_out, __u32 len, __u32 flags)
{
	struct chain_request *r = chain_queue(io, CHAIN_OP_SPLICE, tag);
	if (r) {
		r->file_in = file_in;
		r->off_in = off_in;
		r->file = file_out;
		r->off = off_out;
		r->len = len;
		r->op_flags = flags;
	}
	return chain_queued(io, r);
}

/* Completes after ns nanoseconds with -ETIME (a linked group goes on). */
CHAIN_INLINE int chain_timeout(struct chain_io *io, __u32 tag, __u64 ns)
{
	struct chain_request *r = chain_queue(io, CHAIN_OP_TIMEOUT, tag);
	if (r)
		r->off = ns;
	return chain_queued(io, r);
}

/* Bounds the request queued just before it (which chain_link() joined to
 * it): if that one has not completed within ns, it is cancelled. */
CHAIN_INLINE int chain_link_timeout(struct chain_io *io, __u32 tag, __u64 ns)
{
	struct chain_request *r = chain_queue(io, CHAIN_OP_LINK_TIMEOUT, tag);
	if (r)
		r->off = ns;
	return chain_queued(io, r);
}

#define CHAIN_FSYNC_DATASYNC 1

CHAIN_INLINE int chain_fsync(struct chain_io *io, __u32 tag, __u16 file, __u32 flags)
{
	struct chain_request *r = chain_queue(io, CHAIN_OP_FSYNC, tag);
	if (r) {
		r->file = file;
		r->op_flags = flags;
	}
	return chain_queued(io, r);
}

CHAIN_INLINE int chain_finish(struct aiouring_chain *c, __s64 result)
{
	c->result = result;
	return CHAIN_DONE;
}

/* The context region, by index: 0 or -EINVAL out of range. */
CHAIN_INLINE int chain_set_u64(struct aiouring_chain *c, __u32 index, __u64 value)
{
	if (index >= CHAIN_CONTEXT_SIZE / 8)
		return -CHAIN_EINVAL;
	c->context.u64[index] = value;
	return 0;
}

CHAIN_INLINE int chain_set_u32(struct aiouring_chain *c, __u32 index, __u32 value)
{
	if (index >= CHAIN_CONTEXT_SIZE / 4)
		return -CHAIN_EINVAL;
	c->context.u32[index] = value;
	return 0;
}

CHAIN_INLINE __u64 chain_get_u64(struct aiouring_chain *c, __u32 index)
{
	return index < CHAIN_CONTEXT_SIZE / 8 ? c->context.u64[index] : 0;
}

/* Copies size bytes at offset of buffer `index` (or CHAIN_CONTEXT) to dst
 * (the program's stack or its chain): 0, or -EFAULT when the range is not
 * inside that buffer. Reads only what the coroutine handed over. */
#ifdef CHAIN_NATIVE
CHAIN_INLINE int chain_load(struct chain_io *io, __u32 index, __u32 offset, void *dst,
			    __u32 size)
{
	const void *base;
	__u64 len;

	if (index == CHAIN_CONTEXT) {
		base = (const void *)(uintptr_t)io->context_addr;
		len = CHAIN_CONTEXT_SIZE;
	} else if (index < io->nbuffers && index < CHAIN_MAX_BUFFERS) {
		base = (const void *)(uintptr_t)io->buf_addr[index];
		len = io->buf_len[index];
	} else {
		return -CHAIN_EFAULT;
	}
	if (offset > len || size > len - offset)
		return -CHAIN_EFAULT;
	memcpy(dst, (const char *)base + offset, size);
	return 0;
}
#else
/* Defined by the dispatcher, which knows the running chain's buffers. */
static __always_inline int chain_kernel_load(__u32 index, __u32 offset, void *dst, __u32 size);

CHAIN_INLINE int chain_load(struct chain_io *io, __u32 index, __u32 offset, void *dst,
			    __u32 size)
{
	return chain_kernel_load(index, offset, dst, size);
}
#endif

CHAIN_INLINE int chain_load_u64(struct chain_io *io, __u32 index, __u32 offset, __u64 *value)
{
	return chain_load(io, index, offset, value, sizeof(*value));
}

CHAIN_INLINE int chain_load_u32(struct chain_io *io, __u32 index, __u32 offset, __u32 *value)
{
	return chain_load(io, index, offset, value, sizeof(*value));
}

/* A program's entry points, found by the driver in a table. */
typedef int (*chain_start_fn)(struct aiouring_chain *, struct chain_io *);
typedef int (*chain_step_fn)(struct aiouring_chain *, struct chain_io *, __u32, __s32);

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

/* The check every request of a chain program passes before it becomes an
 * SQE, compiled into both drivers: the BPF dispatcher (kernel path) and the
 * core's native driver (loop-side). A request names buffers, files and
 * direct descriptors by index; here they are resolved against what the
 * coroutine handed over (the chain's tables, which the program cannot
 * reach), and anything else is refused with a fault code, so no program can
 * make either driver touch memory or descriptors outside them. */
#ifndef AIOURING_CHAIN_CHECK_H
#define AIOURING_CHAIN_CHECK_H
#include "chain.h"

/* What a buffer may be used for. */
#define CHAIN_BUF_READABLE 1		/* source of write/send/connect */
#define CHAIN_BUF_WRITABLE 2		/* target of read/recv/statx */
#define CHAIN_BUF_PATH 4		/* immutable and NUL-terminated: paths */

/* What the coroutine handed over to one chain, as the driver sees it. */
struct chain_tables {
	__u64 buf_addr[CHAIN_MAX_BUFFERS];
	__u32 buf_len[CHAIN_MAX_BUFFERS];
	__u32 buf_flags[CHAIN_MAX_BUFFERS];
	__s32 fds[CHAIN_MAX_FILES];
	__s32 direct[CHAIN_MAX_DIRECT];	/* the ring's slot of each direct descriptor; -1: none yet */
	__u64 context_addr;		/* user address of the chain's context region */
	__u32 nbuffers;
	__u32 nfiles;
};

/* Why a request was refused (ChainRequestError says it in words). */
enum {
	CHAIN_FAULT_NONE = 0,
	CHAIN_FAULT_OPCODE = 1,		/* not an opcode programs may use: EINVAL */
	CHAIN_FAULT_BUFFER = 2,		/* a buffer index the chain was not given: EFAULT */
	CHAIN_FAULT_RANGE = 3,		/* offset/length outside the buffer: EFAULT */
	CHAIN_FAULT_ACCESS = 4,		/* writing into a read-only buffer: EFAULT */
	CHAIN_FAULT_PATH = 5,		/* a path from a buffer that is not a path: EFAULT */
	CHAIN_FAULT_FILE = 6,		/* a file index the chain was not given: EBADF */
	CHAIN_FAULT_DIRECT = 7,		/* a direct descriptor out of range: EBADF */
	CHAIN_FAULT_LINK = 8,		/* link_timeout not after a linked request: EINVAL */
	CHAIN_FAULT_BUSY = 9,		/* more than CHAIN_MAX_INFLIGHT in flight: EBUSY */
	CHAIN_FAULT_FLAGS = 10,		/* flags the request does not take: EINVAL */
	CHAIN_NEED_DIRECT = 100,	/* loop-side: assign a slot to direct[detail], retry */
};

/* A refused request, kept for the exception's message. */
struct chain_fault {
	__u32 code;
	__u32 position;			/* its position in the step's batch */
	__u32 detail;
	__u32 reserved;
	struct chain_request request;
};

/* A checked request: every field an SQE needs, addresses resolved. */
struct chain_resolved {
	__u8 opcode;
	__u8 sqe_flags;			/* CHAIN_SQE_FIXED_FILE | CHAIN_SQE_IO_LINK */
	__u16 reserved;
	__s32 fd;
	__u64 addr;			/* buffer, path, sockaddr */
	__u64 addr2;			/* statx: its result; splice: off_in */
	__u64 off;			/* file offset; splice: off_out; connect: addrlen */
	__u64 ns;			/* timeouts */
	__u32 len;
	__u32 op_flags;
	__u32 mode;			/* openat: mode; statx: mask */
	__u32 file_index;		/* openat/accept/close: the direct slot */
	__s32 fd_in;			/* splice: its source */
	__u32 fixed_in;			/* splice: the source is a direct slot */
};

#define CHAIN_SQE_FIXED_FILE 1
#define CHAIN_SQE_IO_LINK 4

#define CHAIN_AT_FDCWD (-100)
#define CHAIN_O_CLOEXEC 02000000
#define CHAIN_RWF_KNOWN 0x3f
#define CHAIN_MSG_KNOWN (CHAIN_MSG_PEEK | CHAIN_MSG_DONTWAIT | CHAIN_MSG_WAITALL | CHAIN_MSG_MORE)
#define CHAIN_MSG_NOSIGNAL 0x4000
#define CHAIN_SPLICE_KNOWN (CHAIN_SPLICE_F_MOVE | CHAIN_SPLICE_F_NONBLOCK | CHAIN_SPLICE_F_MORE)
#define CHAIN_SOCKADDR_MAX 128

/* A file a request names: fd and whether it is a direct slot. */
CHAIN_INLINE __u32 chain_check_file(const struct chain_tables *t, __u16 file, int direct_ok,
				    int cwd_ok, __s32 *fd, __u32 *fixed, __u32 *detail)
{
	__u32 i;

	if (file == CHAIN_CWD) {
		if (!cwd_ok)
			return CHAIN_FAULT_FILE;
		*fd = CHAIN_AT_FDCWD;
		*fixed = 0;
		return CHAIN_FAULT_NONE;
	}
	if (file & 0x100) {
		i = file & 0xff;
		if (!direct_ok || i >= CHAIN_MAX_DIRECT || (file & ~0x1ff))
			return CHAIN_FAULT_DIRECT;
		if (t->direct[i] < 0) {
			*detail = i;
			return CHAIN_NEED_DIRECT;
		}
		*fd = t->direct[i];
		*fixed = 1;
		return CHAIN_FAULT_NONE;
	}
	i = file;
	if (i >= t->nfiles || i >= CHAIN_MAX_FILES)
		return CHAIN_FAULT_FILE;
	*fd = t->fds[i];
	*fixed = 0;
	return CHAIN_FAULT_NONE;
}

/* A buffer range a request names, with the access it needs. */
CHAIN_INLINE __u32 chain_check_buffer(const struct chain_tables *t, __u32 index, __u32 offset,
				      __u64 len, __u32 need, __u64 *addr)
{
	__u64 base, size;
	__u32 flags;

	if (index == CHAIN_CONTEXT) {
		if (need & CHAIN_BUF_PATH)
			return CHAIN_FAULT_PATH;
		base = t->context_addr;
		size = CHAIN_CONTEXT_SIZE;
		flags = CHAIN_BUF_READABLE | CHAIN_BUF_WRITABLE;
	} else {
		if (index >= t->nbuffers || index >= CHAIN_MAX_BUFFERS)
			return CHAIN_FAULT_BUFFER;
		base = t->buf_addr[index];
		size = t->buf_len[index];
		flags = t->buf_flags[index];
	}
	if ((need & CHAIN_BUF_PATH) && !(flags & CHAIN_BUF_PATH))
		return CHAIN_FAULT_PATH;
	if ((need & CHAIN_BUF_WRITABLE) && !(flags & CHAIN_BUF_WRITABLE))
		return CHAIN_FAULT_ACCESS;
	if (offset > size || len > size - offset)
		return CHAIN_FAULT_RANGE;
	if ((need & CHAIN_BUF_PATH) && offset >= size)
		return CHAIN_FAULT_RANGE;	/* the path's NUL is its buffer's last byte */
	*addr = base + offset;
	return CHAIN_FAULT_NONE;
}

/* A direct descriptor a request opens into. */
CHAIN_INLINE __u32 chain_check_direct(const struct chain_tables *t, __u64 direct,
				      __u32 *slot, __u32 *detail)
{
	__u32 i;
	if (direct >= CHAIN_MAX_DIRECT)
		return CHAIN_FAULT_DIRECT;
	i = (__u32)direct;
	if (t->direct[i] < 0) {
		*detail = i;
		return CHAIN_NEED_DIRECT;
	}
	*slot = (__u32)t->direct[i];
	return CHAIN_FAULT_NONE;
}

/* What the check needs of the request queued before r in the same step
 * (0: r is the first). */
#define CHAIN_PREVIOUS(p) (0x10000u | ((__u32)(p)->link << 8) | (p)->opcode)
#define CHAIN_PREVIOUS_LINKED(info) ((info) & 0xff00u)
#define CHAIN_PREVIOUS_OPCODE(info) ((info) & 0xffu)

/* Checks request r (previous: CHAIN_PREVIOUS() of the request queued
 * before it in the same step, or 0) and resolves it into out. Returns
 * CHAIN_FAULT_NONE or why not (detail: more about it). */
CHAIN_INLINE __u32 chain_check_request(const struct chain_tables *t,
				       const struct chain_request *r, __u32 previous,
				       struct chain_resolved *out, __u32 *detail)
{
	__u32 fixed = 0, fault;
	__u64 addr = 0;

	__builtin_memset(out, 0, sizeof(*out));
	out->opcode = r->opcode;
	out->fd = -1;
	if (r->link)
		out->sqe_flags |= CHAIN_SQE_IO_LINK;

	switch (r->opcode) {
	case CHAIN_OP_NOP:
		return CHAIN_FAULT_NONE;
	case CHAIN_OP_READ:
	case CHAIN_OP_WRITE:
	case CHAIN_OP_RECV:
	case CHAIN_OP_SEND:
	case CHAIN_OP_SEND_ZC:
		fault = chain_check_file(t, r->file, 1, 0, &out->fd, &fixed, detail);
		if (fault)
			return fault;
		fault = chain_check_buffer(t, r->buf, r->buf_offset, r->len,
					   (r->opcode == CHAIN_OP_READ || r->opcode == CHAIN_OP_RECV)
					   ? CHAIN_BUF_WRITABLE : CHAIN_BUF_READABLE, &addr);
		if (fault)
			return fault;
		out->addr = addr;
		out->len = r->len;
		if (r->opcode == CHAIN_OP_READ || r->opcode == CHAIN_OP_WRITE) {
			if (r->op_flags & ~CHAIN_RWF_KNOWN)
				return CHAIN_FAULT_FLAGS;
			out->off = r->off;
			out->op_flags = r->op_flags;
		} else {
			if (r->op_flags & ~CHAIN_MSG_KNOWN)
				return CHAIN_FAULT_FLAGS;
			out->op_flags = r->op_flags |
				(r->opcode == CHAIN_OP_RECV ? 0 : CHAIN_MSG_NOSIGNAL);
		}
		break;
	case CHAIN_OP_OPENAT:
		fault = chain_check_file(t, r->file, 0, 1, &out->fd, &fixed, detail);
		if (fault)
			return fault;
		fault = chain_check_buffer(t, r->buf, r->buf_offset, 0, CHAIN_BUF_PATH, &addr);
		if (fault)
			return fault;
		fault = chain_check_direct(t, r->off, &out->file_index, detail);
		if (fault)
			return fault;
		out->addr = addr;
		/* A direct descriptor has no fd, so no close-on-exec: the kernel refuses it. */
		out->op_flags = r->op_flags & ~CHAIN_O_CLOEXEC;
		out->mode = r->extra & 07777;
		fixed = 0;
		break;
	case CHAIN_OP_CLOSE:
		fault = chain_check_file(t, r->file, 1, 0, &out->fd, &fixed, detail);
		if (fault)
			return fault;
		if (!fixed)
			return CHAIN_FAULT_DIRECT;	/* only the chain's own descriptors */
		out->file_index = (__u32)out->fd;
		out->fd = 0;
		fixed = 0;
		break;
	case CHAIN_OP_STATX:
		fault = chain_check_file(t, r->file, 0, 1, &out->fd, &fixed, detail);
		if (fault)
			return fault;
		fault = chain_check_buffer(t, r->buf, r->buf_offset, 0, CHAIN_BUF_PATH, &addr);
		if (fault)
			return fault;
		out->addr = addr;
		if (r->off < CHAIN_STATX_SIZE)
			return CHAIN_FAULT_RANGE;
		fault = chain_check_buffer(t, r->buf2, r->buf2_offset, CHAIN_STATX_SIZE,
					   CHAIN_BUF_WRITABLE, &addr);
		if (fault)
			return fault;
		out->addr2 = addr;
		out->op_flags = r->op_flags;
		out->mode = r->extra;
		break;
	case CHAIN_OP_ACCEPT:
		fault = chain_check_file(t, r->file, 1, 0, &out->fd, &fixed, detail);
		if (fault)
			return fault;
		fault = chain_check_direct(t, r->off, &out->file_index, detail);
		if (fault)
			return fault;
		break;
	case CHAIN_OP_CONNECT:
		fault = chain_check_file(t, r->file, 1, 0, &out->fd, &fixed, detail);
		if (fault)
			return fault;
		if (r->len == 0 || r->len > CHAIN_SOCKADDR_MAX)
			return CHAIN_FAULT_RANGE;
		fault = chain_check_buffer(t, r->buf, r->buf_offset, r->len, CHAIN_BUF_READABLE,
					   &addr);
		if (fault)
			return fault;
		out->addr = addr;
		out->off = r->len;
		break;
	case CHAIN_OP_SPLICE:
		fault = chain_check_file(t, r->file, 1, 0, &out->fd, &fixed, detail);
		if (fault)
			return fault;
		fault = chain_check_file(t, r->file_in, 1, 0, &out->fd_in, &out->fixed_in, detail);
		if (fault)
			return fault;
		if (r->op_flags & ~CHAIN_SPLICE_KNOWN)
			return CHAIN_FAULT_FLAGS;
		out->off = r->off;
		out->addr2 = r->off_in;
		out->len = r->len;
		out->op_flags = r->op_flags;
		break;
	case CHAIN_OP_LINK_TIMEOUT:
		if (!previous || !CHAIN_PREVIOUS_LINKED(previous) ||
		    CHAIN_PREVIOUS_OPCODE(previous) == CHAIN_OP_LINK_TIMEOUT)
			return CHAIN_FAULT_LINK;
		out->ns = r->off;
		break;
	case CHAIN_OP_TIMEOUT:
		out->ns = r->off;
		break;
	case CHAIN_OP_FSYNC:
		fault = chain_check_file(t, r->file, 1, 0, &out->fd, &fixed, detail);
		if (fault)
			return fault;
		if (r->op_flags & ~CHAIN_FSYNC_DATASYNC)
			return CHAIN_FAULT_FLAGS;
		out->op_flags = r->op_flags;
		break;
	default:
		return CHAIN_FAULT_OPCODE;
	}
	if (fixed)
		out->sqe_flags |= CHAIN_SQE_FIXED_FILE;
	return CHAIN_FAULT_NONE;
}

/* The errno a fault ends its chain with. */
CHAIN_INLINE int chain_fault_errno(__u32 fault)
{
	switch (fault) {
	case CHAIN_FAULT_BUFFER:
	case CHAIN_FAULT_RANGE:
	case CHAIN_FAULT_ACCESS:
	case CHAIN_FAULT_PATH:
		return CHAIN_EFAULT;
	case CHAIN_FAULT_FILE:
	case CHAIN_FAULT_DIRECT:
		return CHAIN_EBADF;
	case CHAIN_FAULT_BUSY:
		return CHAIN_EBUSY;
	default:
		return CHAIN_EINVAL;
	}
}
#endif

/* Programs that misbehave, each ending its chain with an error while the
 * loop goes on: never finish (ELOOP), wait with nothing in flight (EIO),
 * use an opcode programs may not (EINVAL), name a buffer index, a range, a
 * file or a path they were not given, or write into a read-only buffer
 * (ChainRequestError: EFAULT, EBADF), queue more than a step may (EBUSY),
 * or read outside their buffers with chain_load() (its -EFAULT). */
#include "chain.h"

static int spin_start(struct aiouring_chain *c, struct chain_io *io)
{
	return chain_nop(io, 0);
}

static int spin_step(struct aiouring_chain *c, struct chain_io *io, __u32 tag, __s32 res)
{
	c->var[0]++;
	return chain_nop(io, 0);
}

CHAIN_PROGRAM(spin);

static int idle_start(struct aiouring_chain *c, struct chain_io *io)
{
	return CHAIN_WAIT;
}

static int idle_step(struct aiouring_chain *c, struct chain_io *io, __u32 tag, __s32 res)
{
	return CHAIN_WAIT;
}

CHAIN_PROGRAM(idle);

/* A raw opcode (IORING_OP_READV) no helper makes: refused before the ring. */
static int bad_opcode_start(struct aiouring_chain *c, struct chain_io *io)
{
	return chain_queued(io, chain_queue(io, 1, 0));
}

static int bad_opcode_step(struct aiouring_chain *c, struct chain_io *io, __u32 tag, __s32 res)
{
	return chain_finish(c, res);
}

CHAIN_PROGRAM(bad_opcode);

/* arg 0: which misuse; arg 1, arg 2: its index/offset. */
enum { MISUSE_BUFFER, MISUSE_RANGE, MISUSE_READONLY, MISUSE_FILE, MISUSE_PATH,
       MISUSE_TOO_MANY, MISUSE_LOAD, MISUSE_DIRECT, MISUSE_LINK_TIMEOUT };

static int misuse_start(struct aiouring_chain *c, struct chain_io *io)
{
	__u64 value;
	__u32 i;

	switch (c->arg[0]) {
	case MISUSE_BUFFER:
		return chain_read(io, 0, CHAIN_FILE(0), chain_buf(c->arg[1], 0, 16), 0);
	case MISUSE_RANGE:
		return chain_read(io, 0, CHAIN_FILE(0), chain_buf(0, c->arg[1], c->arg[2]), 0);
	case MISUSE_READONLY:
		return chain_read(io, 0, CHAIN_FILE(0), chain_buf(c->arg[1], 0, 1), 0);
	case MISUSE_FILE:
		return chain_read(io, 0, CHAIN_FILE(c->arg[1]), chain_buf(0, 0, 1), 0);
	case MISUSE_PATH:
		return chain_openat(io, 0, CHAIN_CWD, chain_buf(c->arg[1], 0, 0), 0, 0, 0);
	case MISUSE_TOO_MANY:
		for (i = 0; i < CHAIN_MAX_BATCH + 1; i++)
			chain_nop(io, i);
		return CHAIN_WAIT;
	case MISUSE_LOAD:
		return chain_finish(c, chain_load_u64(io, 0, c->arg[1], &value));
	case MISUSE_DIRECT:
		return chain_close(io, 0, CHAIN_DIRECT(c->arg[1]));
	case MISUSE_LINK_TIMEOUT:
		return chain_link_timeout(io, 0, 1000000);
	}
	return chain_finish(c, -CHAIN_EINVAL);
}

static int misuse_step(struct aiouring_chain *c, struct chain_io *io, __u32 tag, __s32 res)
{
	return chain_finish(c, res);
}

CHAIN_PROGRAM(misuse);

/* pointer_chase(offset, depth, block, field) with files [file] and buffers
 * [buf]: read the block at offset into buf, take the next offset from the
 * little-endian u64 at byte `field` of it, read that block, and so on:
 * depth reads in all. The last block read is left in buf. Result: the
 * offset of the last block; -EIO when a read comes back short (past the end
 * of the file, or a bad pointer), -EINVAL for a field outside the block. */
#include "chain.h"

enum { CHASE_OFFSET, CHASE_DEPTH, CHASE_BLOCK, CHASE_FIELD };
enum { CHASE_DONE_READS, CHASE_CURRENT };

CHAIN_INLINE int chase_read(struct aiouring_chain *c, struct chain_io *io, __u64 offset)
{
	c->var[CHASE_CURRENT] = offset;
	return chain_read(io, 0, CHAIN_FILE(0), chain_buf(0, 0, c->arg[CHASE_BLOCK]), offset);
}

static int pointer_chase_start(struct aiouring_chain *c, struct chain_io *io)
{
	if (c->arg[CHASE_DEPTH] == 0 || c->arg[CHASE_BLOCK] == 0 ||
	    c->arg[CHASE_BLOCK] > c->buffer_len[0] ||
	    c->arg[CHASE_FIELD] + 8 > c->arg[CHASE_BLOCK])
		return chain_finish(c, -CHAIN_EINVAL);
	return chase_read(c, io, c->arg[CHASE_OFFSET]);
}

static int pointer_chase_step(struct aiouring_chain *c, struct chain_io *io, __u32 tag,
			      __s32 res)
{
	__u64 next;

	if (res < 0)
		return chain_finish(c, res);
	if ((__u64)res != c->arg[CHASE_BLOCK])
		return chain_finish(c, -CHAIN_EIO);
	c->var[CHASE_DONE_READS] += 1;
	if (c->var[CHASE_DONE_READS] >= c->arg[CHASE_DEPTH])
		return chain_finish(c, c->var[CHASE_CURRENT]);
	if (chain_load_u64(io, 0, c->arg[CHASE_FIELD], &next))
		return chain_finish(c, -CHAIN_EFAULT);
	return chase_read(c, io, next);
}

CHAIN_PROGRAM(pointer_chase);

/* Fan-out of linked groups over buffer ranges: for each of arg 0 blocks of
 * arg 1 bytes, a group read(file 0 at i * size -> buffer 0 at i * size)
 * linked to write(that range -> file 1 at the same offset), all groups in
 * flight at once (tags 2i, 2i + 1). The context region gets each write's
 * result (s32). Result: the bytes written; a failed read cancels its
 * write (-ECANCELED in the context region) and the first error (in block
 * order) ends nothing early: every group completes. */
#include "chain.h"

enum { LP_COUNT, LP_SIZE };
enum { LP_DONE, LP_WRITTEN };

static int linked_pairs_start(struct aiouring_chain *c, struct chain_io *io)
{
	__u64 count = c->arg[LP_COUNT], size = c->arg[LP_SIZE], offset;
	__u32 i;
	int rc;

	if (count == 0 || count > CHAIN_MAX_INFLIGHT / 2 || count * size > c->buffer_len[0])
		return chain_finish(c, -CHAIN_EINVAL);
	for (i = 0; i < CHAIN_MAX_INFLIGHT / 2; i++) {
		if (i >= count)
			break;
		offset = i * size;
		rc = chain_read(io, 2 * i, CHAIN_FILE(0), chain_buf(0, offset, size), offset);
		if (rc < 0)
			return chain_finish(c, rc);
		chain_link(io);
		rc = chain_write(io, 2 * i + 1, CHAIN_FILE(1), chain_buf(0, offset, size), offset);
		if (rc < 0)
			return chain_finish(c, rc);
	}
	return CHAIN_WAIT;
}

static int linked_pairs_step(struct aiouring_chain *c, struct chain_io *io, __u32 tag, __s32 res)
{
	if (tag & 1) {
		chain_set_u32(c, tag / 2, (__u32)res);
		if (res > 0)
			c->var[LP_WRITTEN] += res;
	}
	c->var[LP_DONE] += 1;
	if (c->var[LP_DONE] >= 2 * c->arg[LP_COUNT])
		return chain_finish(c, c->var[LP_WRITTEN]);
	return CHAIN_WAIT;
}

CHAIN_PROGRAM(linked_pairs);

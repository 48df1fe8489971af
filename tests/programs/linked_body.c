/* Attached to a linked chain [openat(path, direct=True), read(that file,
 * an 8-byte header buffer, offset 0)], handed the header buffer as buffer
 * 0 and a body buffer as buffer 1: once the header is in, reads the body
 * whose length it names (a little-endian u64) from the direct descriptor
 * the chain opened, at offset 8, then closes it. Result: the body length;
 * the first failing step's error; -EMSGSIZE when the body buffer is too
 * small; -EPROTO for a short header or body. */
#include "chain.h"

enum { LB_READ_BODY = 1, LB_CLOSE = 2 };
enum { LB_LENGTH };

static int linked_body_start(struct aiouring_chain *c, struct chain_io *io)
{
	if (c->linked != 2 || c->nbuffers != 2)
		return chain_finish(c, -CHAIN_EINVAL);
	return CHAIN_WAIT;		/* the linked steps are in flight */
}

static int linked_body_step(struct aiouring_chain *c, struct chain_io *io, __u32 tag, __s32 res)
{
	__u64 length;

	if (res < 0)
		return chain_finish(c, res);
	if (chain_is_linked_tag(tag)) {
		if (chain_linked_index(tag) == 0)
			return CHAIN_WAIT;	/* opened; the header read follows */
		if (res != 8 || chain_load_u64(io, 0, 0, &length))
			return chain_finish(c, -CHAIN_EPROTO);
		if (length > c->buffer_len[1])
			return chain_finish(c, -CHAIN_EMSGSIZE);
		c->var[LB_LENGTH] = length;
		return chain_read(io, LB_READ_BODY, CHAIN_DIRECT(0), chain_buf(1, 0, length), 8);
	}
	if (tag == LB_READ_BODY) {
		if ((__u64)res != c->var[LB_LENGTH])
			return chain_finish(c, -CHAIN_EPROTO);
		return chain_close(io, LB_CLOSE, CHAIN_DIRECT(0));
	}
	return chain_finish(c, c->var[LB_LENGTH]);
}

CHAIN_PROGRAM(linked_body);

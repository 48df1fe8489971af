/* An 8-byte little-endian length, then exactly that many bytes into buffer
 * 0, from file 0 (short reads continued); EMSGSIZE past arg 0 (max), EPROTO
 * at an early EOF. */
#include "chain.h"

enum { HB_MAX };
enum { HB_GOT, HB_LEN };
enum { HB_HEADER, HB_BODY };

static int header_body_start(struct aiouring_chain *c, struct chain_io *io)
{
	if (c->arg[HB_MAX] < 8 || c->arg[HB_MAX] > c->buffer_len[0])
		return chain_finish(c, -CHAIN_EINVAL);
	return chain_read(io, 0, CHAIN_FILE(0), chain_buf(0, 0, 8), CHAIN_CURRENT_POSITION);
}

static int header_body_step(struct aiouring_chain *c, struct chain_io *io, __u32 tag, __s32 res)
{
	__u64 length;

	if (res < 0)
		return chain_finish(c, res);
	if (res == 0)
		return chain_finish(c, -CHAIN_EPROTO);
	c->var[HB_GOT] += res;
	if (c->phase == HB_HEADER) {
		if (c->var[HB_GOT] < 8)
			return chain_read(io, 0, CHAIN_FILE(0),
					  chain_buf(0, c->var[HB_GOT], 8 - c->var[HB_GOT]),
					  CHAIN_CURRENT_POSITION);
		if (chain_load_u64(io, 0, 0, &length))
			return chain_finish(c, -CHAIN_EFAULT);
		if (length > c->arg[HB_MAX])
			return chain_finish(c, -CHAIN_EMSGSIZE);
		if (length == 0)
			return chain_finish(c, 0);
		c->phase = HB_BODY;
		c->var[HB_LEN] = length;
		c->var[HB_GOT] = 0;
	} else if (c->var[HB_GOT] == c->var[HB_LEN]) {
		return chain_finish(c, c->var[HB_LEN]);
	}
	return chain_read(io, 0, CHAIN_FILE(0),
			  chain_buf(0, c->var[HB_GOT], c->var[HB_LEN] - c->var[HB_GOT]),
			  CHAIN_CURRENT_POSITION);
}

CHAIN_PROGRAM(header_body);

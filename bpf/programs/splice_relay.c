/* splice_relay(chunk) with files [sock_in, sock_out, pipe_read,
 * pipe_write]: relay a stream until EOF through a pipe with splice(2)
 * (one leg of a proxy whose bytes never pass through the process): up to
 * chunk bytes from sock_in into the pipe, then exactly those from the pipe
 * to sock_out (again after a short splice), repeat. Result: the number of
 * bytes relayed. */
#include "chain.h"

enum { SR_CHUNK };
enum { SR_TOTAL, SR_PENDING };
enum { SR_FILLING, SR_DRAINING };
enum { SR_IN, SR_OUT, SR_PIPE_READ, SR_PIPE_WRITE };

CHAIN_INLINE int sr_fill(struct aiouring_chain *c, struct chain_io *io)
{
	c->phase = SR_FILLING;
	return chain_splice(io, 0, CHAIN_FILE(SR_IN), CHAIN_CURRENT_POSITION,
			    CHAIN_FILE(SR_PIPE_WRITE), CHAIN_CURRENT_POSITION,
			    c->arg[SR_CHUNK], CHAIN_SPLICE_F_MOVE);
}

CHAIN_INLINE int sr_drain(struct aiouring_chain *c, struct chain_io *io)
{
	c->phase = SR_DRAINING;
	return chain_splice(io, 0, CHAIN_FILE(SR_PIPE_READ), CHAIN_CURRENT_POSITION,
			    CHAIN_FILE(SR_OUT), CHAIN_CURRENT_POSITION,
			    c->var[SR_PENDING], CHAIN_SPLICE_F_MOVE);
}

static int splice_relay_start(struct aiouring_chain *c, struct chain_io *io)
{
	if (c->arg[SR_CHUNK] == 0 || c->arg[SR_CHUNK] > 0x7fffffff)
		return chain_finish(c, -CHAIN_EINVAL);
	return sr_fill(c, io);
}

static int splice_relay_step(struct aiouring_chain *c, struct chain_io *io, __u32 tag, __s32 res)
{
	if (res < 0)
		return chain_finish(c, res);
	if (c->phase == SR_FILLING) {
		if (res == 0)
			return chain_finish(c, c->var[SR_TOTAL]);
		c->var[SR_PENDING] = res;
		return sr_drain(c, io);
	}
	if (res == 0)
		return chain_finish(c, -CHAIN_EPIPE);
	c->var[SR_TOTAL] += res;
	c->var[SR_PENDING] -= res;
	if (c->var[SR_PENDING])
		return sr_drain(c, io);
	return sr_fill(c, io);
}

CHAIN_PROGRAM(splice_relay);

/* A program that issues one request of the opcode it is given (arg 0), with
 * every field but the opcode and tag at its default (no file, no buffer),
 * and ends with that request's result: what a ring's restrictions do to a
 * chain program's requests. */
#include "chain.h"

static int any_opcode_start(struct aiouring_chain *c, struct chain_io *io)
{
	return chain_queued(io, chain_queue(io, (__u8)c->arg[0], 0));
}

static int any_opcode_step(struct aiouring_chain *c, struct chain_io *io, __u32 tag, __s32 res)
{
	return chain_finish(c, res);
}

CHAIN_PROGRAM(any_opcode);

/* A program that issues one request of the opcode it is given (arg 0), with
 * every field but the opcode zero and fd -1, and ends with that request's
 * result: what a ring's restrictions do to a chain program's requests. */
#include "chain.h"

static int any_opcode_start(struct aiouring_chain *c, struct chain_io *io)
{
	return chain_request(io, (__u8)c->arg[0], -1, 0, 0, 0, 0);
}

static int any_opcode_step(struct aiouring_chain *c, struct chain_io *io, __s32 res)
{
	return chain_finish(c, res);
}

CHAIN_PROGRAM(any_opcode);

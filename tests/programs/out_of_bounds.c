/* Indexes the chain's var[] with an unchecked argument: the verifier refuses
 * the access (it could reach past the shared region). */
#include "chain.h"

static int oob_start(struct aiouring_chain *c, struct chain_io *io)
{
	c->var[c->arg[0]] = 1;
	return chain_nop(io, 0);
}

static int oob_step(struct aiouring_chain *c, struct chain_io *io, __u32 tag, __s32 res)
{
	return chain_finish(c, res);
}

CHAIN_PROGRAM(oob);

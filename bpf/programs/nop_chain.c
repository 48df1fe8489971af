/* nop_chain(count): count dependent no-op steps, each issued after the
 * previous one completed: the cost of a chain step with no I/O in it, for
 * benchmarks. Result: the number of steps. */
#include "chain.h"

enum { NOPS_COUNT };
enum { NOPS_DONE };

static int nop_chain_start(struct aiouring_chain *c, struct chain_io *io)
{
	if (c->arg[NOPS_COUNT] == 0)
		return chain_finish(c, 0);
	return chain_nop(io, 0);
}

static int nop_chain_step(struct aiouring_chain *c, struct chain_io *io, __u32 tag, __s32 res)
{
	if (res < 0)
		return chain_finish(c, res);
	c->var[NOPS_DONE] += 1;
	if (c->var[NOPS_DONE] >= c->arg[NOPS_COUNT])
		return chain_finish(c, c->var[NOPS_DONE]);
	return chain_nop(io, 0);
}

CHAIN_PROGRAM(nop_chain);

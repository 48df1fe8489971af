/* Sums the bytes read from a descriptor until EOF. */
#include "chain.h"

enum { ARG_FD, ARG_BUF, ARG_LEN };
enum { VAR_TOTAL };

static int sum_reads_start(struct aiouring_chain *c, struct chain_io *io)
{
	return chain_read(io, c->arg[ARG_FD], c->arg[ARG_BUF], c->arg[ARG_LEN],
			  CHAIN_CURRENT_POSITION);
}

static int sum_reads_step(struct aiouring_chain *c, struct chain_io *io, __s32 res)
{
	if (res < 0)
		return chain_finish(c, res);
	if (res == 0)
		return chain_finish(c, c->var[VAR_TOTAL]);
	c->var[VAR_TOTAL] += res;
	return chain_read(io, c->arg[ARG_FD], c->arg[ARG_BUF], c->arg[ARG_LEN],
			  CHAIN_CURRENT_POSITION);
}

CHAIN_PROGRAM(sum_reads);

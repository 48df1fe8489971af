/* Sums the bytes read from file 0 into buffer 0 until EOF. */
#include "chain.h"

enum { VAR_TOTAL };

static int sum_reads_start(struct aiouring_chain *c, struct chain_io *io)
{
	return chain_read(io, 0, CHAIN_FILE(0), chain_buf(0, 0, c->buffer_len[0]),
			  CHAIN_CURRENT_POSITION);
}

static int sum_reads_step(struct aiouring_chain *c, struct chain_io *io, __u32 tag, __s32 res)
{
	if (res < 0)
		return chain_finish(c, res);
	if (res == 0)
		return chain_finish(c, c->var[VAR_TOTAL]);
	c->var[VAR_TOTAL] += res;
	return chain_read(io, 0, CHAIN_FILE(0), chain_buf(0, 0, c->buffer_len[0]),
			  CHAIN_CURRENT_POSITION);
}

CHAIN_PROGRAM(sum_reads);

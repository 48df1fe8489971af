/* Programs that misbehave: never finish (ELOOP), return WAIT with no
 * request (EIO), issue a request the kernel refuses (an opcode that does not
 * exist: its -EINVAL is the step's res), or two requests in one step (EINVAL). */
#include "chain.h"

static int spin_start(struct aiouring_chain *c, struct chain_io *io)
{
	return chain_nop(io);
}

static int spin_step(struct aiouring_chain *c, struct chain_io *io, __s32 res)
{
	c->var[0]++;
	return chain_nop(io);
}

CHAIN_PROGRAM(spin);

static int idle_start(struct aiouring_chain *c, struct chain_io *io)
{
	return CHAIN_WAIT;
}

static int idle_step(struct aiouring_chain *c, struct chain_io *io, __s32 res)
{
	return CHAIN_WAIT;
}

CHAIN_PROGRAM(idle);

static int bad_sqe_start(struct aiouring_chain *c, struct chain_io *io)
{
	return chain_request(io, 250, -1, 0, 0, 0, 0);
}

static int bad_sqe_step(struct aiouring_chain *c, struct chain_io *io, __s32 res)
{
	return chain_finish(c, res);
}

CHAIN_PROGRAM(bad_sqe);

static int twice_start(struct aiouring_chain *c, struct chain_io *io)
{
	chain_nop(io);
	return chain_nop(io);
}

static int twice_step(struct aiouring_chain *c, struct chain_io *io, __s32 res)
{
	return chain_finish(c, res);
}

CHAIN_PROGRAM(twice);

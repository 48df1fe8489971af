#ifndef AIOURING_NATIVE_PROGRAMS_H
#define AIOURING_NATIVE_PROGRAMS_H
#define CHAIN_NATIVE 1
#include "chain.h"

extern const struct chain_program aiouring_builtin_programs[];
extern const int aiouring_builtin_program_count;

/* Calls through a program's entry points (Cython cannot call a function
 * pointer stored in a const struct member directly). */
static inline int aiouring_chain_start(const struct chain_program *p,
				       struct aiouring_chain *c, struct chain_io *io)
{
	return p->start(c, io);
}

static inline int aiouring_chain_step(const struct chain_program *p,
				      struct aiouring_chain *c, struct chain_io *io, __s32 res)
{
	return p->step(c, io, res);
}
#endif

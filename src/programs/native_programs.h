/* The native side of chain programs, for the loop-side driver: the
 * built-in programs compiled natively, calls through a program's entry
 * points, and the request check of bpf/chain_check.h. */
#ifndef AIOURING_NATIVE_PROGRAMS_H
#define AIOURING_NATIVE_PROGRAMS_H
#define CHAIN_NATIVE 1
#include "chain.h"
#include "chain_check.h"

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
				      struct aiouring_chain *c, struct chain_io *io,
				      __u32 tag, __s32 res)
{
	return p->step(c, io, tag, res);
}

/* chain_check_request() and chain_fault_errno(), as functions. */
__u32 aiouring_chain_check(const struct chain_tables *t, const struct chain_request *r,
			   __u32 previous, struct chain_resolved *out, __u32 *detail);
int aiouring_chain_fault_errno(__u32 fault);
#endif

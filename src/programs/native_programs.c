/* The built-in chain programs compiled natively, for the loop-side driver
 * (kernels without the io_uring BPF struct_ops), and the request check it
 * shares with the BPF dispatcher (bpf/dispatcher.bpf.c). */
#include "native_programs.h"
#include "programs/builtin.h"

#define BUILTIN_ENTRY(name) { #name, name##_start, name##_step },

const struct chain_program aiouring_builtin_programs[] = {
	CHAIN_BUILTIN_PROGRAMS(BUILTIN_ENTRY)
};

const int aiouring_builtin_program_count =
	sizeof(aiouring_builtin_programs) / sizeof(aiouring_builtin_programs[0]);

__u32 aiouring_chain_check(const struct chain_tables *t, const struct chain_request *r,
			   __u32 previous, struct chain_resolved *out, __u32 *detail)
{
	return chain_check_request(t, r, previous, out, detail);
}

int aiouring_chain_fault_errno(__u32 fault)
{
	return chain_fault_errno(fault);
}

/* The layouts the loop shares with the BPF object must not drift. */
_Static_assert(sizeof(struct aiouring_chain) == 1288, "struct aiouring_chain changed");
_Static_assert(sizeof(struct chain_request) == 56, "struct chain_request changed");

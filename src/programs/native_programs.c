/* The built-in chain programs compiled natively, for the loop-side driver
 * (kernels without the io_uring BPF struct_ops). Their BPF build is in
 * bpf/dispatcher.bpf.c. */
#include "native_programs.h"
#include "programs/builtin.h"

#define BUILTIN_ENTRY(name) { #name, name##_start, name##_step },

const struct chain_program aiouring_builtin_programs[] = {
	CHAIN_BUILTIN_PROGRAMS(BUILTIN_ENTRY)
};

const int aiouring_builtin_program_count =
	sizeof(aiouring_builtin_programs) / sizeof(aiouring_builtin_programs[0]);

# Declarations of aiouring/bpf/chain.h (native build) for the loop-side
# driver of chain programs.
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int32_t, int64_t


cdef extern from "chain_native.h" nogil:
    enum:
        CHAIN_MAX_ARGS
        CHAIN_WAIT
        CHAIN_DONE
        CHAIN_RAN_IN_KERNEL
        CHAIN_RAN_LOOP_SIDE

    struct aiouring_chain:
        uint32_t program
        uint32_t phase
        int64_t result
        uint64_t arg[6]
        uint64_t var[8]
        uint32_t steps
        uint32_t max_steps

    struct chain_sqe:
        uint64_t user_data

    ctypedef chain_sqe* (*chain_next_sqe_fn)(void *owner) noexcept with gil

    struct chain_io:
        chain_next_sqe_fn next_sqe
        void *owner
        uint64_t user_data
        int issued

    struct chain_program:
        const char *name

    const chain_program aiouring_builtin_programs[]
    const int aiouring_builtin_program_count

    int aiouring_chain_start(const chain_program *p, aiouring_chain *c, chain_io *io)
    int aiouring_chain_step(const chain_program *p, aiouring_chain *c, chain_io *io,
                            int32_t res)

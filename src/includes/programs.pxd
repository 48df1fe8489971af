# Declarations of the chain programs' C side: bpf/chain.h (native build)
# for the loop-side driver, and the program ring runtime
# (src/programs/program_ring.h) with the memory it shares with the
# dispatcher (bpf/dispatcher.h).
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int32_t, int64_t


cdef extern from "programs/native_programs.h" nogil:
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


cdef extern from "programs/program_ring.h" nogil:
    enum:
        CHAIN_SLOTS
        CHAIN_SLOT_FREE
        CHAIN_SLOT_STARTING
        CHAIN_SLOT_RUNNING
        CHAIN_SLOT_DONE
        CHAIN_CMD_START
        CHAIN_CMD_CANCEL
        CHAIN_CMD_SHUTDOWN

    uint64_t CHAIN_UD_WAKE

    struct aiouring_chain_slot:
        aiouring_chain chain
        uint32_t state
        uint32_t where
        uint64_t waiter
        uint32_t generation
        uint32_t cancel
        uint32_t inflight

    struct aiouring_chain_shared:
        uint32_t shutdown
        int32_t notify_fd
        uint32_t inflight
        int32_t fatal
        uint64_t loop_steps
        uint64_t cqes
        uint64_t requests
        uint64_t started
        uint64_t finished
        uint64_t notify_failures
        aiouring_chain_slot slots[64]

    struct aiouring_program_ring:
        pass

    int aiouring_program_ring_supported()
    int aiouring_program_ring_start(const char *object_path, int notify_fd,
                                    aiouring_program_ring **out, char *err, size_t errlen)
    int aiouring_program_ring_fd(aiouring_program_ring *r)
    aiouring_chain_shared *aiouring_program_ring_shared(aiouring_program_ring *r)
    int aiouring_program_ring_stop(aiouring_program_ring *r, double timeout)
    int aiouring_program_ring_failed(aiouring_program_ring *r)

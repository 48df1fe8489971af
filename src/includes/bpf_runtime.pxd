# Declarations of the chain ring runtime (src/bpf_runtime.h) and the memory
# it shares with the dispatcher (bpf/dispatcher.h).
from libc.stdint cimport uint32_t, uint64_t, int32_t
from includes.chain cimport aiouring_chain


cdef extern from "bpf_runtime.h" nogil:
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

    struct aiouring_chain_ring:
        pass

    int aiouring_chain_ring_supported()
    int aiouring_chain_ring_start(const char *object_path, int notify_fd,
                                  aiouring_chain_ring **out, char *err, size_t errlen)
    int aiouring_chain_ring_fd(aiouring_chain_ring *r)
    aiouring_chain_shared *aiouring_chain_ring_shared(aiouring_chain_ring *r)
    int aiouring_chain_ring_stop(aiouring_chain_ring *r, double timeout)
    int aiouring_chain_ring_failed(aiouring_chain_ring *r)

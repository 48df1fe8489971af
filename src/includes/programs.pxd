# Declarations of the chain programs' C side: aiouring/bpf/chain.h (the
# program-facing API, native build) and bpf/chain_check.h (the check every
# request passes) for the loop-side driver; the program ring runtime
# (src/programs/program_ring.h) and the memory the loop shares with the
# dispatcher (bpf/dispatcher.h) for the kernel path.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t, int64_t
from includes.uring cimport io_uring_sqe
from includes.system cimport sockaddr, socklen_t


cdef extern from "programs/native_programs.h" nogil:
    # The kernel's 64-bit type, as the headers name it: a compiler that
    # tells uint64_t and __u64 pointers apart sees them matched.
    ctypedef unsigned long long __u64

    enum:
        CHAIN_MAX_ARGS
        CHAIN_MAX_VARS
        CHAIN_MAX_BUFFERS
        CHAIN_MAX_FILES
        CHAIN_MAX_DIRECT
        CHAIN_MAX_INFLIGHT
        CHAIN_MAX_BATCH
        CHAIN_CONTEXT_SIZE
        CHAIN_CONTEXT
        CHAIN_WAIT
        CHAIN_DONE
        CHAIN_RAN_IN_KERNEL
        CHAIN_RAN_LOOP_SIDE
        CHAIN_OP_NOP
        CHAIN_OP_FSYNC
        CHAIN_OP_TIMEOUT
        CHAIN_OP_ACCEPT
        CHAIN_OP_LINK_TIMEOUT
        CHAIN_OP_CONNECT
        CHAIN_OP_OPENAT
        CHAIN_OP_CLOSE
        CHAIN_OP_STATX
        CHAIN_OP_READ
        CHAIN_OP_WRITE
        CHAIN_OP_SEND
        CHAIN_OP_RECV
        CHAIN_OP_SPLICE
        CHAIN_OP_SEND_ZC
        CHAIN_BUF_READABLE
        CHAIN_BUF_WRITABLE
        CHAIN_BUF_PATH
        CHAIN_FAULT_NONE
        CHAIN_FAULT_OPCODE
        CHAIN_FAULT_BUFFER
        CHAIN_FAULT_RANGE
        CHAIN_FAULT_ACCESS
        CHAIN_FAULT_PATH
        CHAIN_FAULT_FILE
        CHAIN_FAULT_DIRECT
        CHAIN_FAULT_LINK
        CHAIN_FAULT_BUSY
        CHAIN_FAULT_FLAGS
        CHAIN_NEED_DIRECT
        CHAIN_SQE_FIXED_FILE
        CHAIN_SQE_IO_LINK

    uint32_t CHAIN_LINKED_TAG(uint32_t i)

    union chain_context_region:
        uint8_t bytes[1024]
        uint32_t u32[256]
        uint64_t u64[128]

    struct aiouring_chain:
        uint32_t program
        uint32_t phase
        int64_t result
        uint64_t arg[8]
        uint64_t var[16]
        uint32_t steps
        uint32_t max_steps
        uint32_t inflight
        uint32_t nbuffers
        uint32_t buffer_len[8]
        uint32_t nfiles
        uint32_t linked
        chain_context_region context

    struct chain_request:
        uint8_t opcode
        uint8_t link
        uint16_t file
        uint16_t file_in
        uint16_t buf
        uint32_t buf_offset
        uint32_t len
        uint32_t tag
        uint32_t op_flags
        uint32_t extra
        uint16_t buf2
        uint32_t buf2_offset
        uint64_t off
        uint64_t off_in

    struct chain_io:
        chain_request* reqs
        uint32_t count
        int32_t error
        const __u64* buf_addr
        const uint32_t* buf_len
        uint32_t nbuffers
        uint64_t context_addr

    struct chain_program:
        const char *name

    struct chain_tables:
        __u64 buf_addr[8]
        uint32_t buf_len[8]
        uint32_t buf_flags[8]
        int32_t fds[8]
        int32_t direct[4]
        uint64_t context_addr
        uint32_t nbuffers
        uint32_t nfiles

    struct chain_fault:
        uint32_t code
        uint32_t position
        uint32_t detail
        chain_request request

    struct chain_resolved:
        uint8_t opcode
        uint8_t sqe_flags
        int32_t fd
        uint64_t addr
        uint64_t addr2
        uint64_t off
        uint64_t ns
        uint32_t len
        uint32_t op_flags
        uint32_t mode
        uint32_t file_index
        int32_t fd_in
        uint32_t fixed_in

    const chain_program aiouring_builtin_programs[]
    const int aiouring_builtin_program_count

    int aiouring_chain_start(const chain_program *p, aiouring_chain *c, chain_io *io)
    int aiouring_chain_step(const chain_program *p, aiouring_chain *c, chain_io *io,
                            uint32_t tag, int32_t res)
    uint32_t aiouring_chain_check(const chain_tables *t, const chain_request *r,
                                  uint32_t previous, chain_resolved *out, uint32_t *detail)
    uint32_t CHAIN_PREVIOUS(const chain_request *p)
    int aiouring_chain_fault_errno(uint32_t fault)


cdef extern from "programs/program_ring.h" nogil:
    enum:
        CHAIN_SLOTS
        CHAIN_MAX_LINKED
        CHAIN_SLOT_FREE
        CHAIN_SLOT_STARTING
        CHAIN_SLOT_RUNNING
        CHAIN_SLOT_FINISHING
        CHAIN_SLOT_DONE
        CHAIN_CMD_START
        CHAIN_CMD_CANCEL
        CHAIN_CMD_SHUTDOWN
        CHAIN_ENTRY_FREE
        CHAIN_ENTRY_INFLIGHT
        CHAIN_ENTRY_NOTIF
        CHAIN_EFFECT_NONE
        CHAIN_EFFECT_OPENS
        CHAIN_EFFECT_CLOSES
        CHAIN_EFFECT_CLEANUP

    struct chain_entry:
        uint32_t tag
        uint8_t state
        uint8_t effect
        uint8_t direct
        uint8_t zerocopy
        int64_t ts_sec
        int64_t ts_nsec

    struct chain_staged_sqe:
        uint64_t words[8]

    struct chain_control_slot:
        uint32_t state
        uint32_t generation
        uint64_t waiter
        uint32_t where
        uint32_t cancel
        uint32_t inflight
        uint32_t steps
        uint32_t max_steps
        uint32_t batches
        uint32_t nlinked
        uint32_t direct_open
        uint32_t free_top
        uint32_t program
        uint64_t start_ns
        uint64_t end_ns
        chain_tables tables
        chain_fault fault
        uint8_t linked_effect[16]
        uint8_t linked_direct[16]
        int32_t linked_results[16]
        uint32_t linked_posted
        uint8_t free_list[64]
        chain_entry entries[64]
        chain_staged_sqe linked[16]

    struct aiouring_chain_control:
        uint32_t shutdown
        int32_t notify_fd
        uint32_t inflight
        int32_t fatal
        uint32_t current
        uint64_t loop_steps
        uint64_t cqes
        uint64_t requests
        uint64_t started
        uint64_t finished
        uint64_t notify_failures
        uint64_t refused
        chain_control_slot slots[64]

    struct aiouring_chains:
        aiouring_chain chains[64]

    struct aiouring_program_ring:
        pass

    struct aiouring_program_ring_limits:
        const void *policy              # const struct aiouring_ring_policy *
        const void *filters
        size_t filters_size

    int aiouring_program_ring_supported()
    int aiouring_program_ring_start(const char *object_path, int notify_fd,
                                    const aiouring_program_ring_limits *limits,
                                    aiouring_program_ring **out, char *err, size_t errlen)
    int aiouring_program_ring_begin(const char *object_path, int notify_fd,
                                    const aiouring_program_ring_limits *limits,
                                    aiouring_program_ring **out)
    int aiouring_program_ring_ready(aiouring_program_ring *r, int wait, char *err, size_t errlen)
    void aiouring_program_ring_discard(aiouring_program_ring *r)
    int aiouring_program_ring_fd(aiouring_program_ring *r)
    aiouring_chains *aiouring_program_ring_chains(aiouring_program_ring *r)
    aiouring_chain_control *aiouring_program_ring_control(aiouring_program_ring *r)
    int aiouring_program_ring_wake(aiouring_program_ring *r, unsigned cmd, unsigned slot)
    int aiouring_program_ring_stop(aiouring_program_ring *r, double timeout)
    int aiouring_program_ring_failed(aiouring_program_ring *r)


cdef extern from "liburing.h" nogil:
    void io_uring_prep_accept_direct(io_uring_sqe *sqe, int fd, sockaddr *addr,
                                     socklen_t *addrlen, int flags, unsigned file_index)

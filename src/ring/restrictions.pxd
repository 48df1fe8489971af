# What a ring may issue once enabled: the opcodes, SQE flags and register
# operations of a RingPolicy, registered (IORING_REGISTER_RESTRICTIONS) while
# the ring is still disabled. The loop's ring is locked to what the loop
# issues, chain programs and user requests included; a policy widens or
# narrows that set.

cdef extern from "ring/restrictions.h" nogil:
    enum:
        AIOURING_POLICY_OPCODES
        AIOURING_POLICY_REGISTER_OPS

    struct aiouring_ring_policy:
        uint8_t opcodes[32]
        uint8_t register_ops[8]
        uint8_t sqe_flags

    struct aiouring_filter_insn:
        uint16_t code
        uint8_t jt
        uint8_t jf
        uint32_t k

    int aiouring_register_bpf_filter(int ring_fd, unsigned opcode,
                                     const aiouring_filter_insn* insns, unsigned count)
    int aiouring_register_filter_records(int ring_fd, const void* records, size_t size,
                                         unsigned* failed_opcode)
    int aiouring_policy_has(const uint8_t* bits, unsigned i)
    void aiouring_policy_set(uint8_t* bits, unsigned i, int on)
    int aiouring_restrict_ring(int ring_fd, const aiouring_ring_policy* policy)


cdef class RingPolicy:
    """An immutable set of what a ring may issue (or no restriction)."""
    cdef aiouring_ring_policy policy
    cdef readonly bint enabled
    cdef readonly dict filters          # opcode -> tuple of cBPF programs

    cdef int add(self, object item, str expected, bint on) except -1
    cdef RingPolicy changed(self, tuple items, bint on)
    cdef RingPolicy copy(self)
    cdef int register_filters(self, int ring_fd) except -1
    # The filters as records for the program ring: u32 opcode, u32 count,
    # then count aiouring_filter_insn (8 bytes each).
    cdef bytes filter_records(self)
    # The program ring of the chain programs' kernel path: the same opcodes
    # and flags, plus the dispatcher's own MSG_RING and ASYNC_CANCEL, and no
    # register operation but PROBE.
    cdef aiouring_ring_policy program_ring_policy(self) noexcept


cdef RingPolicy current_ring_policy()

# Kernel feature probes: which setup flags a ring accepts and which opcodes
# the kernel supports (IORING_REGISTER_PROBE). aiouring.features() is built
# on these and caches the answer.


def setup_flags_error(unsigned flags):
    """0 if a ring can be set up with these flags, else the errno."""
    cdef io_uring ring
    cdef io_uring_params params
    memset(&params, 0, sizeof(params))
    params.flags = flags
    params.cq_entries = 16          # for IORING_SETUP_CQSIZE
    cdef int ret = io_uring_queue_init_params(4, &ring, &params)
    if ret < 0:
        return -ret
    io_uring_queue_exit(&ring)
    return 0


def probe_kernel():
    """Sets up a plain ring and reports its features and supported opcodes.

    Raises RingUnavailableError when no ring can be set up at all."""
    cdef io_uring ring
    cdef io_uring_params params
    cdef io_uring_probe* probe
    memset(&params, 0, sizeof(params))
    cdef int ret = io_uring_queue_init_params(4, &ring, &params)
    if ret < 0:
        raise_ring_unavailable(-ret)
    try:
        opcodes = []
        probe = io_uring_get_probe_ring(&ring)
        if probe != NULL:
            for op in range(probe.last_op + 1):
                if io_uring_opcode_supported(probe, op):
                    opcodes.append(op)
            io_uring_free_probe(probe)
        return {'features_mask': params.features, 'opcodes': opcodes,
                'sq_entries': params.sq_entries, 'cq_entries': params.cq_entries,
                'provided_buffer_rings': probe_buffer_ring(&ring)}
    finally:
        io_uring_queue_exit(&ring)


cdef bint probe_buffer_ring(io_uring* ring):
    """Whether the kernel takes a provided buffer ring (IORING_REGISTER_PBUF_RING,
    Linux 5.19), which stream transports receive into."""
    cdef io_uring_buf_reg reg
    cdef size_t size = 4096     # one page: 8 entries of 16 bytes would do
    cdef void* mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    cdef int ret
    if mem == MAP_FAILED:
        return False
    memset(&reg, 0, sizeof(reg))
    reg.ring_addr = <uint64_t><size_t>mem
    reg.ring_entries = 8
    reg.bgid = 0
    ret = io_uring_register_buf_ring(ring, &reg, 0)
    if ret == 0:
        io_uring_unregister_buf_ring(ring, 0)
    munmap(mem, size)
    return ret == 0


def bpf_filters_supported():
    """Whether the kernel runs io_uring BPF filters on SQEs
    (IORING_REGISTER_BPF_FILTER, Linux 7.0+): a ring takes a filter that
    lets every NOP through."""
    cdef io_uring ring
    cdef io_uring_params params
    cdef aiouring_filter_insn allow
    cdef int ret
    memset(&params, 0, sizeof(params))
    params.flags = AIOURING_SETUP_R_DISABLED
    if io_uring_queue_init_params(2, &ring, &params) < 0:
        return False
    allow.code = 0x06       # BPF_RET | BPF_K
    allow.jt = allow.jf = 0
    allow.k = 1
    ret = aiouring_register_bpf_filter(ring.ring_fd, 0, &allow, 1)
    io_uring_queue_exit(&ring)
    return ret == 0

# Chain programs: multi-step I/O decided without Python, run in the kernel
# on a program ring (kernel.pyx) or loop-side (loop_side.pyx). What a
# coroutine hands over (inputs.pyx) is named by index in the programs'
# requests and checked by both drivers; the path is chosen per chain
# (path_choice.pyx).

cdef enum:
    DEFAULT_MAX_STEPS = 1 << 20
    PROGRAM_RING_STOP_TIMEOUT = 5
    CHAIN_CANCEL_WAIT = 5           # seconds a cancelled chain may take to end


cdef class ChainInputs:
    """What a coroutine hands over to one chain: buffer exports (held until
    the chain's last request completed, so a bytearray cannot be resized
    meanwhile), descriptors, and what each buffer may be used for."""
    cdef Py_buffer views[CHAIN_MAX_BUFFERS]
    cdef uint32_t flags[CHAIN_MAX_BUFFERS]
    cdef int fixed_index[CHAIN_MAX_BUFFERS]     # the loop ring's fixed-buffer slot, -1: none
    cdef int nviews
    cdef int fds[CHAIN_MAX_FILES]
    cdef int nfiles
    cdef list keep                  # the objects behind the exports and descriptors
    cdef readonly tuple describe    # (kind, length) per buffer, for error messages

    cdef int add_buffer(self, object obj) except -1
    cdef int add_file(self, object obj) except -1
    cdef int fill(self, chain_tables* t, aiouring_chain* c) except -1
    cdef void release(self) noexcept


cdef class ProgramOperation(Operation):
    """A running chain program, as the loop's ring sees it."""
    cdef ChainPrograms owner
    cdef object future
    cdef ChainInputs inputs
    cdef AttachedSteps linked       # the linked chain it is attached to, or None
    cdef tuple args
    cdef int index
    cdef Py_ssize_t context_size
    cdef object context_bytes       # the context region when it ended
    cdef object linked_outcome      # the linked steps' results when it ended
    cdef chain_fault fault          # a refused request, copied when it ended
    cdef double started
    cdef unsigned long long enters_started
    cdef uint32_t steps
    cdef uint32_t batches
    cdef bint delivered
    cdef object end_waiter          # resolved when it ended, for a cancelled coroutine

    cdef object context_now(self)
    cdef int direct_slot(self, int k) except -1
    cdef int cancel_chain(self) except -1
    cdef object ending(self)


cdef class ProgramRing:
    """A loop's program ring and its dispatcher, and the slots it lends out."""
    cdef aiouring_program_ring* ring
    cdef aiouring_chains* chains
    cdef aiouring_chain_control* control
    cdef readonly int fd
    cdef bint starting              # its thread is still loading the dispatcher
    cdef list free_slots
    cdef dict running               # slot -> KernelProgram
    cdef uint32_t generations[CHAIN_SLOTS]
    cdef object poller              # the timer that looks for chains that ended
    cdef readonly unsigned long long chains_in_kernel
    cdef readonly unsigned long long steps_in_kernel
    cdef readonly unsigned long long chains_elsewhere
    cdef readonly unsigned long long early_deliveries

    @staticmethod
    cdef ProgramRing begin(str object_path, int notify_fd, RingPolicy policy=*)

    @staticmethod
    cdef ProgramRing start(str object_path, int notify_fd, RingPolicy policy=*)
    cdef int ready(self, bint wait) except -1
    cdef int count(self, uint32_t where, uint32_t steps) except -1
    cdef int release(self, int slot) except -1
    cdef int failed(self)
    cdef object run(self, ChainPrograms owner, ProgramOperation template, unsigned max_steps)
    cdef int watch(self, Loop loop) except -1
    cdef int poll(self) except -1
    cdef int stop(self, Ring ring) except -1


cdef class PathChoice:
    """Picks the faster path for each chain from what recent chains cost."""
    cdef double kernel_overhead     # seconds a kernel chain costs beyond its rounds
    cdef double kernel_per_round    # in-kernel seconds per round of requests
    cdef double loop_per_round      # seconds per round loop-side (iterations)
    cdef double loop_delay          # how long a callback waits for its turn (probed)
    cdef double delay_at_kernel     # loop_delay when each path was last measured
    cdef double delay_at_loop_side
    cdef unsigned long long chains
    cdef unsigned long long probes
    cdef unsigned long long last_kernel
    cdef unsigned long long last_loop_side
    cdef dict rounds                # program index -> rounds per chain (EMA)
    # program index -> [rounds of its last kernel chain, of its last loop-side one]
    cdef dict measured_rounds
    cdef bint have_kernel
    cdef bint have_loop_side
    cdef bint have_delay
    cdef bint outlier_kernel_overhead   # the last sample was far off (see blend())
    cdef bint outlier_kernel_round
    cdef bint outlier_loop_round
    cdef bint length_retried        # a path was tried again for a change of length
    cdef unsigned long long length_retry_at   # (at this chain)

    cdef bint prefer_kernel(self, int index)
    cdef bint length_changed(self, int index, double rounds, int path)
    cdef bint retry_for_length(self)
    cdef int probe(self, Loop loop) except -1
    cdef int delay_sample(self, double seconds) except -1
    cdef int observe(self, ProgramOperation op, bint kernel, double kernel_seconds) except -1


cdef class ChainPrograms:
    """The loop's chain programs and where they run."""
    cdef Loop loop
    cdef ProgramRing ring                       # the kernel path, once started
    cdef object unavailable                     # why this loop has no program ring
    cdef const chain_program* user_programs     # the registered bundle's table
    cdef int user_program_count
    cdef object user_bundle                     # (bundle path, its library, its names)
    cdef object dispatcher_object               # the registered bundle's BPF object
    cdef int kernel_program_count               # programs the ring's dispatcher has
    cdef PathChoice choice
    cdef dict index_by_name                     # program name -> index (built on use)
    cdef readonly unsigned long long chains_loop_side
    cdef readonly unsigned long long steps_loop_side
    cdef unsigned long long chains_in_stopped_rings   # kernel counts of rings
    cdef unsigned long long steps_in_stopped_rings    # replaced or failed

    cdef ProgramRing program_ring(self, bint required)
    cdef ProgramRing start_ring(self, str object_path, int programs, bint wait=*)
    cdef int program_count(self)
    cdef const chain_program* program_at(self, int index)
    cdef int close(self) except -1
    cdef int prepare(self, ProgramOperation op, int index, tuple args, ChainInputs inputs,
                     Py_ssize_t context, AttachedSteps steps) except -1
    cdef int ended(self, ProgramOperation op, int64_t result, bint kernel,
                   double kernel_seconds) except -1

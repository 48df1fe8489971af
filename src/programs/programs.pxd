# Chain programs: dependent multi-step I/O decided without Python, run in
# the kernel on a program ring (kernel.pyx) or loop-side (loop_side.pyx).

cdef enum:
    DEFAULT_MAX_STEPS = 1 << 20
    PROGRAM_RING_STOP_TIMEOUT = 5
    CHAIN_CANCEL_WAIT = 5           # seconds a cancelled chain may take to end


cdef class ProgramOperation(Operation):
    """A running chain program, as the loop's ring sees it."""
    cdef ChainPrograms owner
    cdef object future
    cdef object keepalive           # Python objects whose memory the chain uses


cdef class ProgramRing:
    """A loop's program ring and its dispatcher, and the slots it lends out."""
    cdef aiouring_program_ring* ring
    cdef aiouring_chain_shared* shared
    cdef readonly int fd
    cdef list free_slots
    cdef dict running               # slot -> KernelProgram
    cdef readonly unsigned long long chains_in_kernel
    cdef readonly unsigned long long steps_in_kernel
    cdef readonly unsigned long long chains_elsewhere

    @staticmethod
    cdef ProgramRing start(str object_path, int notify_fd)
    cdef int count(self, uint32_t where, uint32_t steps) except -1
    cdef int release(self, int slot) except -1
    cdef int failed(self)
    cdef object run(self, ChainPrograms owner, int index, tuple args, object keepalive,
                    unsigned max_steps)
    cdef int stop(self, Ring ring) except -1


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
    cdef readonly unsigned long long chains_loop_side
    cdef readonly unsigned long long steps_loop_side
    cdef unsigned long long chains_in_stopped_rings   # kernel counts of rings
    cdef unsigned long long steps_in_stopped_rings    # replaced or failed

    cdef ProgramRing program_ring(self, bint required)
    cdef ProgramRing start_ring(self, str object_path, int programs)
    cdef int program_count(self)
    cdef const chain_program* program_at(self, int index)
    cdef int close(self) except -1

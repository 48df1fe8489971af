# Linked chains: aiouring.chain(*steps) as one IOSQE_IO_LINK chain.

cdef class LinkedChain(Operation):
    """A whole linked chain: one slot in the ring, one future, one completion
    that reaches Python however many steps it has."""
    cdef Loop loop
    cdef object future
    cdef tuple steps                # Step, in order (link timeouts included)
    cdef Py_ssize_t count
    cdef StepState* states          # per position: exports, fds, kernel-written memory
    cdef Py_ssize_t acquired        # states taken so far (released on failure)
    cdef Py_ssize_t final           # index of the step whose CQE ends the chain
    cdef int32_t* results
    cdef uint8_t* posted
    cdef uint8_t* skipped
    cdef double deadline            # absolute CLOCK_MONOTONIC, 0: none
    cdef __kernel_timespec deadline_ts
    cdef bint cancelling
    cdef object outcome             # (results, failed step or -1, timed out)

    cdef int allocate_outcomes(self, Py_ssize_t n) except -1
    cdef int slot_opened_by(self, Step opener, Py_ssize_t before) except -1
    cdef int new_direct_slot(self) except -1
    cdef int acquire_all(self) except -1
    cdef Step acquire_step(self, Py_ssize_t i)
    cdef void release_states(self) noexcept
    cdef int release_slots(self) except -1
    cdef unsigned sqe_count(self)
    cdef void write_sqes(self) noexcept
    cdef int finish(self) except -1
    cdef int release_steps(self, list outcome, set closed) except -1
    cdef int cancel_steps(self) except -1


cdef class LinkedChains:
    """The loop's linked chains."""
    cdef Loop loop

    cdef LinkedChain build(self, tuple steps, object timeout)


cdef class AttachedSteps(LinkedChain):
    """The linked chain a chain program is attached to: built as a linked
    chain is, submitted by the program's driver, every step reporting to the
    program."""
    cdef ProgramOperation program_op
    cdef int directs_opened
    cdef bint for_kernel
    cdef uint8_t effects[16]        # CHAIN_EFFECT_* of each step
    cdef uint8_t directs[16]        # the program's direct descriptor it opens or closes

    @staticmethod
    cdef AttachedSteps create(tuple steps)
    cdef int acquire_for(self, ProgramOperation op) except -1
    cdef void write_sqe(self, io_uring_sqe* sqe, Py_ssize_t i) noexcept
    cdef void record(self, Py_ssize_t i, int32_t res) noexcept
    cdef object outcomes(self)

# The ring driver: set-up, SQEs, one io_uring_enter per loop iteration and
# CQE dispatch to Operation objects found in O(1) by user_data. It knows
# nothing about futures, transports or asyncio.

include "ring/restrictions.pxd"
include "ring/faults.pxd"


cdef enum:
    SQ_ENTRIES = 1024
    CQ_ENTRIES = 4096
    CQE_BATCH = 256
    # Enter the kernel at least once in this many busy iterations even when
    # nothing is in flight, so background requests (wake-ups, signals) are
    # never starved.
    MAX_SKIPPED_ENTERS = 32
    # user_data = slot | step << STEP_SHIFT: an operation made of several
    # SQEs (a linked chain, a split read) learns which one a CQE belongs to.
    STEP_SHIFT = 32
    # Most SQEs one linked chain may take (they are submitted together).
    MAX_LINKED_SQES = SQ_ENTRIES // 2


cdef struct CompletionEntry:
    uint64_t user_data
    int32_t res
    uint32_t flags


cdef class Operation:
    """One io_uring request (or a group of SQEs) in flight; the ring keeps it,
    and so every buffer it holds, until its last CQE."""
    cdef uint64_t user_data     # its slot in the ring, 0 while not in flight
    cdef bint background        # does not keep an idle loop from skipping enter
    cdef uint32_t cqe_step      # step of the CQE being delivered

    cdef int complete(self, int32_t res, uint32_t flags) except -1
    cdef bint is_last_cqe(self, int32_t res, uint32_t flags)

    cdef inline uint64_t step_user_data(self, uint32_t step):
        return self.user_data | (<uint64_t>step << STEP_SHIFT)


cdef class SubmitGuard:
    """A component with requests queued in the SQ that must be checked right
    before the kernel sees them (see SocketRequests)."""
    cdef bint armed                     # something is queued to check

    cdef int before_submit(self) except -1


cdef class Ring:
    """An io_uring instance and the table of operations in flight on it."""
    cdef io_uring ring
    cdef readonly bint initialized
    cdef readonly bint enabled
    cdef readonly unsigned setup_flags
    cdef readonly str setup_mode
    cdef readonly RingPolicy policy     # what the kernel lets it issue
    cdef readonly bint restricted       # the policy is registered
    cdef readonly FaultInjector faults  # tests only: None unless asked for
    cdef unsigned long generation       # fork generation when set up
    cdef list slots                     # user_data -> Operation (None when free)
    cdef list free_slots                # reusable user_data values
    cdef readonly Py_ssize_t inflight
    cdef Py_ssize_t background_inflight
    cdef int skipped_enters
    cdef bint closing                   # draining: completions go to nobody
    cdef readonly unsigned long long completions_dispatched
    cdef readonly unsigned long long completions_to_python
    cdef readonly unsigned long long enters
    cdef RegisteredFiles files          # direct descriptors, registered lazily
    cdef RegisteredBuffers buffers      # fixed buffers, registered lazily
    cdef public object error_handler    # called as error_handler(exc, op)
    cdef readonly bint left_requests    # closed with requests still in flight
    cdef SubmitGuard guard              # checks queued requests before each submission

    cdef bint forked(self)
    cdef int check_open(self) except -1
    cdef int enable(self) except -1
    cdef int restrict(self, RingPolicy policy) except -1

    # Operations and SQEs. Rule for callers: compute every argument first,
    # then take the SQE and fill it with one io_uring_prep_* call, so no
    # Python code (no exception) can come between a taken SQE and its fill.
    cdef uint64_t attach(self, Operation op) except 0
    cdef void detach(self, Operation op)
    cdef io_uring_sqe* sqe(self) except NULL
    cdef int make_room(self) except -1
    cdef io_uring_sqe* sqe_for(self, Operation op) except NULL
    cdef io_uring_sqe* step_sqe(self, Operation op, uint32_t step) except NULL
    cdef int reserve(self, unsigned count) except -1
    cdef io_uring_sqe* reserved_sqe(self) noexcept
    cdef int cancel(self, Operation op) except -1
    cdef int cancel_user_data(self, uint64_t user_data) except -1

    # Submission and waiting.
    cdef int guard_submission(self) except -1
    cdef int submit_now(self) except -1
    cdef int submit_and_flush(self) except -1
    cdef int enter(self, double timeout) except -1
    cdef int wait(self, double timeout) except -1
    cdef int reap(self) except -1
    cdef int drain(self, double limit) except -1

    # Registered resources.
    cdef RegisteredFiles file_table(self)
    cdef RegisteredBuffers buffer_table(self)
    cdef void release_registrations(self)

# The ring driver: set-up with the best flags the kernel accepts, SQEs, one
# io_uring_enter per loop iteration, and CQE dispatch to Operation objects
# found in O(1) by user_data. It knows nothing about futures or asyncio.

from os import register_at_fork
from warnings import warn

# Bumped in a child after fork(): a ring made before it belongs to the parent.
# (Cheaper than a getpid() system call on every iteration.)
cdef unsigned long fork_generation = 0


def _after_fork_in_child():
    global fork_generation
    fork_generation += 1


register_at_fork(after_in_child=_after_fork_in_child)

cdef uint64_t SLOT_MASK = 0xFFFFFFFF

# Operations the kernel never completed when their ring closed: their buffers
# must outlive the process, since the kernel may still write into them.
cdef list unreleased_operations = []


cdef class SubmitGuard:

    cdef int before_submit(self) except -1:
        self.armed = False
        return 0


cdef class Operation:

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        return 0

    cdef bint is_last_cqe(self, int32_t res, uint32_t flags):
        return not (flags & IORING_CQE_F_MORE)


# Setup flag sets, best first. Every ring starts disabled (R_DISABLED): its
# policy can only be registered before it is enabled, and with SINGLE_ISSUER
# the thread that first runs the loop, not the one that created it, becomes
# the ring's single issuer.
cdef list SETUP_FLAG_CHOICES = [
    ("single_issuer+defer_taskrun",
     AIOURING_SETUP_SINGLE_ISSUER | AIOURING_SETUP_DEFER_TASKRUN
     | AIOURING_SETUP_R_DISABLED | AIOURING_SETUP_SUBMIT_ALL),
    ("coop_taskrun",
     AIOURING_SETUP_COOP_TASKRUN | AIOURING_SETUP_R_DISABLED | AIOURING_SETUP_SUBMIT_ALL),
    ("plain", AIOURING_SETUP_R_DISABLED),
]


cdef class ResultOperation(Operation):
    """A request whose result is only recorded (the test hook below)."""
    cdef int32_t res
    cdef bint done

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        self.res = res
        self.done = True
        return 0


cdef class Ring:

    def __cinit__(self):
        self.slots = [None]         # user_data 0 marks CQEs nobody waits for
        self.free_slots = []
        self.generation = fork_generation

    def __init__(self, RingPolicy policy=None):
        """A ring set up with the best flags the kernel accepts, locked to
        policy (default: ring_policy(), what aiouring issues)."""
        cdef io_uring_params params
        cdef int ret = -ENOSYS
        if policy is None:
            policy = current_ring_policy()
        for mode, flags in SETUP_FLAG_CHOICES:
            memset(&params, 0, sizeof(params))
            params.flags = flags | AIOURING_SETUP_CQSIZE | AIOURING_SETUP_CLAMP
            params.cq_entries = CQ_ENTRIES
            ret = io_uring_queue_init_params(SQ_ENTRIES, &self.ring, &params)
            if ret == 0:
                self.initialized = True
                self.setup_flags = flags
                self.setup_mode = mode
                self.enabled = not (flags & AIOURING_SETUP_R_DISABLED)
                self.restrict(policy)
                self.faults = faults_from_environment(environ.get(FAULTS_VARIABLE))
                return
            if ret != -EINVAL:
                break
        raise_ring_unavailable(-ret)

    cdef int restrict(self, RingPolicy policy) except -1:
        cdef int ret
        self.policy = policy
        if policy.filters:
            try:
                policy.register_filters(self.ring.ring_fd)
            except BaseException:
                io_uring_queue_exit(&self.ring)
                self.initialized = False
                raise
        if not policy.enabled:
            return 0
        ret = aiouring_restrict_ring(self.ring.ring_fd, &policy.policy)
        if ret < 0:
            io_uring_queue_exit(&self.ring)
            self.initialized = False
            raise OSError(-ret, f"the kernel refused the ring's restrictions "
                                f"(IORING_REGISTER_RESTRICTIONS): {os_strerror(-ret)}; "
                                f"AIOURING_RING_RESTRICTIONS=off runs without them")
        self.restricted = True
        return 0

    def __dealloc__(self):
        if self.initialized:
            self.release_registrations()
            io_uring_queue_exit(&self.ring)
            self.initialized = False

    @property
    def fd(self):
        return self.ring.ring_fd if self.initialized else -1

    @property
    def defer_taskrun(self):
        return bool(self.setup_flags & AIOURING_SETUP_DEFER_TASKRUN)

    cdef bint forked(self):
        return self.generation != fork_generation

    cdef int check_open(self) except -1:
        if not self.initialized:
            raise RuntimeError("the io_uring of this loop is closed")
        return 0

    cdef int enable(self) except -1:
        cdef int ret = aiouring_enable_rings(&self.ring)
        if ret < 0:
            raise_errno(-ret)
        self.enabled = True
        return 0

    # -- operations -------------------------------------------------------

    cdef uint64_t attach(self, Operation op) except 0:
        """Gives op a user_data slot; the ring holds op until its last CQE."""
        cdef uint64_t user_data
        if self.free_slots:
            user_data = <uint64_t>self.free_slots.pop()
            self.slots[user_data] = op
        else:
            user_data = <uint64_t>len(self.slots)
            self.slots.append(op)
        op.user_data = user_data
        self.inflight += 1
        if op.background:
            self.background_inflight += 1
        return user_data

    cdef void detach(self, Operation op):
        cdef uint64_t user_data = op.user_data
        op.user_data = 0
        self.slots[user_data] = None
        self.free_slots.append(user_data)
        self.inflight -= 1
        if op.background:
            self.background_inflight -= 1

    cdef io_uring_sqe* sqe(self) except NULL:
        """A zeroed SQE; a full SQ is submitted to the kernel and retried."""
        cdef io_uring_sqe* sqe
        self.check_open()
        sqe = io_uring_get_sqe(&self.ring)
        while sqe == NULL:
            self.make_room()
            sqe = io_uring_get_sqe(&self.ring)
        memset(sqe, 0, sizeof(io_uring_sqe))
        return sqe

    cdef int make_room(self) except -1:
        cdef int ret
        if not self.enabled:
            self.enable()
        self.guard_submission()
        ret = io_uring_submit(&self.ring)
        if ret == -EBUSY or ret == -EAGAIN or ret == -EINTR:
            # The kernel wants its completions reaped before it takes more.
            self.reap()
        elif ret < 0:
            raise_errno(-ret)
        return 0

    cdef io_uring_sqe* sqe_for(self, Operation op) except NULL:
        """An SQE whose CQE goes to op, attached now; the caller fills it at
        once (io_uring_prep_*), then may add flags."""
        cdef io_uring_sqe* sqe
        self.attach(op)
        try:
            sqe = self.sqe()
        except BaseException:
            self.detach(op)
            raise
        io_uring_sqe_set_data64(sqe, op.user_data)
        return sqe

    cdef io_uring_sqe* step_sqe(self, Operation op, uint32_t step) except NULL:
        """An SQE for one more step of op, which is already attached."""
        cdef io_uring_sqe* sqe = self.sqe()
        io_uring_sqe_set_data64(sqe, op.step_user_data(step))
        return sqe

    cdef int reserve(self, unsigned count) except -1:
        """Makes room for count SQEs, so an operation of several SQEs (a
        linked chain) is written whole with reserved_sqe(), never split
        between two submissions and never half-written."""
        if count > MAX_LINKED_SQES:
            raise ValueError(f"a chain may take at most {MAX_LINKED_SQES} requests")
        self.check_open()
        while io_uring_sq_space_left(&self.ring) < count:
            self.make_room()
        return 0

    cdef io_uring_sqe* reserved_sqe(self) noexcept:
        """An SQE after reserve(): cannot fail."""
        cdef io_uring_sqe* sqe = io_uring_get_sqe(&self.ring)
        memset(sqe, 0, sizeof(io_uring_sqe))
        return sqe

    cdef int cancel(self, Operation op) except -1:
        """Asks the kernel to cancel op; its CQE (-ECANCELED, or a result the
        kernel had already produced) still arrives and still releases it."""
        if op.user_data == 0 or not self.initialized:
            return 0
        return self.cancel_user_data(op.user_data)

    cdef int cancel_user_data(self, uint64_t user_data) except -1:
        cdef io_uring_sqe* sqe = self.sqe()
        io_uring_prep_cancel64(sqe, user_data, 0)
        io_uring_sqe_set_data64(sqe, 0)
        sqe.flags |= IOSQE_CQE_SKIP_SUCCESS
        return 0

    # -- submission and waiting -------------------------------------------

    cdef int guard_submission(self) except -1:
        """Right before any submission: the components' checks of what they
        queued, then (tests only) the fault injector."""
        if self.guard is not None and self.guard.armed:
            self.guard.before_submit()
        if self.faults is not None:
            self.faults.scan(self)
        return 0

    cdef int submit_now(self) except -1:
        """Submits what is queued right away (no wait), for requests whose
        effect must start before the next iteration: a connect that must
        send its SYN, a cancel that must release a file. Completions stay in
        the CQ for the next wait. Nothing happens before the loop first ran
        (the ring is not enabled yet) or in a forked child."""
        cdef int ret
        if not self.initialized or not self.enabled or self.forked():
            return 0
        self.guard_submission()
        ret = io_uring_submit_and_get_events(&self.ring)
        if ret < 0 and ret != -EINTR and ret != -EAGAIN and ret != -EBUSY:
            if ret == -EEXIST:
                return 0        # not the issuer thread: the next enter does it
            raise_errno(-ret)
        return 0

    cdef int submit_and_flush(self) except -1:
        """Submits queued requests and runs the kernel's pending completion
        work (DEFER_TASKRUN), without waiting or dispatching CQEs."""
        if not self.initialized:
            return 0
        if not self.enabled:
            self.enable()
        return self.submit_now()

    cdef int wait(self, double timeout) except -1:
        """Submits everything queued and waits up to timeout seconds (< 0: no
        limit, 0: don't sleep) for a completion; then dispatches completions.
        One io_uring_enter at most."""
        self.enter(timeout)
        return self.reap()

    cdef int enter(self, double timeout) except -1:
        """wait() without the dispatch: the completions stay in the CQ for
        reap(). A signal that arrives while the thread waits runs Python's
        signal handlers before this returns (the loop also routes signals
        to its wake-up socket, so a wait always ends on one)."""
        cdef __kernel_timespec ts
        cdef __kernel_timespec* tsp = NULL
        cdef io_uring_cqe* cqe = NULL
        cdef int ret
        self.check_open()
        if not self.enabled:
            self.enable()
        if self.forked():
            raise RuntimeError(
                "this event loop was created before fork(); the child process "
                "must create a loop of its own")
        if timeout == 0:
            if (io_uring_sq_ready(&self.ring) == 0
                    and self.inflight == self.background_inflight
                    and self.skipped_enters < MAX_SKIPPED_ENTERS):
                self.skipped_enters += 1
                return 0
            self.guard_submission()
            ret = io_uring_submit_and_get_events(&self.ring)
        else:
            if timeout > 0:
                ts.tv_sec = <long long>timeout
                ts.tv_nsec = <long long>((timeout - ts.tv_sec) * 1e9)
                tsp = &ts
            self.guard_submission()
            with nogil:
                ret = io_uring_submit_and_wait_timeout(&self.ring, &cqe, 1, tsp, NULL)
        self.skipped_enters = 0
        self.enters += 1
        if ret < 0 and ret != -ETIME and ret != -EINTR and ret != -EAGAIN and ret != -EBUSY:
            if ret == -EEXIST:
                raise RuntimeError(
                    "this event loop's io_uring is bound to the thread that first "
                    "ran it (IORING_SETUP_SINGLE_ISSUER); run the loop from that "
                    "thread only")
            raise_errno(-ret)
        if timeout != 0:
            # A wait can end on a signal (EINTR, or its byte on the wake-up
            # socket): run the Python handlers now, as asyncio's select() does.
            PyErr_CheckSignals()
        return 0

    cdef int reap(self) except -1:
        """Dispatches every CQE posted so far to its operation."""
        cdef io_uring_cqe* cqes[CQE_BATCH]
        cdef CompletionEntry entries[CQE_BATCH]
        cdef unsigned count, i
        cdef Operation op
        cdef object interrupt = None
        while True:
            count = io_uring_peek_batch_cqe(&self.ring, cqes, CQE_BATCH)
            if count == 0:
                return 0
            # Copy out and free the CQ slots first: dispatch may submit more.
            for i in range(count):
                entries[i].user_data = cqes[i].user_data
                entries[i].res = cqes[i].res
                entries[i].flags = cqes[i].flags
            io_uring_cq_advance(&self.ring, count)
            for i in range(count):
                if entries[i].user_data == 0:
                    continue
                op = self.slots[entries[i].user_data & SLOT_MASK]
                if op is None:
                    continue        # late CQE of a finished operation: nobody waits
                op.cqe_step = <uint32_t>(entries[i].user_data >> STEP_SHIFT)
                if op.is_last_cqe(entries[i].res, entries[i].flags):
                    self.detach(op)
                    self.completions_to_python += 1
                self.completions_dispatched += 1
                if self.closing:
                    continue
                try:
                    op.complete(entries[i].res, entries[i].flags)
                except (KeyboardInterrupt, SystemExit) as exc:
                    # Leaves run_forever as from an asyncio callback, but only
                    # after the rest of this batch: its CQEs are consumed.
                    if interrupt is None:
                        interrupt = exc
                except BaseException as exc:
                    if self.error_handler is None:
                        raise
                    self.error_handler(exc, op)
            if interrupt is not None:
                raise interrupt
            if count < CQE_BATCH:
                return 0

    cdef int drain(self, double limit) except -1:
        """Cancels everything in flight and waits (up to limit seconds) for
        the CQEs, so no buffer is freed while the kernel may still use it."""
        cdef double deadline = monotonic() + limit
        cdef Operation op
        if not self.initialized or self.inflight == 0:
            return 0
        if self.forked():
            return 0
        self.closing = True
        for op in self.slots:
            if op is not None:
                self.cancel(op)
        while self.inflight > 0 and monotonic() < deadline:
            try:
                self.wait(0.05)
            except RuntimeError:
                break           # another thread owns the ring: cannot drain
        return 0

    def close(self):
        """Drains in-flight requests, then tears the ring down."""
        if not self.initialized:
            return
        try:
            self.drain(1.0)
        finally:
            if self.inflight > 0 and not self.forked():
                # The kernel may still write into these requests' buffers:
                # keep them alive for the life of the process.
                stuck = [op for op in self.slots if op is not None]
                unreleased_operations.extend(stuck)
                self.left_requests = True
                warn(f"io_uring closed with {len(stuck)} request(s) the kernel did "
                     f"not complete after cancellation "
                     f"({', '.join(sorted({type(op).__name__ for op in stuck}))}); "
                     "their buffers are kept for the life of the process",
                     ResourceWarning, stacklevel=2)
            self.slots = [None]
            self.free_slots = []
            self.inflight = self.background_inflight = 0
            self.release_registrations()
            io_uring_queue_exit(&self.ring)
            self.initialized = False

    def inject_faults(self, seed=None, double rate=0.05, kinds=None):
        """Tests only: from now on, fails or shortens a seeded random
        fraction `rate` of this ring's requests before the kernel sees them
        (kinds: some of "eio", "econnreset", "eagain", "enobufs",
        "ecanceled", "short_read", "short_write"; default all); seed None
        stops. Returns the FaultInjector, whose counts say what it did.
        AIOURING_FAULTS="seed=N,rate=F[,kinds=a+b]" does the same for every
        ring of the process."""
        self.faults = None if seed is None else FaultInjector(seed, rate, kinds)
        return self.faults

    def _submit_bare_sqe(self, int opcode, int sqe_flags=0, double timeout=5.0):
        """Test hook: one SQE with only this opcode and these flags set (fd
        -1, every other field zero), submitted and waited for; returns its
        CQE's res. The tests prove with it that what a policy leaves out
        fails with -EACCES. Not an API: it writes no meaningful request."""
        cdef ResultOperation op = ResultOperation.__new__(ResultOperation)
        cdef io_uring_sqe* sqe
        cdef double deadline = monotonic() + timeout
        if not 0 <= opcode < 256 or not 0 <= sqe_flags < 256:
            raise ValueError("opcode and sqe_flags are bytes")
        sqe = self.sqe_for(op)
        sqe.opcode = <uint8_t>opcode
        sqe.flags = <uint8_t>sqe_flags
        sqe.fd = -1
        while not op.done:
            if monotonic() > deadline:
                self.cancel(op)
                raise TimeoutError(f"opcode {opcode} did not complete")
            self.wait(0.1)
        return op.res

    # -- registered files and buffers -------------------------------------

    cdef RegisteredFiles file_table(self):
        """The ring's table of direct descriptors, registered on first use."""
        if self.files is None:
            self.check_open()
            if not self.enabled:
                self.enable()
            self.files = RegisteredFiles.__new__(RegisteredFiles)
            self.files.register(&self.ring)
        return self.files

    cdef RegisteredBuffers buffer_table(self):
        """The ring's table of fixed buffers, registered on first use."""
        if self.buffers is None:
            self.check_open()
            if not self.enabled:
                self.enable()
            self.buffers = RegisteredBuffers.__new__(RegisteredBuffers)
            self.buffers.register(&self.ring)
        return self.buffers

    cdef void release_registrations(self):
        if self.buffers is not None:
            self.buffers.unregister()
        self.files = None
        self.buffers = None


include "ring/restrictions.pyx"
include "ring/faults.pyx"

# Linked chains: several steps (aiouring.ops) submitted as one IOSQE_IO_LINK
# chain that resumes Python once. A chain is built whole before anything
# reaches the SQ: every step's fd, buffer export and direct slot is taken
# first, then room for all its SQEs is reserved, then they are written with
# no Python code in between. A failed build submits nothing.
#
# Intermediate steps whose success implies their result carry
# IOSQE_CQE_SKIP_SUCCESS, so a successful chain posts one CQE; when such a
# step fails the kernel posts its CQE and none for the steps it cancels.
# Every SQE's user_data names the chain's slot and the step, so the chain
# knows which CQE is its last (see LinkedChain.is_last_cqe).

cdef enum:
    # Deadlines further away than this never expire in practice: no
    # LINK_TIMEOUTs are added for them.
    MAX_DEADLINE_SECONDS = 1000000000


cdef class CloseDirectOp(Operation):
    """Closes a direct descriptor a chain left open, then frees its slot."""

    cdef RegisteredFiles files
    cdef int slot

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        self.files.release(self.slot)
        return 0


cdef class LinkedChain(Operation):

    def __dealloc__(self):
        self.release_states()
        PyMem_Free(self.states)
        PyMem_Free(self.results)
        PyMem_Free(self.posted)
        PyMem_Free(self.skipped)

    # -- building -------------------------------------------------------------

    cdef int allocate_outcomes(self, Py_ssize_t n) except -1:
        """Per-step state, results and CQE flags for n steps (freed with
        the chain)."""
        self.states = <StepState*>PyMem_Calloc(n, sizeof(StepState))
        self.results = <int32_t*>PyMem_Calloc(n, sizeof(int32_t))
        self.posted = <uint8_t*>PyMem_Calloc(n, 1)
        self.skipped = <uint8_t*>PyMem_Calloc(n, 1)
        if (self.states == NULL or self.results == NULL or self.posted == NULL
                or self.skipped == NULL):
            raise MemoryError()
        return 0

    cdef int slot_opened_by(self, Step opener, Py_ssize_t before) except -1:
        """The direct slot the latest earlier position of opener opened."""
        cdef Py_ssize_t j
        for j in range(before - 1, -1, -1):
            if self.steps[j] is opener and self.states[j].slot >= 0:
                return self.states[j].slot
        raise ValueError(f"{self.steps[before]!r} uses {opener!r}, which is not "
                         "earlier in the chain")

    cdef int new_direct_slot(self) except -1:
        return self.loop._ring.file_table().allocate()

    cdef int acquire_all(self) except -1:
        cdef Py_ssize_t i
        for i in range(self.count):
            self.acquire_step(i)
        return 0

    cdef Step acquire_step(self, Py_ssize_t i):
        """Takes step i's fd, buffer export and direct slot; counted as
        acquired first, so a failure half-way is released with the chain."""
        cdef Step step = <Step>self.steps[i]
        self.states[i].slot = -1
        self.states[i].buf_index = -1
        self.acquired = i + 1
        step.acquire(&self.states[i], self, i)
        return step

    cdef void release_states(self) noexcept:
        """Releases every buffer export the chain holds (after its last CQE,
        or when building it failed)."""
        cdef Py_ssize_t i
        if self.states == NULL:
            return
        for i in range(self.acquired):
            release_state(&self.states[i])
        self.acquired = 0

    cdef int release_slots(self) except -1:
        cdef Py_ssize_t i
        cdef RegisteredFiles files = self.loop._ring.files
        for i in range(self.acquired):
            if self.states[i].slot >= 0 and files is not None:
                files.release(self.states[i].slot)
            self.states[i].slot = -1
        return 0

    cdef unsigned sqe_count(self):
        cdef Py_ssize_t i
        cdef unsigned n = <unsigned>self.count
        if self.deadline:
            for i in range(self.count):
                if not (<Step>self.steps[i]).is_link_timeout:
                    n += 1
        return n

    cdef void write_sqes(self) noexcept:
        """Writes every SQE of the chain into the room reserve() made."""
        cdef Ring ring = self.loop._ring
        cdef Py_ssize_t i, n = self.count
        cdef Step step
        cdef io_uring_sqe* sqe
        cdef uint8_t link
        for i in range(n):
            step = <Step>self.steps[i]
            link = IOSQE_IO_HARDLINK if step.hardlink else IOSQE_IO_LINK
            sqe = ring.reserved_sqe()
            step.prep(sqe, &self.states[i])
            if step.is_link_timeout:
                sqe.user_data = 0       # both outcomes are skipped
                sqe.flags |= IOSQE_CQE_SKIP_SUCCESS
            else:
                sqe.user_data = self.step_user_data(<uint32_t>i)
            if i < n - 1 or self.deadline:
                sqe.flags |= link
            if i < self.final and step.implied:
                sqe.flags |= IOSQE_CQE_SKIP_SUCCESS
                self.skipped[i] = True
            if self.deadline and not step.is_link_timeout:
                # The whole-chain timeout: every step is guarded by a
                # LINK_TIMEOUT with the same absolute deadline.
                sqe = ring.reserved_sqe()
                io_uring_prep_link_timeout(sqe, &self.deadline_ts, IORING_TIMEOUT_ABS)
                sqe.user_data = 0
                sqe.flags |= IOSQE_CQE_SKIP_SUCCESS
                if i < n - 1:
                    sqe.flags |= link

    # -- completion -----------------------------------------------------------

    cdef bint is_last_cqe(self, int32_t res, uint32_t flags):
        cdef Py_ssize_t step = self.cqe_step
        if step >= self.final:
            return True
        # A skipped step only posts when it failed; unless hardlinked, the
        # kernel then cancels the rest without posting their CQEs.
        return self.skipped[step] and not (<Step>self.steps[step]).hardlink

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        cdef Py_ssize_t step = self.cqe_step
        if step < self.count:
            self.results[step] = res
            self.posted[step] = True
        if self.user_data:
            return 0            # more CQEs to come
        try:
            self.finish()
        except BaseException as exc:
            if not self.future.done():
                self.future.set_exception(exc)
            raise
        return 0

    cdef int finish(self) except -1:
        """All CQEs are in: work out each step's outcome, free what the chain
        held (closing direct descriptors it left open) and resolve."""
        cdef Py_ssize_t i, n = self.count, broken = n, failed_at = -1
        cdef Step step
        cdef StepState* st
        cdef int32_t res
        for i in range(n):
            step = <Step>self.steps[i]
            if self.posted[i] and step.failed(self.results[i], &self.states[i]):
                if self.results[i] == -ECANCELED and failed_at >= 0:
                    continue        # cancelled by the failure before it
                if failed_at < 0:
                    failed_at = i
                if not step.hardlink and broken == n:
                    broken = i
        outcome = []
        closed = set()
        for i in range(n):
            step = <Step>self.steps[i]
            st = &self.states[i]
            if self.posted[i]:
                res = self.results[i]
                if step.failed(res, st):
                    if res == -ECANCELED and i != failed_at:
                        outcome.append(CANCELLED)
                    elif res >= 0:      # short read or write: what it did
                        outcome.append(step.result(res, st))
                    else:
                        outcome.append(path_error(-res, None))
                else:
                    outcome.append(step.result(res, st))
            elif i > broken:
                outcome.append(CANCELLED)
            else:
                outcome.append(step.implied_result(st))
            if (step.closes_direct() and outcome[i] is not CANCELLED
                    and not isinstance(outcome[i], BaseException)):
                closed.add(st.fd)
        self.release_steps(outcome, closed)
        timed_out = (failed_at >= 0 and not self.cancelling
                     and self.results[failed_at] == -ECANCELED
                     and ((self.deadline != 0 and monotonic() >= self.deadline - 0.001)
                          or (failed_at + 1 < n and (<Step>self.steps[failed_at + 1]
                                                     ).is_link_timeout)))
        self.outcome = (outcome, failed_at, timed_out)
        if not self.future.done():
            self.future.set_result(self.outcome)
        return 0

    cdef int release_steps(self, list outcome, set closed) except -1:
        """Closes the direct descriptors no step closed, frees the slots and
        releases every buffer export."""
        cdef CloseDirectOp closer
        cdef RegisteredFiles files = self.loop._ring.files
        cdef Py_ssize_t i
        cdef int slot
        for i in range(self.count):
            slot = self.states[i].slot
            if slot >= 0:
                self.states[i].slot = -1
                if (slot in closed or outcome[i] is CANCELLED
                        or isinstance(outcome[i], BaseException)):
                    files.release(slot)
                else:
                    closer = CloseDirectOp.__new__(CloseDirectOp)
                    closer.files = files
                    closer.slot = slot
                    closer.background = True
                    io_uring_prep_close_direct(self.loop._ring.sqe_for(closer), <unsigned>slot)
        self.release_states()
        return 0

    cdef int cancel_steps(self) except -1:
        cdef Py_ssize_t i
        if not self.user_data or self.cancelling:
            return 0
        self.cancelling = True
        for i in range(self.count):
            if not self.posted[i]:
                self.loop._ring.cancel_user_data(self.step_user_data(<uint32_t>i))
        self.loop._ring.submit_now()
        return 0


async def run_chain(LinkedChain op):
    try:
        outcome, failed_at, timed_out = await op.future
    except CancelledError:
        # Cancel every step, then wait (shielded) for the kernel to finish
        # with them, so their descriptors and buffers are freed and the
        # outcomes can be reported.
        op.cancel_steps()
        if op.user_data:
            op.future = Future(loop=op.loop)
            try:
                await shield(op.future)
            except CancelledError:
                raise ChainCancelledError(None)
        raise ChainCancelledError(op.outcome[0] if op.outcome is not None else None)
    if failed_at >= 0:
        step = op.steps[failed_at]
        error = outcome[failed_at]
        if timed_out:
            raise ChainTimeoutError(ETIME, "chain timed out", failed_at, step.name, outcome)
        if isinstance(error, OSError):
            raise ChainError(error.errno, error.strerror, failed_at, step.name, outcome)
        moved = len(error) if isinstance(error, bytes) else error
        raise ChainError(EIO, f"short transfer ({moved})", failed_at, step.name, outcome)
    return outcome


cdef int check_steps(tuple steps) except -1:
    """Every step is one aiouring.ops made, and each link_timeout() follows
    a step it can guard (not first, not after another link_timeout)."""
    cdef Py_ssize_t i
    for item in steps:
        if not isinstance(item, Step):
            raise TypeError(f"chain steps are made by aiouring.ops, not {type(item).__name__}")
    for i in range(len(steps)):
        if (<Step>steps[i]).is_link_timeout and (
                i == 0 or (<Step>steps[i - 1]).is_link_timeout):
            raise ValueError("link_timeout() must follow the step it guards")
    return 0


cdef class LinkedChains:

    def submit(self, steps, timeout=None):
        """Builds and submits a linked chain; awaitable of its outcome (see
        Loop.chain)."""
        return run_chain(self.build(tuple(steps), timeout))

    cdef LinkedChain build(self, tuple steps, object timeout):
        cdef LinkedChain op
        cdef Ring ring = self.loop._ring
        cdef Py_ssize_t n = len(steps)
        cdef double seconds = 0, deadline
        if n == 0:
            raise ValueError("a chain needs at least one step")
        check_steps(steps)
        if n > MAX_LINKED_SQES:
            raise ValueError(f"a chain may take at most {MAX_LINKED_SQES} requests")
        if timeout is not None:
            seconds = checked_seconds(timeout, "timeout")
        op = LinkedChain.__new__(LinkedChain)
        op.loop = self.loop
        op.steps = steps
        op.count = n
        op.final = n - 1
        while (<Step>steps[op.final]).is_link_timeout:
            op.final -= 1
        if timeout is not None and seconds < MAX_DEADLINE_SECONDS:
            deadline = monotonic() + seconds
            op.deadline = deadline
            op.deadline_ts.tv_sec = <long long>deadline
            op.deadline_ts.tv_nsec = <long long>((deadline - op.deadline_ts.tv_sec) * 1e9)
        op.allocate_outcomes(n)
        # Room first: making it may dispatch completions (Python code), which
        # must not run between taking a step's fd and writing its SQE.
        ring.reserve(op.sqe_count())
        try:
            op.acquire_all()
            op.future = Future(loop=self.loop)
            ring.attach(op)
        except BaseException:
            op.release_slots()
            op.release_states()
            raise
        op.write_sqes()
        ring.submit_now()
        return op

    def stats(self):
        """Direct descriptors in use by linked chains (for tests)."""
        files = self.loop._ring.files
        return {'direct_descriptors': files.in_use if files is not None else 0}


cdef class AttachedSteps(LinkedChain):
    """The steps of aiouring.chain(*steps, program=...): built whole before
    any SQE is written (every fd, buffer export and direct slot taken
    first), then written by the program's driver on its ring (the loop's,
    or the program ring in the kernel) as one IOSQE_IO_LINK chain. No CQE is
    skipped: each step's completion goes to the program (tag
    CHAIN_LINKED_TAG(i)), and the outcomes are reported as aiouring.chain()
    reports them. Direct opens go into the program's direct descriptors, in
    the order of the steps: the first is the program's CHAIN_DIRECT(0)."""

    @staticmethod
    cdef AttachedSteps create(tuple steps):
        cdef AttachedSteps op
        cdef Py_ssize_t n = len(steps)
        if n == 0:
            raise ValueError("a linked chain needs at least one step")
        if n > CHAIN_MAX_LINKED:
            raise ValueError(f"a chain program takes a linked chain of at most "
                             f"{CHAIN_MAX_LINKED} steps")
        check_steps(steps)
        op = AttachedSteps.__new__(AttachedSteps)
        op.steps = steps
        op.count = n
        op.final = n - 1
        op.allocate_outcomes(n)
        return op

    cdef int new_direct_slot(self) except -1:
        cdef int k = self.directs_opened
        if k >= CHAIN_MAX_DIRECT:
            raise ValueError(f"a chain program's linked chain opens at most "
                             f"{CHAIN_MAX_DIRECT} direct descriptors")
        self.directs_opened += 1
        return self.program_op.direct_slot(k)

    cdef int acquire_for(self, ProgramOperation op) except -1:
        """Takes every step's fd, buffer export and direct slot (op's, for
        direct opens), and works out which steps open or close which of
        op's direct descriptors."""
        cdef Py_ssize_t i, j
        cdef Step step
        self.program_op = op
        self.loop = op.owner.loop
        self.for_kernel = isinstance(op, KernelProgram)
        for i in range(self.count):
            step = self.acquire_step(i)
            if self.for_kernel:
                # Fixed buffers are the loop ring's, not the program ring's.
                self.states[i].buf_index = -1
            self.effects[i] = CHAIN_EFFECT_NONE
            self.directs[i] = 0
            if step.opens_direct:
                self.effects[i] = CHAIN_EFFECT_OPENS
                self.directs[i] = <uint8_t>(self.directs_opened - 1)
            elif step.closes_direct():
                for j in range(i - 1, -1, -1):
                    if self.steps[j] is step.fd and self.effects[j] == CHAIN_EFFECT_OPENS:
                        self.effects[i] = CHAIN_EFFECT_CLOSES
                        self.directs[i] = self.directs[j]
                        break
        return 0

    cdef void write_sqe(self, io_uring_sqe* sqe, Py_ssize_t i) noexcept:
        cdef Step step = <Step>self.steps[i]
        memset(sqe, 0, sizeof(io_uring_sqe))
        step.prep(sqe, &self.states[i])
        if i < self.count - 1:
            sqe.flags |= IOSQE_IO_HARDLINK if step.hardlink else IOSQE_IO_LINK

    cdef void record(self, Py_ssize_t i, int32_t res) noexcept:
        if 0 <= i < self.count:
            self.results[i] = res
            self.posted[i] = True

    cdef object outcomes(self):
        """Each step's outcome, as aiouring.chain() reports them (an
        exception object for a step that failed, CANCELLED for one the
        kernel cancelled), then releases the steps' exports."""
        cdef Py_ssize_t i
        cdef Step step
        cdef int32_t res
        outcome = []
        for i in range(self.count):
            step = <Step>self.steps[i]
            if not self.posted[i]:
                outcome.append(CANCELLED)
                continue
            res = self.results[i]
            if res == -ECANCELED:
                outcome.append(CANCELLED)
            elif step.failed(res, &self.states[i]) and res < 0:
                outcome.append(path_error(-res, None))
            else:
                outcome.append(step.result(res, &self.states[i]))
        self.release_states()
        return outcome

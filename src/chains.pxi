# Linked chains: several requests submitted as one IOSQE_IO_LINK chain that
# resumes Python once. Intermediate steps whose success implies their result
# carry IOSQE_CQE_SKIP_SUCCESS, so a successful chain posts one CQE; when such
# a step fails the kernel posts its CQE and none for the steps it cancels.
# Every SQE's user_data names the chain's slot and the step, so the ChainOp
# knows which CQE is its last (see ChainOp.is_last_cqe).

cdef enum:
    # What a step's result is, when its CQE was skipped or has arrived.
    RESULT_RES = 0          # the CQE's res (an int)
    RESULT_BYTES = 1        # bytes read into the step's own buffer
    RESULT_STAT = 2         # an os.stat_result
    RESULT_NONE = 3         # None (link timeouts, timeouts)
    IORING_TIMEOUT_ETIME_SUCCESS_VALUE = 1 << 5


cdef object CANCELLED = None     # set to aiouring.errors.CANCELLED on first use


cdef class ChainStep:
    """One request of a chain, made by the builders in aiouring.ops.

    fd is a descriptor, or the ChainStep of an earlier direct open in the same
    chain (then the step uses that direct descriptor: IOSQE_FIXED_FILE)."""

    cdef public str name
    cdef public int opcode
    cdef public object fd
    cdef public object fd_in            # splice/tee source: int or ChainStep
    cdef public object buffer           # target/source of read, write, recv, send
    cdef public bytes path
    cdef public bytes path2
    cdef public unsigned length
    cdef public int64_t offset
    cdef public int64_t offset_in
    cdef public uint32_t op_flags       # open_flags, statx_flags, msg_flags, ...
    cdef public int length_is_fd        # length carries a dir fd (renameat, linkat)
    cdef public bint direct             # open into a direct descriptor
    cdef public bint hardlink
    cdef public bint implied            # success implies the result: CQE skippable
    cdef public bint short_fails        # a short result breaks the link
    cdef public uint64_t addr_value     # addr for steps that take a number there
    cdef public list buffers            # readv/writev
    cdef iovec* iovecs
    cdef Py_buffer* views
    cdef Py_ssize_t nviews
    cdef public int result_kind
    cdef public object implied_result
    cdef statx statx_buffer
    cdef __kernel_timespec ts
    cdef sockaddr_storage address
    cdef socklen_t address_length
    cdef bint has_address
    # State while in a chain.
    cdef int slot                       # direct slot, -1 if none
    cdef Py_buffer view
    cdef bint has_view
    cdef bint in_flight

    def __cinit__(self):
        self.slot = -1
        self.offset = 0
        self.offset_in = -1

    def __dealloc__(self):
        self.release()

    def _set_timespec(self, double seconds):
        if seconds < 0:
            raise ValueError("a timeout must not be negative")
        self.ts.tv_sec = <long long>seconds
        self.ts.tv_nsec = <long long>((seconds - self.ts.tv_sec) * 1e9)

    def _set_sockaddr(self, int family, address):
        self.address_length = sockaddr_from_python(family, address, &self.address)
        self.has_address = True

    def _want_peer_address(self):
        self.address_length = sizeof(self.address)

    def __repr__(self):
        return f"<ChainStep {self.name}>"

    cdef int release(self):
        cdef Py_ssize_t i
        if self.has_view:
            PyBuffer_Release(&self.view)
            self.has_view = False
        for i in range(self.nviews):
            PyBuffer_Release(&self.views[i])
        self.nviews = 0
        PyMem_Free(self.views)
        PyMem_Free(self.iovecs)
        self.views = NULL
        self.iovecs = NULL
        self.in_flight = False
        return 0

    cdef int acquire_vectors(self, bint writable) except -1:
        cdef Py_ssize_t i, n = len(self.buffers), total = 0
        self.views = <Py_buffer*>PyMem_Realloc(NULL, n * sizeof(Py_buffer))
        self.iovecs = <iovec*>PyMem_Realloc(NULL, n * sizeof(iovec))
        if self.views == NULL or self.iovecs == NULL:
            raise MemoryError()
        for i in range(n):
            if writable:
                get_writable_buffer(self.buffers[i], &self.views[i])
            else:
                PyObject_GetBuffer(self.buffers[i], &self.views[i], PyBUF_SIMPLE)
            self.nviews += 1
            self.iovecs[i].iov_base = self.views[i].buf
            self.iovecs[i].iov_len = self.views[i].len
            total += self.views[i].len
        self.length = <unsigned>n
        self.implied_result = total
        return 0

    cdef object result_of(self, int32_t res):
        if self.result_kind == RESULT_BYTES:
            return PyBytes_FromStringAndSize(<char*>self.view.buf, res)
        if self.result_kind == RESULT_STAT:
            return stat_result_from_statx(&self.statx_buffer)
        if self.result_kind == RESULT_NONE:
            return None
        return res

    cdef bint failed(self, int32_t res):
        """Whether the kernel counts res as a failure (and breaks the link):
        an error, or a short transfer for reads, writes, splices."""
        if self.result_kind == RESULT_NONE:
            return res < 0 and res != -ETIME
        if res < 0:
            return True
        return self.short_fails and res != <int32_t>self.length


cdef inline int fd_of(object fd, bint* fixed) except? -1:
    if isinstance(fd, ChainStep):
        if (<ChainStep>fd).slot < 0:
            raise ValueError(f"{fd!r} is not a direct open earlier in this chain")
        fixed[0] = True
        return (<ChainStep>fd).slot
    return fd


cdef class CloseDirectOp(Operation):
    """Closes a direct descriptor a chain left open, then frees its slot."""

    cdef RegisteredFiles files
    cdef int slot

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        self.files.release(self.slot)
        return 0


cdef class ChainOp(Operation):
    """A whole chain: one slot in the ring, one future, one completion that
    reaches Python however many steps it has."""

    cdef ChainLoop loop
    cdef object future
    cdef list steps                 # ChainStep, in order (link timeouts included)
    cdef Py_ssize_t final           # index of the step whose CQE ends the chain
    cdef int32_t* results
    cdef uint8_t* posted
    cdef uint8_t* skipped
    cdef double deadline            # absolute CLOCK_MONOTONIC, 0: none
    cdef __kernel_timespec deadline_ts
    cdef bint cancelling
    cdef object outcome             # (results, failed step or -1, timed out)

    def __dealloc__(self):
        PyMem_Free(self.results)
        PyMem_Free(self.posted)
        PyMem_Free(self.skipped)

    cdef bint is_last_cqe(self, int32_t res, uint32_t flags):
        cdef Py_ssize_t step = self.cqe_step
        if step >= self.final:
            return True
        # A skipped step only posts when it failed; unless hardlinked, the
        # kernel then cancels the rest without posting their CQEs.
        return self.skipped[step] and not (<ChainStep>self.steps[step]).hardlink

    cdef int submit(self) except -1:
        cdef Ring ring = self.loop._ring
        cdef Py_ssize_t i, n = len(self.steps)
        cdef ChainStep step
        cdef io_uring_sqe* sqe
        cdef bint fixed, fixed_in
        cdef int fd, opcode, buf_index, slot
        cdef unsigned sqes = n * (2 if self.deadline else 1)
        cdef void* addr
        cdef unsigned length
        cdef uint64_t offset
        self.results = <int32_t*>PyMem_Realloc(NULL, n * sizeof(int32_t))
        self.posted = <uint8_t*>PyMem_Realloc(NULL, n)
        self.skipped = <uint8_t*>PyMem_Realloc(NULL, n)
        if self.results == NULL or self.posted == NULL or self.skipped == NULL:
            raise MemoryError()
        memset(self.posted, 0, n)
        memset(self.skipped, 0, n)
        ring.reserve(sqes)
        ring.attach(self)
        for i in range(n):
            step = self.steps[i]
            fixed = fixed_in = False
            fd = fd_of(step.fd, &fixed) if step.fd is not None else -1
            opcode = step.opcode
            addr = NULL
            length = step.length
            offset = <uint64_t>step.offset
            buf_index = -1
            if step.has_view:
                addr = step.view.buf
                if isinstance(step.buffer, AlignedBuffer) and (
                        opcode == IORING_OP_READ or opcode == IORING_OP_WRITE):
                    buf_index = (<AlignedBuffer>step.buffer).ensure_registered(ring)
                    if buf_index >= 0:
                        opcode = (IORING_OP_READ_FIXED if opcode == IORING_OP_READ
                                  else IORING_OP_WRITE_FIXED)
            elif step.path is not None:
                addr = PyBytes_AS_STRING(step.path)
            elif opcode == IORING_OP_TIMEOUT or opcode == IORING_OP_LINK_TIMEOUT:
                addr = &step.ts
                length = 1
            elif step.iovecs != NULL:
                addr = step.iovecs
            elif step.addr_value:
                addr = <void*>step.addr_value
            elif step.has_address:
                addr = &step.address
                if opcode == IORING_OP_CONNECT:
                    offset = step.address_length
                else:       # ACCEPT: the kernel writes the peer's address
                    offset = <uint64_t>&step.address_length
            if opcode == IORING_OP_STATX:
                offset = <uint64_t>&step.statx_buffer
            elif step.path2 is not None:
                offset = <uint64_t>PyBytes_AS_STRING(step.path2)
            if step.length_is_fd:
                length = <unsigned>step.length_is_fd
            slot = fd
            if opcode == IORING_OP_CLOSE and fixed:
                fd = 0          # close_direct: the slot goes in file_index
            sqe = ring.step_sqe(self, <uint32_t>i, opcode, fd, addr, length, offset)
            sqe.rw_flags = step.op_flags
            if buf_index >= 0:
                sqe.buf_index = <uint16_t>buf_index
            if opcode == IORING_OP_CLOSE and fixed:
                sqe.file_index = <uint32_t>slot + 1
            elif fixed:
                sqe.flags |= IOSQE_FIXED_FILE
            if step.direct:
                sqe.file_index = <uint32_t>step.slot + 1
            if step.fd_in is not None:
                sqe.splice_fd_in = fd_of(step.fd_in, &fixed_in)
                sqe.addr = <uint64_t>step.offset_in
                if fixed_in:
                    sqe.splice_flags = step.op_flags | SPLICE_F_FD_IN_FIXED
            if opcode == IORING_OP_LINK_TIMEOUT:
                sqe.user_data = 0       # both outcomes are skipped below
                sqe.flags |= IOSQE_CQE_SKIP_SUCCESS
            if i < n - 1 or self.deadline:
                sqe.flags |= IOSQE_IO_HARDLINK if step.hardlink else IOSQE_IO_LINK
            if i < self.final and step.implied:
                sqe.flags |= IOSQE_CQE_SKIP_SUCCESS
                self.skipped[i] = True
            if self.deadline and opcode != IORING_OP_LINK_TIMEOUT:
                # The whole-chain timeout: every step is guarded by a
                # LINK_TIMEOUT with the same absolute deadline.
                sqe = ring.sqe()
                io_uring_prep_rw(IORING_OP_LINK_TIMEOUT, sqe, -1, &self.deadline_ts, 1, 0)
                sqe.timeout_flags = IORING_TIMEOUT_ABS
                sqe.user_data = 0
                sqe.flags |= IOSQE_CQE_SKIP_SUCCESS
                if i < n - 1:
                    sqe.flags |= IOSQE_IO_HARDLINK if step.hardlink else IOSQE_IO_LINK
        return 0

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        cdef Py_ssize_t step = self.cqe_step
        if step < len(self.steps):
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
        global CANCELLED
        cdef Py_ssize_t i, n = len(self.steps), broken = n, failed_at = -1
        cdef ChainStep step
        cdef int32_t res
        if CANCELLED is None:
            from aiouring.errors import CANCELLED as marker
            CANCELLED = marker
        for i in range(n):
            step = self.steps[i]
            if self.posted[i] and step.failed(self.results[i]):
                if self.results[i] == -ECANCELED and failed_at >= 0:
                    continue        # cancelled by the failure before it
                if failed_at < 0:
                    failed_at = i
                if not step.hardlink and broken == n:
                    broken = i
        outcome = []
        closed = set()
        for i in range(n):
            step = self.steps[i]
            if self.posted[i]:
                res = self.results[i]
                if step.failed(res):
                    if res == -ECANCELED and i != failed_at:
                        outcome.append(CANCELLED)
                    elif res >= 0:      # short read or write: what it did
                        outcome.append(step.result_of(res))
                    else:
                        outcome.append(path_error(-res, None))
                else:
                    outcome.append(step.result_of(res))
            elif i > broken:
                outcome.append(CANCELLED)
            else:
                outcome.append(self.implied_outcome(step))
            if (step.opcode == IORING_OP_CLOSE and isinstance(step.fd, ChainStep)
                    and outcome[i] is not CANCELLED
                    and not isinstance(outcome[i], BaseException)):
                closed.add(step.fd)
        self.release_steps(outcome, closed)
        timed_out = (failed_at >= 0 and not self.cancelling
                     and self.results[failed_at] == -ECANCELED
                     and ((self.deadline != 0 and monotonic() >= self.deadline - 0.001)
                          or (failed_at + 1 < n and (<ChainStep>self.steps[failed_at + 1]
                                                     ).opcode == IORING_OP_LINK_TIMEOUT)))
        self.outcome = (outcome, failed_at, timed_out)
        if not self.future.done():
            self.future.set_result(self.outcome)
        return 0

    cdef object implied_outcome(self, ChainStep step):
        """The result of a step whose CQE was skipped because it succeeded."""
        if step.result_kind == RESULT_RES:
            return step.implied_result
        if step.result_kind == RESULT_NONE:
            return None
        return step.result_of(step.implied_result or 0)

    cdef int release_steps(self, list outcome, set closed) except -1:
        cdef ChainStep step
        cdef CloseDirectOp closer
        cdef RegisteredFiles files = self.loop._ring.files
        cdef Py_ssize_t i
        for i in range(len(self.steps)):
            step = self.steps[i]
            if step.slot >= 0:
                if (step in closed or outcome[i] is CANCELLED
                        or isinstance(outcome[i], BaseException)):
                    files.release(step.slot)
                else:
                    closer = CloseDirectOp.__new__(CloseDirectOp)
                    closer.files = files
                    closer.slot = step.slot
                    closer.background = True
                    sqe = self.loop._ring.sqe_for(closer, IORING_OP_CLOSE, 0, NULL, 0, 0)
                    sqe.file_index = <uint32_t>step.slot + 1
                step.slot = -1
            step.release()
        return 0

    cdef int cancel_steps(self) except -1:
        cdef Py_ssize_t i
        if not self.user_data or self.cancelling:
            return 0
        self.cancelling = True
        for i in range(len(self.steps)):
            if not self.posted[i]:
                self.loop._ring.cancel_user_data(self.step_user_data(<uint32_t>i))
        return 0


cdef class ChainLoop(FileLoop):
    """loop.chain(): linked io_uring chains."""

    def chain(self, *steps, timeout=None):
        """Submits steps (built with aiouring.ops) as one linked chain and
        returns an awaitable of the list of their results; resumes the
        awaiting coroutine once, however many steps there are.

        A step that fails raises aiouring.ChainError naming the step, with its
        errno and every step's outcome (aiouring.CANCELLED for steps the
        failure cancelled). timeout (seconds) bounds the whole chain: each
        step is guarded by an IORING_OP_LINK_TIMEOUT at the same absolute
        deadline, and expiry raises aiouring.ChainTimeoutError. Cancelling the
        awaiting task cancels the chain and raises aiouring.ChainCancelledError
        (a CancelledError) with the outcomes once the kernel is done with it."""
        self.check_closed()
        cdef ChainOp op = self.build_chain(steps, timeout)
        return run_chain(op)

    cdef ChainOp build_chain(self, tuple steps, timeout):
        cdef ChainOp op = ChainOp.__new__(ChainOp)
        cdef ChainStep step
        cdef Py_ssize_t i
        cdef RegisteredFiles files = None
        cdef double deadline
        if not steps:
            raise ValueError("a chain needs at least one step")
        op.loop = self
        op.future = Future(loop=self)
        op.steps = []
        for item in steps:
            if not isinstance(item, ChainStep):
                raise TypeError(f"chain steps are made by aiouring.ops, not {type(item).__name__}")
            step = <ChainStep>item
            if step.in_flight:
                raise RuntimeError(f"{step!r} is already part of a chain in flight")
            op.steps.append(step)
        if (<ChainStep>op.steps[0]).opcode == IORING_OP_LINK_TIMEOUT:
            raise ValueError("link_timeout() must follow the step it guards")
        op.final = len(op.steps) - 1
        while (<ChainStep>op.steps[op.final]).opcode == IORING_OP_LINK_TIMEOUT:
            op.final -= 1
        if timeout is not None:
            if timeout < 0:
                raise ValueError("timeout must not be negative")
            deadline = monotonic() + timeout
            op.deadline = deadline
            op.deadline_ts.tv_sec = <long long>deadline
            op.deadline_ts.tv_nsec = <long long>((deadline - op.deadline_ts.tv_sec) * 1e9)
        try:
            for i in range(len(op.steps)):
                step = op.steps[i]
                if isinstance(step.fd, ChainStep) and (step.fd not in op.steps[:i]):
                    raise ValueError(f"{step!r} uses {step.fd!r}, which is not earlier in the chain")
                if isinstance(step.fd_in, ChainStep) and (step.fd_in not in op.steps[:i]):
                    raise ValueError(f"{step!r} uses {step.fd_in!r}, which is not earlier in the chain")
                if step.buffers is not None:
                    step.acquire_vectors(step.opcode == IORING_OP_READV)
                elif step.buffer is not None:
                    if step.opcode in (IORING_OP_READ, IORING_OP_RECV):
                        get_writable_buffer(step.buffer, &step.view)
                    else:
                        PyObject_GetBuffer(step.buffer, &step.view, PyBUF_SIMPLE)
                    step.has_view = True
                    if step.length == 0 or step.length > step.view.len:
                        step.length = <unsigned>step.view.len
                    if step.short_fails:
                        step.implied_result = step.length
                if step.direct:
                    if files is None:
                        files = self._ring.file_table()
                    step.slot = files.allocate()
                step.in_flight = True
            op.submit()
        except BaseException:
            for step in op.steps:
                if step.slot >= 0:
                    files.release(step.slot)
                    step.slot = -1
                step.release()
            raise
        return op

    def _chain_stats(self):
        """Direct descriptors in use by chains (for tests)."""
        files = self._ring.files
        return {'direct_descriptors': files.in_use if files is not None else 0}


async def run_chain(ChainOp op):
    from aiouring.errors import ChainError, ChainTimeoutError, ChainCancelledError
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
        raise ChainError(EIO, f"short transfer ({len(error) if isinstance(error, bytes) else error})",
                         failed_at, step.name, outcome)
    return outcome

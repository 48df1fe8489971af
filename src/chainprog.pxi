# The loop-side driver of chain programs: the native build of a program runs
# on each completion of its chain on the loop's own ring, so a chain of any
# length resumes Python once. (On Linux 7.1+ the same programs run in the
# kernel instead; see bpf/.)

cdef enum:
    DEFAULT_MAX_STEPS = 1 << 20


cdef chain_sqe* chain_next_sqe(void* owner) noexcept with gil:
    """Gives a program an SQE on the loop's ring for its chain; NULL when
    none can be had (the program then ends the chain with -EIO)."""
    cdef ChainProgramOp op = <ChainProgramOp>owner
    cdef io_uring_sqe* sqe
    if op.user_data != 0:
        return NULL                 # one request in flight per chain
    try:
        sqe = op.loop._ring.sqe()
        op.io.user_data = op.loop._ring.attach(op)
    except BaseException:
        return NULL
    return <chain_sqe*>sqe


cdef class ChainProgramOp(SocketOperation):
    """One running chain program: its context, its buffers, its program."""

    cdef aiouring_chain context
    cdef const chain_program* program
    cdef chain_io io
    cdef object keepalive          # Python objects whose memory the chain uses

    cdef int issue(self, int rc) except -1:
        """After start()/step(): deliver a finished chain, or check that the
        program issued its next request."""
        if rc == CHAIN_DONE:
            return self.deliver()
        if self.io.issued != 1:
            self.context.result = -EIO if self.io.issued == 0 else -EINVAL
            return self.deliver()
        self.context.steps += 1
        return 0

    cdef int deliver(self) except -1:
        if self.user_data:
            # A misbehaving program left a request in flight: cancel it; its
            # CQE still arrives here and is dropped.
            self.loop._ring.cancel(self)
        self.program = NULL
        if self.future.cancelled():
            return 0
        if self.context.result < 0:
            self.future.set_exception(errno_error(<int>-self.context.result))
        else:
            self.future.set_result(self.context.result)
        return 0

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        cdef int rc
        if self.program == NULL:
            return 0                # finished; a late CQE of a cancelled request
        if self.future.cancelled():
            self.program = NULL
            return 0
        if self.context.steps >= self.context.max_steps:
            self.context.result = -ELOOP
            return self.deliver()
        self.io.issued = 0
        rc = aiouring_chain_step(self.program, &self.context, &self.io, res)
        return self.issue(rc)


cdef class ProgramLoop(ChainLoop):
    """Runs chain programs loop-side."""

    def _chain_program_names(self):
        return [aiouring_builtin_programs[i].name.decode()
                for i in range(aiouring_builtin_program_count)]

    async def _run_chain_program(self, int index, tuple args, keepalive=None,
                                 unsigned max_steps=DEFAULT_MAX_STEPS):
        """Runs built-in program `index` with up to 6 integer arguments and
        returns its result (an int; a negative result raises the matching
        OSError). keepalive holds what the arguments point into until the
        chain's last request completed. Cancelling cancels the request in
        flight and issues no more."""
        self.check_closed()
        if not 0 <= index < aiouring_builtin_program_count:
            raise ValueError(f"no chain program with index {index}")
        if len(args) > CHAIN_MAX_ARGS:
            raise ValueError(f"a chain program takes at most {CHAIN_MAX_ARGS} arguments")
        cdef ChainProgramOp op = ChainProgramOp.__new__(ChainProgramOp)
        op.loop = self
        op.future = Future(loop=self)
        op.keepalive = keepalive
        op.program = &aiouring_builtin_programs[index]
        memset(&op.context, 0, sizeof(op.context))
        op.context.program = index
        op.context.max_steps = max_steps
        for i, value in enumerate(args):
            op.context.arg[i] = <uint64_t>value
        op.io.next_sqe = chain_next_sqe
        op.io.owner = <void*>op
        op.issue(aiouring_chain_start(op.program, &op.context, &op.io))
        try:
            return await op.future
        except BaseException:
            op.abandon()
            raise


def buffer_address(obj):
    """The address of a writable buffer's memory, for chain arguments. The
    caller keeps the buffer pinned (e.g. holds a memoryview of it) while a
    chain may use it."""
    cdef Py_buffer view
    get_writable_buffer(obj, &view)
    address = <uintptr_t>view.buf
    PyBuffer_Release(&view)
    return address

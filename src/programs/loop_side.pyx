# The loop-side driver of chain programs: the native build of a program runs
# on each completion of its chain on the loop's own ring, so a chain of any
# length resumes Python once. On Linux 7.1+ the same programs run in the
# kernel instead (kernel.pyx); ChainPrograms picks the path per chain.


cdef chain_sqe* chain_next_sqe(void* owner) noexcept with gil:
    """Gives a program an SQE on the loop's ring for its chain; NULL when
    none can be had (the program then ends the chain with -EIO)."""
    cdef LoopSideProgram op = <LoopSideProgram>owner
    cdef io_uring_sqe* sqe
    if op.user_data != 0:
        op.refused = True           # one request in flight per chain: -EINVAL
        return NULL
    try:
        sqe = op.owner.loop._ring.sqe_for(op)
        op.io.user_data = op.user_data
    except BaseException:
        return NULL
    return <chain_sqe*>sqe


cdef class LoopSideProgram(ProgramOperation):
    """One chain program running loop-side: its context and its program."""

    cdef aiouring_chain context
    cdef const chain_program* program
    cdef chain_io io
    cdef bint refused              # the step asked for a second request

    cdef int issue(self, int rc) except -1:
        """After start()/step(): deliver a finished chain, or check that the
        program issued its next request."""
        if rc == CHAIN_DONE:
            return self.deliver()
        if self.io.issued != 1 or self.refused:
            # As in the kernel: no request is -EIO, more than one -EINVAL.
            self.context.result = -EIO if self.io.issued == 0 and not self.refused else -EINVAL
            return self.deliver()
        self.context.steps += 1
        self.owner.steps_loop_side += 1
        return 0

    cdef int deliver(self) except -1:
        self.owner.chains_loop_side += 1
        if self.user_data:
            # A misbehaving program left a request in flight: cancel it; its
            # CQE still arrives here and is dropped.
            self.owner.loop._ring.cancel(self)
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
        self.refused = False
        rc = aiouring_chain_step(self.program, &self.context, &self.io, res)
        return self.issue(rc)

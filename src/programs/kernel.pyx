# The kernel path of chain programs (Linux 7.1+): each loop gets a program ring,
# created on first use, run by a thread of its own inside io_uring_enter with
# the dispatcher attached (src/programs/program_ring.c, bpf/dispatcher.bpf.c). A chain
# is handed over through a slot of the memory the loop shares with the
# dispatcher and a MSG_RING from the loop's ring; its only CQE on the loop's
# ring is the final one, aimed at the KernelProgram waiting for it.

from os import fsencode


cdef int send_wake(Ring ring, int chain_fd, uint32_t cmd, uint32_t slot,
                   uint64_t user_data) except -1:
    """Queues a MSG_RING from the loop's ring to the program ring: a CQE there
    with user_data CHAIN_UD_WAKE and res cmd << 16 | slot. Only a failure
    leaves a CQE (with user_data) on the loop's ring."""
    cdef io_uring_sqe* sqe = ring.sqe()
    prep_msg_ring_wake(sqe, chain_fd, (cmd << 16) | slot, CHAIN_UD_WAKE)
    io_uring_sqe_set_data64(sqe, user_data)
    sqe.flags |= IOSQE_CQE_SKIP_SUCCESS
    return 0


cdef class KernelProgram(ProgramOperation):
    """A chain running in the kernel, as the loop's ring sees it: one request
    whose single CQE is the chain's end (or the failure of its hand-over)."""

    cdef ProgramRing chains
    cdef int slot
    cdef object ended              # after a cancel: resolved by the chain's end
    cdef uint32_t where            # CHAIN_RAN_IN_KERNEL, as the dispatcher marked it
    cdef uint32_t steps            # requests the chain issued

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        cdef aiouring_chain_slot* s = &self.chains.shared.slots[self.slot]
        cdef int64_t result
        if s.state == CHAIN_SLOT_STARTING:
            result = res            # the MSG_RING never reached the program ring
        else:
            result = s.chain.result
            self.where = s.where
            self.steps = s.chain.steps
            self.chains.count(s.where, s.chain.steps)
        self.chains.release(self.slot)
        self.keepalive = None
        self.mark_ended()
        if self.future.cancelled():
            return 0
        if result < 0:
            self.future.set_exception(errno_error(<int>-result))
        else:
            self.future.set_result(result)
        return 0

    cdef int mark_ended(self) except -1:
        if self.ended is not None and not self.ended.done():
            self.ended.set_result(None)
        return 0

    cdef object cancel_chain(self):
        """The coroutine went away: ask the dispatcher to cancel the chain's
        request. Returns a future that the chain's end resolves (it still
        arrives and frees the slot), or None when nothing is in flight."""
        if not self.user_data or self.chains.ring is NULL:
            return None
        send_wake(self.owner.loop._ring, self.chains.fd, CHAIN_CMD_CANCEL, self.slot, 0)
        if self.ended is None:
            self.ended = Future(loop=self.owner.loop)
        return self.ended


async def await_cancelled_chain(ended, loop):
    """Waits (through further cancellations, at most CHAIN_CANCEL_WAIT
    seconds) until a cancelled kernel chain has ended, so the coroutine goes
    on only when no request of the chain can still consume data."""
    timer = loop.call_later(CHAIN_CANCEL_WAIT, lambda: ended.done() or ended.set_result(None))
    try:
        while not ended.done():
            try:
                await shield(ended)
            except CancelledError:
                pass
    finally:
        timer.cancel()


cdef class ProgramRing:
    """A loop's program ring and its dispatcher, and the slots it lends out."""

    def __cinit__(self):
        self.free_slots = list(range(CHAIN_SLOTS - 1, -1, -1))
        self.running = {}
        self.fd = -1

    def __dealloc__(self):
        if self.ring is not NULL:
            aiouring_program_ring_stop(self.ring, PROGRAM_RING_STOP_TIMEOUT)
            self.ring = NULL

    @staticmethod
    cdef ProgramRing start(str object_path, int notify_fd):
        """Starts a program ring; raises RuntimeError saying why it cannot."""
        cdef ProgramRing self = ProgramRing.__new__(ProgramRing)
        cdef bytes path = fsencode(object_path)
        cdef const char* cpath = path
        cdef size_t size = 1 << 18
        cdef char* err = <char*>PyMem_Malloc(size)
        cdef int ret
        if err is NULL:
            raise MemoryError()
        err[0] = 0
        try:
            with nogil:
                ret = aiouring_program_ring_start(cpath, notify_fd, &self.ring, err, size)
            if ret < 0:
                message = err.decode(errors="replace").strip() or strerror(-ret).decode()
                raise RuntimeError(message)
        finally:
            PyMem_Free(err)
        self.shared = aiouring_program_ring_shared(self.ring)
        self.fd = aiouring_program_ring_fd(self.ring)
        return self

    cdef int count(self, uint32_t where, uint32_t steps) except -1:
        if where == CHAIN_RAN_IN_KERNEL:
            self.chains_in_kernel += 1
            self.steps_in_kernel += steps
        else:
            self.chains_elsewhere += 1
        return 0

    cdef int release(self, int slot) except -1:
        self.shared.slots[slot].state = CHAIN_SLOT_FREE
        self.running.pop(slot, None)
        self.free_slots.append(slot)
        return 0

    cdef int failed(self):
        return aiouring_program_ring_failed(self.ring) if self.ring is not NULL else -EBADF

    cdef object run(self, ChainPrograms owner, int index, tuple args, object keepalive,
                    unsigned max_steps):
        """Hands a chain over to the dispatcher; returns the future of its
        result, or None when every slot is taken."""
        cdef KernelProgram op
        cdef Loop loop = owner.loop
        cdef aiouring_chain_slot* s
        cdef int slot
        if not self.free_slots:
            return None
        slot = self.free_slots.pop()
        s = &self.shared.slots[slot]
        memset(&s.chain, 0, sizeof(s.chain))
        s.chain.program = index
        s.chain.max_steps = max_steps
        for i, value in enumerate(args):
            s.chain.arg[i] = <uint64_t>value
        s.cancel = 0
        s.where = 0
        op = KernelProgram.__new__(KernelProgram)
        op.owner = owner
        op.future = Future(loop=loop)
        op.chains = self
        op.slot = slot
        op.keepalive = keepalive
        try:
            s.waiter = loop._ring.attach(op)
            s.state = CHAIN_SLOT_STARTING
            send_wake(loop._ring, self.fd, CHAIN_CMD_START, slot, op.user_data)
        except BaseException:
            if op.user_data:
                loop._ring.detach(op)
            s.state = CHAIN_SLOT_FREE
            self.free_slots.append(slot)
            raise
        self.running[slot] = op
        return op

    cdef int stop(self, Ring ring) except -1:
        """Stops the thread (it cancels and awaits what is in flight), then
        releases the operations still waiting on the loop's ring."""
        cdef int ret = 0
        cdef KernelProgram op
        cdef bint owner = ring is None or not ring.forked()
        if self.ring is NULL:
            return 0
        with nogil:
            ret = aiouring_program_ring_stop(self.ring, PROGRAM_RING_STOP_TIMEOUT)
        for op in list(self.running.values()):
            if op.user_data and ring is not None and ring.initialized:
                ring.detach(op)
            op.mark_ended()
            if not op.future.done():
                op.future.cancel()
            if ret < 0 and owner:
                # The thread did not end: the kernel may still use the buffers.
                unreleased_operations.append(op)
        self.running.clear()
        if ret == 0:
            self.ring = NULL
            self.shared = NULL
        return 0

    def stats(self):
        cdef aiouring_chain_shared* sh = self.shared
        if sh is NULL:
            return None
        return {
            'fd': self.fd,
            'loop_steps': sh.loop_steps,
            'cqes': sh.cqes,
            'requests': sh.requests,
            'started': sh.started,
            'finished': sh.finished,
            'notify_failures': sh.notify_failures,
            'slots_free': len(self.free_slots),
        }


def program_ring_supported():
    """Whether this build has the kernel path at all (libbpf and clang)."""
    return bool(aiouring_program_ring_supported())


def probe_program_ring(str object_path):
    """Starts and stops a program ring with no loop: None if chain programs
    can run in the kernel here, else why not."""
    cdef ProgramRing chains
    try:
        chains = ProgramRing.start(object_path, -1)
    except RuntimeError as exc:
        return str(exc)
    chains.stop(None)
    return None

# The kernel path of chain programs (Linux 7.1+): each loop gets a program ring,
# created on first use, run by a thread of its own inside io_uring_enter with
# the dispatcher attached (src/programs/program_ring.c, bpf/dispatcher.bpf.c).
# A chain is handed over through a slot of the memory the loop shares with
# the dispatcher (its arguments, what the coroutine handed over, the SQEs of
# a linked chain it is attached to) and a wake-up sent at once, not at the
# loop's next io_uring_enter. Its only CQE on the loop's ring is the final
# one, aimed at the KernelProgram waiting for it; while the loop is busy, a
# check at the end of each iteration finds chains that ended sooner.

from os import fsencode


cdef class KernelProgram(ProgramOperation):
    """A chain running in the kernel, as the loop's ring sees it: one request
    whose single CQE is the chain's end."""

    cdef ProgramRing chains
    cdef int slot
    cdef uint32_t where            # CHAIN_RAN_IN_KERNEL, as the dispatcher marked it

    cdef object context_now(self):
        if self.chains.chains == NULL:
            return b""
        return PyBytes_FromStringAndSize(
            <char*>self.chains.chains.chains[self.slot].context.bytes, self.context_size)

    cdef int direct_slot(self, int k) except -1:
        return self.slot * CHAIN_MAX_DIRECT + k

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        if not self.delivered:
            self.collect(res)
        return 0

    cdef int collect(self, int32_t res) except -1:
        """The chain ended (its final CQE arrived, or the poller saw its slot
        DONE): take its result, free its slot, resolve."""
        cdef chain_control_slot* s = &self.chains.control.slots[self.slot]
        cdef aiouring_chain* c = &self.chains.chains.chains[self.slot]
        cdef int64_t result
        cdef double kernel_seconds = 0
        cdef Py_ssize_t i
        self.delivered = True
        if s.state == CHAIN_SLOT_STARTING:
            result = res            # it never started
        else:
            result = c.result
            self.where = s.where
            self.steps = s.steps
            self.batches = s.batches
            self.fault = s.fault
            self.context_bytes = self.context_now()
            if s.end_ns > s.start_ns:
                kernel_seconds = (s.end_ns - s.start_ns) * 1e-9
            if self.linked is not None:
                for i in range(self.linked.count):
                    if s.linked_posted & (1u << i):
                        self.linked.record(i, s.linked_results[i])
            self.chains.count(s.where, s.steps)
        self.chains.release(self.slot)
        self.owner.ended(self, result, True, kernel_seconds)
        return 0

    cdef int cancel_chain(self) except -1:
        """The coroutine went away: ask the dispatcher to end the chain (it
        cancels what is in flight and then posts the end as usual)."""
        if self.delivered or self.chains.ring is NULL:
            return 0
        aiouring_program_ring_wake(self.chains.ring, CHAIN_CMD_CANCEL, self.slot)
        return 0


async def await_cancelled_chain(ended, loop):
    """Waits (through further cancellations, at most CHAIN_CANCEL_WAIT
    seconds) until a cancelled chain has ended, so the coroutine goes on only
    when no request of the chain can still use its buffers."""
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
    cdef ProgramRing begin(str object_path, int notify_fd, RingPolicy policy=None):
        """Starts a program ring without waiting: loading and verifying its
        dispatcher takes the thread a while; ready() says when it is done.
        With a policy (the loop ring's), the ring is locked to what chain
        programs may issue under it, and to its filters, before it runs."""
        cdef ProgramRing self = ProgramRing.__new__(ProgramRing)
        cdef bytes path = fsencode(object_path)
        cdef aiouring_program_ring_limits limits
        cdef aiouring_ring_policy locked
        cdef bytes filters = b""
        memset(&limits, 0, sizeof(limits))
        if policy is not None:
            if policy.enabled:
                locked = policy.program_ring_policy()
                limits.policy = &locked
            filters = policy.filter_records()
            limits.filters = PyBytes_AS_STRING(filters)
            limits.filters_size = PyBytes_GET_SIZE(filters)
        cdef int ret = aiouring_program_ring_begin(path, notify_fd, &limits, &self.ring)
        if ret < 0:
            if not aiouring_program_ring_supported():
                raise RuntimeError(build_without_kernel_path())
            raise RuntimeError(strerror(-ret).decode())
        self.starting = True
        return self

    @staticmethod
    cdef ProgramRing start(str object_path, int notify_fd, RingPolicy policy=None):
        """Starts a program ring; raises RuntimeError saying why it cannot."""
        cdef ProgramRing self = ProgramRing.begin(object_path, notify_fd, policy)
        self.ready(True)
        return self

    cdef int ready(self, bint wait) except -1:
        """1 when the ring takes chains, 0 while it still starts (wait: until
        it is done); RuntimeError saying why when it could not start."""
        cdef size_t size = 1 << 18
        cdef char* err
        cdef int ret
        if not self.starting:
            return 1
        with nogil:
            ret = aiouring_program_ring_ready(self.ring, wait, NULL, 0)
        if ret == 0:
            return 0
        self.starting = False
        if ret < 0:
            err = <char*>PyMem_Malloc(size)
            if err is NULL:
                raise MemoryError()
            try:
                err[0] = 0
                aiouring_program_ring_ready(self.ring, 0, err, size)
                message = err.decode(errors="replace").strip() or strerror(-ret).decode()
            finally:
                PyMem_Free(err)
            aiouring_program_ring_discard(self.ring)
            self.ring = NULL
            raise RuntimeError(message)
        self.chains = aiouring_program_ring_chains(self.ring)
        self.control = aiouring_program_ring_control(self.ring)
        self.fd = aiouring_program_ring_fd(self.ring)
        return 1

    cdef int count(self, uint32_t where, uint32_t steps) except -1:
        if where == CHAIN_RAN_IN_KERNEL:
            self.chains_in_kernel += 1
            self.steps_in_kernel += steps
        else:
            self.chains_elsewhere += 1
        return 0

    cdef int release(self, int slot) except -1:
        self.control.slots[slot].state = CHAIN_SLOT_FREE
        if self.running.pop(slot, None) is not None:
            self.free_slots.append(slot)
        return 0

    cdef int failed(self):
        if self.starting:
            return 0
        return aiouring_program_ring_failed(self.ring) if self.ring is not NULL else -EBADF

    cdef object run(self, ChainPrograms owner, ProgramOperation template, unsigned max_steps):
        """Hands a chain over to the dispatcher (template: a KernelProgram
        with its inputs and arguments set); returns it, or None when every
        slot is taken."""
        cdef KernelProgram op = <KernelProgram>template
        cdef Loop loop = owner.loop
        cdef chain_control_slot* s
        cdef aiouring_chain* c
        cdef int slot, i, ret
        if not self.free_slots:
            return None
        slot = self.free_slots.pop()
        s = &self.control.slots[slot]
        c = &self.chains.chains[slot]
        op.chains = self
        op.slot = slot
        try:
            # The loop writes everything before the wake-up; the dispatcher
            # reads it after (the wake-up's system call orders the two).
            memset(c, 0, sizeof(aiouring_chain))
            memset(s, 0, sizeof(chain_control_slot))
            self.generations[slot] += 1
            s.generation = self.generations[slot]
            s.program = <uint32_t>op.index
            s.max_steps = max_steps
            s.free_top = CHAIN_MAX_INFLIGHT
            for i in range(CHAIN_MAX_INFLIGHT):
                s.free_list[i] = CHAIN_MAX_INFLIGHT - 1 - i
            c.program = <uint32_t>op.index
            for i, value in enumerate(op.args):
                c.arg[i] = <uint64_t>value
            op.inputs.fill(&s.tables, c)
            for i in range(CHAIN_MAX_DIRECT):
                s.tables.direct[i] = slot * CHAIN_MAX_DIRECT + i
            s.tables.context_addr = <uint64_t><uintptr_t>&c.context
            if op.linked is not None:
                op.linked.acquire_for(op)
                for i in range(op.linked.count):
                    op.linked.write_sqe(<io_uring_sqe*>&s.linked[i], i)
                    s.linked_effect[i] = op.linked.effects[i]
                    s.linked_direct[i] = op.linked.directs[i]
                s.nlinked = <uint32_t>op.linked.count
                c.linked = <uint32_t>op.linked.count
            op.started = monotonic()
            op.enters_started = loop._ring.enters
            s.waiter = loop._ring.attach(op)
            s.state = CHAIN_SLOT_STARTING
            self.running[slot] = op
            ret = aiouring_program_ring_wake(self.ring, CHAIN_CMD_START, slot)
            if ret < 0:
                raise_errno(-ret)
        except BaseException:
            if op.user_data:
                loop._ring.detach(op)
            s.state = CHAIN_SLOT_FREE
            self.running.pop(slot, None)
            self.free_slots.append(slot)
            raise
        self.watch(loop)
        return op

    cdef int watch(self, Loop loop) except -1:
        """Looks for ended chains at the end of this loop iteration (a timer
        due now runs after the iteration's callbacks and completions)."""
        if self.poller is None:
            self.poller = loop.schedule_timer(monotonic(), self.poll_due, (), None, "call_at")
        return 0

    def poll_due(self):
        self.poller = None
        self.poll()

    cdef int poll(self) except -1:
        """Delivers the chains whose slot says DONE before their final CQE
        reached the loop: the CQE waits for the loop's next io_uring_enter,
        which a busy loop makes only after another iteration of callbacks.
        Looks again at the end of the next iteration while the loop is busy
        (callbacks ready) and chains run; an idle loop sleeps until the CQE."""
        cdef KernelProgram op
        cdef Loop loop = None
        if self.control == NULL:
            return 0
        for slot, op in list(self.running.items()):
            loop = op.owner.loop
            if (not op.delivered and
                    self.control.slots[<int>slot].state == CHAIN_SLOT_DONE):
                self.early_deliveries += 1
                op.collect(0)
        if loop is not None and self.running and loop.ready:
            self.watch(loop)
        return 0

    cdef int stop(self, Ring ring) except -1:
        """Stops the thread (it cancels and awaits what is in flight), then
        releases the operations still waiting on the loop's ring."""
        cdef int ret = 0
        cdef KernelProgram op
        cdef bint owner = ring is None or not ring.forked()
        if self.poller is not None:
            self.poller.cancel()
            self.poller = None
        if self.ring is NULL:
            return 0
        with nogil:
            ret = aiouring_program_ring_stop(self.ring, PROGRAM_RING_STOP_TIMEOUT)
        self.starting = False
        for op in list(self.running.values()):
            if op.user_data and ring is not None and ring.initialized:
                ring.detach(op)
            op.delivered = True
            if op.end_waiter is not None and not op.end_waiter.done():
                op.end_waiter.set_result(None)
            if not op.future.done():
                op.future.cancel()
            if ret < 0 and owner:
                # The thread did not end: the kernel may still use the buffers.
                unreleased_operations.append(op)
            else:
                op.inputs.release()
        self.running.clear()
        if ret == 0:
            self.ring = NULL
            self.chains = NULL
            self.control = NULL
        return 0

    def stats(self):
        cdef aiouring_chain_control* k = self.control
        if k is NULL:
            return None
        return {
            'fd': self.fd,
            'loop_steps': k.loop_steps,
            'cqes': k.cqes,
            'requests': k.requests,
            'inflight': k.inflight,
            'refused': k.refused,
            'started': k.started,
            'finished': k.finished,
            'notify_failures': k.notify_failures,
            'slots_free': len(self.free_slots),
            'early_deliveries': self.early_deliveries,
        }


cdef str build_without_kernel_path():
    """Why this build has no kernel path (a build without libbpf or clang
    says so when asked to start a program ring)."""
    cdef char err[512]
    cdef aiouring_program_ring* none = NULL
    err[0] = 0
    aiouring_program_ring_start(b"", -1, NULL, &none, err, sizeof(err))
    return err.decode(errors="replace")


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

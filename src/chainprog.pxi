# The loop-side driver of chain programs: the native build of a program runs
# on each completion of its chain on the loop's own ring, so a chain of any
# length resumes Python once. On Linux 7.1+ the same programs run in the
# kernel instead (bpfchain.pxi); ProgramLoop picks the path per chain.

cdef enum:
    DEFAULT_MAX_STEPS = 1 << 20


cdef chain_sqe* chain_next_sqe(void* owner) noexcept with gil:
    """Gives a program an SQE on the loop's ring for its chain; NULL when
    none can be had (the program then ends the chain with -EIO)."""
    cdef ChainProgramOp op = <ChainProgramOp>owner
    cdef io_uring_sqe* sqe
    if op.user_data != 0:
        op.refused = True           # one request in flight per chain: -EINVAL
        return NULL
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
        (<ProgramLoop>self.loop).chain_steps_loop_side += 1
        return 0

    cdef int deliver(self) except -1:
        (<ProgramLoop>self.loop).chains_loop_side += 1
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
        self.refused = False
        rc = aiouring_chain_step(self.program, &self.context, &self.io, res)
        return self.issue(rc)


CHAIN_PATHS = ("auto", "kernel", "loop-side")


def dispatcher_object_path():
    """The chain dispatcher's BPF object shipped with the package (or the
    one AIOURING_BPF_OBJECT names)."""
    import os.path, aiouring.bpf
    return os.environ.get("AIOURING_BPF_OBJECT") or os.path.join(
        os.path.dirname(aiouring.bpf.__file__), "dispatcher.bpf.o")


cdef class ProgramLoop(ChainLoop):
    """Runs chain programs: in the kernel on the loop's chain ring where the
    kernel has the io_uring BPF struct_ops, loop-side otherwise."""

    cdef ChainRing _chains              # the kernel path, once started
    cdef object _chains_unavailable     # why this loop has no chain ring
    cdef const chain_program* _user_programs    # the registered bundle's table
    cdef int _user_program_count
    cdef object _user_bundle            # (bundle path, its library, its names)
    cdef object _dispatcher_object      # the registered bundle's BPF object
    cdef int _kernel_program_count      # programs the chain ring's dispatcher has
    cdef readonly unsigned long long chains_loop_side
    cdef readonly unsigned long long chain_steps_loop_side
    cdef unsigned long long chains_in_stopped_rings   # kernel counts of rings
    cdef unsigned long long steps_in_stopped_rings    # replaced or failed

    cdef ChainRing kernel_chains(self, bint required):
        """The loop's chain ring, started on first use; None (or, when
        required, RuntimeError) where chains cannot run in the kernel."""
        global _chain_ring_failure
        cdef int err
        if self._chains is not None:
            err = self._chains.failed()
            if err == 0:
                return self._chains
            self._close_chains()
            self._chains_unavailable = (
                f"the chain ring stopped: {strerror(-err).decode()}")
        reason = self._chains_unavailable or _chain_ring_failure
        if reason is None and not aiouring_chain_ring_supported():
            reason = _chain_ring_failure = probe_chain_ring("")
        if reason is None:
            from aiouring.features import _bpf_ops_in_kernel_btf
            if not _bpf_ops_in_kernel_btf():
                reason = _chain_ring_failure = (
                    "the kernel has no io_uring BPF struct_ops (Linux 7.1+)")
        if reason is None:
            try:
                if self._dispatcher_object is not None:
                    return self.start_chains(self._dispatcher_object,
                                             self.program_count())
                return self.start_chains(dispatcher_object_path(),
                                         aiouring_builtin_program_count)
            except RuntimeError as exc:
                if self._dispatcher_object is not None:
                    reason = self._chains_unavailable = str(exc)
                else:
                    # The kernel and the build decide this: once per process.
                    reason = _chain_ring_failure = str(exc)
        if required:
            raise RuntimeError(f"chain programs cannot run in the kernel here: {reason}")
        return None

    cdef ChainRing start_chains(self, str object_path, int programs):
        self._chains = ChainRing.start(object_path, self._ring.fd)
        self._kernel_program_count = programs
        return self._chains

    cdef int program_count(self):
        return aiouring_builtin_program_count + self._user_program_count

    cdef const chain_program* program_at(self, int index):
        if 0 <= index < aiouring_builtin_program_count:
            return &aiouring_builtin_programs[index]
        index -= aiouring_builtin_program_count
        if 0 <= index < self._user_program_count:
            return &self._user_programs[index]
        return NULL

    def _register_programs(self, bundle, uintptr_t table, int count, library,
                           str dispatcher=None, load_error=RuntimeError):
        """Adds a bundle's natively built programs (a table of count
        chain_program entries at address table, kept alive by library) after
        the built-ins, and, when dispatcher names its BPF object, loads that
        for this loop's chain ring: an idle chain ring is stopped first;
        RuntimeError when chains run in it. load_error(libbpf's messages, the
        verifier log among them) is raised when the kernel refuses the
        object; then nothing is registered. One bundle per loop: ValueError for a second."""
        self.check_closed()
        if self._user_bundle is not None:
            raise ValueError(f"this loop already registered {self._user_bundle[0]}: "
                             "build all of a loop's programs into one bundle")
        if count <= 0 or table == 0:
            raise ValueError("no program in the bundle")
        cdef const chain_program* programs = <const chain_program*>table
        names = [programs[i].name.decode() for i in range(count)]
        builtins = [aiouring_builtin_programs[i].name.decode()
                    for i in range(aiouring_builtin_program_count)]
        for i, name in enumerate(names):
            if name in builtins or name in names[:i]:
                raise ValueError(f"a chain program named {name!r} is already registered")
        if dispatcher is not None:
            if self._chains is not None:
                if self._chains.running:
                    raise RuntimeError("chains are running in this loop's chain ring: "
                                       "register programs before starting chains")
                self._close_chains()
            try:
                self.start_chains(dispatcher, aiouring_builtin_program_count + count)
            except RuntimeError as exc:
                self._chains = None
                raise load_error(str(exc)) from None
            self._chains_unavailable = None
            self._dispatcher_object = dispatcher
        self._user_programs = programs
        self._user_program_count = count
        self._user_bundle = (bundle, library, names)
        return names

    def _close_chains(self):
        """Stops the chain ring's thread; called before the ring closes."""
        if self._chains is not None:
            self.chains_in_stopped_rings += self._chains.chains_in_kernel
            self.steps_in_stopped_rings += self._chains.steps_in_kernel
            self._chains.stop(self._ring)
            self._chains = None

    def _chain_stats(self):
        """Where chain programs ran, and the linked chains' direct
        descriptors: counts for tests and benchmarks."""
        chains = self._chains
        stats = ChainLoop._chain_stats(self)
        stats.update({
            'loop_side': self.chains_loop_side,
            'loop_side_steps': self.chain_steps_loop_side,
            'kernel': self.chains_in_stopped_rings +
                      (chains.chains_in_kernel if chains is not None else 0),
            'kernel_steps': self.steps_in_stopped_rings +
                            (chains.steps_in_kernel if chains is not None else 0),
            'chain_ring': chains.stats() if chains is not None else None,
            'kernel_unavailable': self._chains_unavailable or _chain_ring_failure,
        })
        return stats

    def _chain_program_names(self):
        return [self.program_at(i).name.decode() for i in range(self.program_count())]

    async def _run_chain_program(self, int index, tuple args, keepalive=None,
                                 unsigned max_steps=DEFAULT_MAX_STEPS, path=None):
        """Runs program `index` (the built-ins, then the registered ones) with up to 6 integer arguments and
        returns its result (an int; a negative result raises the matching
        OSError). keepalive holds what the arguments point into until the
        chain's last request completed. Cancelling cancels the request in
        flight and issues no more. path: 'kernel', 'loop-side' or None/'auto'
        (the kernel where it can)."""
        self.check_closed()
        cdef const chain_program* program = self.program_at(index)
        if program == NULL:
            raise ValueError(f"no chain program with index {index}")
        if len(args) > CHAIN_MAX_ARGS:
            raise ValueError(f"a chain program takes at most {CHAIN_MAX_ARGS} arguments")
        if path is None:
            path = "auto"
        elif path not in CHAIN_PATHS:
            raise ValueError(f"path must be one of {CHAIN_PATHS}, not {path!r}")
        cdef ChainRing chains
        cdef KernelChainOp kop
        if path != "loop-side":
            chains = self.kernel_chains(path == "kernel")
            if chains is not None and index >= self._kernel_program_count:
                # A bundle registered without a BPF object: loop-side only.
                if path == "kernel":
                    raise RuntimeError(
                        f"chain program {program.name.decode()!r} cannot run in the "
                        "kernel: its bundle has no BPF object (built --native-only)")
                chains = None
            if chains is not None:
                kop = chains.run(self, index, args, keepalive, max_steps)
                if kop is None and path == "kernel":
                    raise RuntimeError(f"all {CHAIN_SLOTS} chain slots are in use")
                if kop is not None:
                    try:
                        value = await kop.future
                        return ChainResult(
                            value, "kernel" if kop.where == CHAIN_RAN_IN_KERNEL else "loop-side",
                            kop.steps)
                    except BaseException:
                        ended = kop.cancel_chain()
                        if ended is not None:
                            await await_cancelled_chain(ended, self)
                        raise
        cdef ChainProgramOp op = ChainProgramOp.__new__(ChainProgramOp)
        op.loop = self
        op.future = Future(loop=self)
        op.keepalive = keepalive
        op.program = program
        memset(&op.context, 0, sizeof(op.context))
        op.context.program = index
        op.context.max_steps = max_steps
        for i, value in enumerate(args):
            op.context.arg[i] = <uint64_t>value
        op.io.next_sqe = chain_next_sqe
        op.io.owner = <void*>op
        op.issue(aiouring_chain_start(op.program, &op.context, &op.io))
        try:
            value = await op.future
            return ChainResult(value, "loop-side", op.context.steps)
        except BaseException:
            op.abandon()
            raise


class ChainResult(int):
    """A chain program's result: an int that also says where the chain ran
    (path: 'kernel' or 'loop-side') and how many requests it issued (steps)."""

    def __new__(cls, value, path, steps):
        self = int.__new__(cls, value)
        self.path = path
        self.steps = steps
        return self

    def __repr__(self):
        return f"ChainResult({int(self)}, path={self.path!r}, steps={self.steps})"

    __str__ = int.__repr__      # print() and f-strings show the number


def buffer_address(obj):
    """The address of a writable buffer's memory, for chain arguments. The
    caller keeps the buffer pinned (e.g. holds a memoryview of it) while a
    chain may use it."""
    cdef Py_buffer view
    get_writable_buffer(obj, &view)
    address = <uintptr_t>view.buf
    PyBuffer_Release(&view)
    return address

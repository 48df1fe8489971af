# The loop's chain programs: the built-ins and one registered bundle of user
# programs, run in the kernel on the loop's program ring (Linux 7.1+ with the
# io_uring BPF struct_ops) or loop-side, chosen per chain.

from os import environ
from os.path import dirname, join as path_join

CHAIN_PATHS = ("auto", "kernel", "loop-side")

cdef object _program_ring_failure = None   # why no program ring can start here


def bpf_ops_in_kernel_btf():
    """Whether the kernel's BTF has the io_uring BPF struct_ops (Linux 7.1+)."""
    try:
        with open("/sys/kernel/btf/vmlinux", "rb") as f:
            return b"\0io_uring_bpf_ops\0" in f.read()
    except OSError:
        return False


def dispatcher_object_path():
    """The chain dispatcher's BPF object shipped with the package (or the
    one AIOURING_BPF_OBJECT names)."""
    return environ.get("AIOURING_BPF_OBJECT") or path_join(
        dirname(__file__), "bpf", "dispatcher.bpf.o")


cdef class ProgramOperation(Operation):
    pass


cdef class ChainPrograms:

    cdef ProgramRing program_ring(self, bint required):
        """The loop's program ring, started on first use; None (or, when
        required, RuntimeError) where chains cannot run in the kernel."""
        global _program_ring_failure
        cdef int err
        if self.ring is not None:
            err = self.ring.failed()
            if err == 0:
                return self.ring
            self.close()
            self.unavailable = f"the program ring stopped: {strerror(-err).decode()}"
        reason = self.unavailable or _program_ring_failure
        if reason is None and not aiouring_program_ring_supported():
            reason = _program_ring_failure = probe_program_ring("")
        if reason is None and not bpf_ops_in_kernel_btf():
            reason = _program_ring_failure = (
                "the kernel has no io_uring BPF struct_ops (Linux 7.1+)")
        if reason is None:
            try:
                if self.dispatcher_object is not None:
                    return self.start_ring(self.dispatcher_object, self.program_count())
                return self.start_ring(dispatcher_object_path(),
                                       aiouring_builtin_program_count)
            except RuntimeError as exc:
                if self.dispatcher_object is not None:
                    reason = self.unavailable = str(exc)
                else:
                    # The kernel and the build decide this: once per process.
                    reason = _program_ring_failure = str(exc)
        if required:
            raise RuntimeError(f"chain programs cannot run in the kernel here: {reason}")
        return None

    cdef ProgramRing start_ring(self, str object_path, int programs):
        self.ring = ProgramRing.start(object_path, self.loop._ring.fd)
        self.kernel_program_count = programs
        return self.ring

    cdef int program_count(self):
        return aiouring_builtin_program_count + self.user_program_count

    cdef const chain_program* program_at(self, int index):
        if 0 <= index < aiouring_builtin_program_count:
            return &aiouring_builtin_programs[index]
        index -= aiouring_builtin_program_count
        if 0 <= index < self.user_program_count:
            return &self.user_programs[index]
        return NULL

    def register(self, bundle, uintptr_t table, int count, library,
                 str dispatcher=None, load_error=RuntimeError):
        """Adds a bundle's natively built programs (a table of count
        chain_program entries at address table, kept alive by library) after
        the built-ins, and, when dispatcher names its BPF object, loads that
        for this loop's program ring: an idle program ring is stopped first;
        RuntimeError when chains run in it. load_error(libbpf's messages, the
        verifier log among them) is raised when the kernel refuses the
        object; then nothing is registered. One bundle per loop: ValueError
        for a second."""
        self.loop.check_closed()
        if self.user_bundle is not None:
            raise ValueError(f"this loop already registered {self.user_bundle[0]}: "
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
            if self.ring is not None:
                if self.ring.running:
                    raise RuntimeError("chains are running in this loop's program ring: "
                                       "register programs before starting chains")
                self.close()
            try:
                self.start_ring(dispatcher, aiouring_builtin_program_count + count)
            except RuntimeError as exc:
                self.ring = None
                raise load_error(str(exc)) from None
            self.unavailable = None
            self.dispatcher_object = dispatcher
        self.user_programs = programs
        self.user_program_count = count
        self.user_bundle = (bundle, library, names)
        return names

    cdef int close(self) except -1:
        """Stops the program ring's thread; called before the loop's ring closes."""
        if self.ring is not None:
            self.chains_in_stopped_rings += self.ring.chains_in_kernel
            self.steps_in_stopped_rings += self.ring.steps_in_kernel
            self.ring.stop(self.loop._ring)
            self.ring = None
        return 0

    def stats(self):
        """Where chain programs ran: counts for tests and benchmarks."""
        ring = self.ring
        return {
            'loop_side': self.chains_loop_side,
            'loop_side_steps': self.steps_loop_side,
            'kernel': self.chains_in_stopped_rings +
                      (ring.chains_in_kernel if ring is not None else 0),
            'kernel_steps': self.steps_in_stopped_rings +
                            (ring.steps_in_kernel if ring is not None else 0),
            'program_ring': ring.stats() if ring is not None else None,
            'kernel_unavailable': self.unavailable or _program_ring_failure,
        }

    def names(self):
        """The programs, in index order: the built-ins, then the registered ones."""
        return [self.program_at(i).name.decode() for i in range(self.program_count())]

    async def run(self, int index, tuple args, keepalive=None,
                  unsigned max_steps=DEFAULT_MAX_STEPS, path=None):
        """Runs program `index` with up to 6 integer arguments and returns its
        result (a ChainResult; a negative result raises the matching
        OSError). keepalive holds what the arguments point into until the
        chain's last request completed. Cancelling cancels the request in
        flight and issues no more. path: 'kernel', 'loop-side' or None/'auto'
        (the kernel where it can)."""
        self.loop.check_closed()
        cdef const chain_program* program = self.program_at(index)
        if program == NULL:
            raise ValueError(f"no chain program with index {index}")
        if len(args) > CHAIN_MAX_ARGS:
            raise ValueError(f"a chain program takes at most {CHAIN_MAX_ARGS} arguments")
        if path is None:
            path = "auto"
        elif path not in CHAIN_PATHS:
            raise ValueError(f"path must be one of {CHAIN_PATHS}, not {path!r}")
        cdef ProgramRing ring
        cdef KernelProgram kop
        if path != "loop-side":
            ring = self.program_ring(path == "kernel")
            if ring is not None and index >= self.kernel_program_count:
                # A bundle registered without a BPF object: loop-side only.
                if path == "kernel":
                    raise RuntimeError(
                        f"chain program {program.name.decode()!r} cannot run in the "
                        "kernel: its bundle has no BPF object (built --native-only)")
                ring = None
            if ring is not None:
                kop = ring.run(self, index, args, keepalive, max_steps)
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
                            await await_cancelled_chain(ended, self.loop)
                        raise
        cdef LoopSideProgram op = LoopSideProgram.__new__(LoopSideProgram)
        op.owner = self
        op.future = Future(loop=self.loop)
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
            if op.user_data:
                self.loop._ring.cancel(op)
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

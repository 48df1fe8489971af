# The loop's chain programs: the built-ins and one registered bundle of user
# programs, run in the kernel on the loop's program ring (Linux 7.1+ with the
# io_uring BPF struct_ops) or loop-side, chosen per chain. A chain gets the
# coroutine's integers, buffers and files (named by index in its requests),
# optionally a linked chain of steps to start with, and gives back its
# result, its context region and the linked steps' outcomes.

from os import environ
from os.path import dirname, join as path_join

CHAIN_PATHS = ("auto", "kernel", "loop-side")

cdef object _program_ring_failure = None   # why no program ring can start here

_OPCODE_NAMES = {0: "nop", 3: "fsync", 11: "timeout", 13: "accept", 15: "link_timeout",
                 16: "connect", 18: "openat", 19: "close", 21: "statx", 22: "read",
                 23: "write", 26: "send", 27: "recv", 30: "splice", 47: "send_zc"}


class ChainRequestError(ChainProgramError, OSError):
    """A chain program asked for a request outside what its coroutine handed
    over (a buffer index or range it was not given, a read-only buffer to
    write into, a file it was not given, ...), or for more at once than a
    chain may have in flight. The driver refused it before it reached a
    ring, on either path, and ended the chain: ``errno`` is EFAULT (memory),
    EBADF (files), EINVAL or EBUSY; ``request`` describes the request."""

    def __init__(self, err, message, request=None):
        OSError.__init__(self, err, message)
        self.request = request


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

    cdef object context_now(self):
        return b""

    cdef int direct_slot(self, int k) except -1:
        raise NotImplementedError

    cdef int cancel_chain(self) except -1:
        return 0

    cdef object ending(self):
        """A future the chain's end resolves (None if it has ended)."""
        if self.delivered:
            return None
        if self.end_waiter is None:
            self.end_waiter = Future(loop=self.owner.loop)
        return self.end_waiter


cdef object describe_fault(chain_fault* fault, str program, ChainInputs inputs):
    """Why the driver refused a request, in words."""
    cdef chain_request* r = &fault.request
    op = _OPCODE_NAMES.get(r.opcode, f"opcode {r.opcode}")
    code = fault.code
    buffers = inputs.describe

    def buffer_words(index):
        if index == CHAIN_CONTEXT:
            return f"the context region ({CHAIN_CONTEXT_SIZE} bytes)"
        kind, length = buffers[index]
        return f"buffer {index} ({kind}, {length} bytes)"

    def file_words(file):
        if file == 0x200:
            return "the current directory"
        if file & 0x100:
            return f"direct descriptor {file & 0xff}"
        return f"file {file}"

    buf = r.buf

    def range_words(index):
        if index != CHAIN_CONTEXT and index >= len(buffers):
            return f"buffer {index}"
        return buffer_words(index)

    if code == CHAIN_FAULT_BUSY:
        what = (f"more than {CHAIN_MAX_INFLIGHT} requests in flight, or more than "
                f"{CHAIN_MAX_BATCH} queued by one step")
    elif code == CHAIN_FAULT_OPCODE:
        what = f"{op}, which chain programs may not use"
    elif code == CHAIN_FAULT_BUFFER:
        what = (f"{op} names buffer {buf}, but the chain was given "
                f"{len(buffers)} buffer{'s' if len(buffers) != 1 else ''}")
    elif code == CHAIN_FAULT_RANGE and r.opcode == CHAIN_OP_STATX:
        what = (f"{op} into {range_words(r.buf2)} at {r.buf2_offset}: its result takes 256 "
                "bytes of a writable buffer or of the context region")
    elif code == CHAIN_FAULT_RANGE:
        what = f"{op} names bytes {r.buf_offset}..{r.buf_offset + r.len} of {range_words(buf)}"
    elif code == CHAIN_FAULT_ACCESS:
        what = f"{op} writes into {range_words(r.buf2 if r.opcode == CHAIN_OP_STATX else buf)}, which is read-only"
    elif code == CHAIN_FAULT_PATH:
        what = (f"{op} takes a path from {range_words(buf)}, which is not a path "
                "(hand over a str or os.PathLike)")
    elif code == CHAIN_FAULT_FILE:
        what = (f"{op} names {file_words(r.file)}, but the chain was given "
                f"{inputs.nfiles} file{'s' if inputs.nfiles != 1 else ''}")
    elif code == CHAIN_FAULT_DIRECT:
        what = (f"{op} names a direct descriptor it may not use (a chain has "
                f"{CHAIN_MAX_DIRECT}, and close takes only those)")
    elif code == CHAIN_FAULT_LINK:
        what = "link_timeout must follow a request linked to it (chain_link())"
    elif code == CHAIN_FAULT_FLAGS:
        what = f"{op} with flags {r.op_flags:#x}, which it does not take"
    else:
        what = f"{op} (fault {code})"
    request = {"opcode": op, "position": fault.position, "buffer": buf,
               "offset": r.buf_offset, "length": r.len, "file": r.file, "tag": r.tag}
    return f"chain program {program!r} was refused {what}", request


cdef class ChainPrograms:

    def __cinit__(self):
        self.choice = PathChoice.__new__(PathChoice)

    cdef ProgramRing program_ring(self, bint required):
        """The loop's program ring, started on first use; None (or, when
        required, RuntimeError) where chains cannot run in the kernel. Not
        required, a ring that is not running yet is started in the
        background (its verification takes a while) and None is returned
        until it runs: those chains run loop-side meanwhile."""
        global _program_ring_failure
        cdef int err
        if self.ring is not None and self.ring.starting:
            try:
                if not self.ring.ready(required):
                    return None
            except RuntimeError as exc:
                self.ring = None
                if self.dispatcher_object is not None:
                    self.unavailable = str(exc)
                else:
                    _program_ring_failure = str(exc)
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
                    ring = self.start_ring(self.dispatcher_object, self.program_count(), required)
                else:
                    ring = self.start_ring(dispatcher_object_path(),
                                           aiouring_builtin_program_count, required)
                return ring if required else None
            except RuntimeError as exc:
                if self.dispatcher_object is not None:
                    reason = self.unavailable = str(exc)
                else:
                    # The kernel and the build decide this: once per process.
                    reason = _program_ring_failure = str(exc)
        if required:
            raise RuntimeError(f"chain programs cannot run in the kernel here: {reason}")
        return None

    cdef ProgramRing start_ring(self, str object_path, int programs, bint wait=True):
        # Held to the loop ring's policy: a program cannot issue in the
        # kernel what the loop's own ring would refuse.
        cdef RingPolicy policy = self.loop._ring.policy
        if wait:
            self.ring = ProgramRing.start(object_path, self.loop._ring.fd, policy)
        else:
            self.ring = ProgramRing.begin(object_path, self.loop._ring.fd, policy)
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
        self.index_by_name = None
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
        """Where chain programs ran: counts for tests and benchmarks
        (program_ring: None while the ring is not running, or still starting)."""
        if self.ring is not None and self.ring.starting:
            self.program_ring(False)
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
            'choice': self.choice.stats(),
        }

    def names(self):
        """The programs, in index order: the built-ins, then the registered ones."""
        return [self.program_at(i).name.decode() for i in range(self.program_count())]

    def index_of(self, name):
        """The index of the program called name; ValueError if there is none."""
        if self.index_by_name is None:
            self.index_by_name = {n: i for i, n in enumerate(self.names())}
        try:
            return self.index_by_name[name]
        except (KeyError, TypeError):
            raise ValueError(f"no chain program named {name!r}; have {self.names()}") from None

    def start(self, int index, tuple args, buffers=(), files=(), Py_ssize_t context=0,
              unsigned max_steps=DEFAULT_MAX_STEPS, path=None, linked=None):
        """Starts program `index` and returns a RunningChain (await it for the
        ChainResult; a negative result raises the matching OSError, a request
        the driver refused ChainRequestError). args: up to CHAIN_MAX_ARGS
        integers; buffers and files: what the program's requests name by
        index (held until its last request completed); context: bytes of the
        context region the result carries; linked: steps (aiouring.ops) to
        submit first as a linked chain whose every completion goes to the
        program. path: 'kernel', 'loop-side' or None/'auto' (the faster)."""
        cdef const chain_program* program
        cdef ProgramOperation op
        cdef LoopSideProgram local
        cdef ProgramRing ring = None
        cdef ChainInputs inputs
        cdef AttachedSteps steps = None
        cdef bint kernel = False
        cdef int i
        self.loop.check_closed()
        program = self.program_at(index)
        if program == NULL:
            raise ValueError(f"no chain program with index {index}")
        if len(args) > CHAIN_MAX_ARGS:
            raise ValueError(f"a chain program takes at most {CHAIN_MAX_ARGS} arguments")
        for value in args:
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"chain program arguments are integers, not {type(value).__name__}")
            if not -(1 << 63) <= value < (1 << 64):
                raise ValueError(f"chain program argument out of range: {value}")
        args = tuple(value & 0xFFFFFFFFFFFFFFFF for value in args)
        if not 0 <= context <= CHAIN_CONTEXT_SIZE:
            raise ValueError(f"context must be between 0 and {CHAIN_CONTEXT_SIZE} bytes")
        if path is None:
            path = "auto"
        elif path not in CHAIN_PATHS:
            raise ValueError(f"path must be one of {CHAIN_PATHS}, not {path!r}")
        if linked is not None:
            steps = AttachedSteps.create(tuple(linked))
        inputs = _inputs(buffers, files)
        if path != "loop-side":
            ring = self.program_ring(path == "kernel")
            if ring is not None and index >= self.kernel_program_count:
                # A bundle registered without a BPF object: loop-side only.
                if path == "kernel":
                    raise RuntimeError(
                        f"chain program {program.name.decode()!r} cannot run in the "
                        "kernel: its bundle has no BPF object (built --native-only)")
                ring = None
            if ring is not None and path == "auto":
                self.choice.probe(self.loop)
            kernel = ring is not None and (path == "kernel" or self.choice.prefer_kernel(index))
        if kernel:
            op = KernelProgram.__new__(KernelProgram)
            self.prepare(op, index, args, inputs, context, steps)
            try:
                started = ring.run(self, op, max_steps)
            except BaseException:
                inputs.release()
                raise
            if started is not None:
                return RunningChain(op)
            if path == "kernel":
                inputs.release()
                raise RuntimeError(f"all {CHAIN_SLOTS} chain slots are in use")
        local = LoopSideProgram.__new__(LoopSideProgram)
        self.prepare(local, index, args, inputs, context, steps)
        local.program = program
        for i, value in enumerate(args):
            local.chain.arg[i] = <uint64_t>value
        if steps is not None:
            local.chain.linked = <uint32_t>steps.count
        try:
            local.begin(max_steps)
        except BaseException:
            if not local.user_data:
                local.deliver_unstarted()
                raise
            # Something is in flight: end the chain (nobody awaits its
            # result: the exception is the caller's).
            local.future.cancel()
            local.chain.result = -EIO
            local.begin_finish()
            raise
        return RunningChain(local)

    cdef int prepare(self, ProgramOperation op, int index, tuple args, ChainInputs inputs,
                     Py_ssize_t context, AttachedSteps steps) except -1:
        op.owner = self
        op.future = Future(loop=self.loop)
        op.index = index
        op.args = args
        op.inputs = inputs
        op.context_size = context
        op.linked = steps
        return 0

    async def run(self, *args, **kwargs):
        """start(), awaited."""
        return await self.start(*args, **kwargs)

    cdef int ended(self, ProgramOperation op, int64_t result, bint kernel,
                   double kernel_seconds) except -1:
        """A chain ended and nothing of it is in flight: release what it held
        and resolve its future."""
        cdef str where
        op.delivered = True
        if op.linked is not None:
            op.linked_outcome = op.linked.outcomes()
        op.inputs.release()
        if kernel:
            where = "kernel" if (<KernelProgram>op).where == CHAIN_RAN_IN_KERNEL else "loop-side"
        else:
            where = "loop-side"
        self.choice.observe(op, where == "kernel", kernel_seconds)
        if op.end_waiter is not None and not op.end_waiter.done():
            op.end_waiter.set_result(None)
        if op.future.done():
            return 0
        if result < 0:
            if op.fault.code != CHAIN_FAULT_NONE:
                message, request = describe_fault(&op.fault, self.program_at(op.index).name.decode(),
                                                  op.inputs)
                op.future.set_exception(ChainRequestError(<int>-result, message, request))
            else:
                op.future.set_exception(errno_error(<int>-result))
        else:
            op.future.set_result(ChainResult(result, where, op.steps, op.context_bytes,
                                             op.linked_outcome))
        return 0


cdef class RunningChain:
    """A chain program that was started (aiouring.bpf.start()): await it for
    its result; context() reads its context region while it runs."""

    cdef ProgramOperation op

    def __cinit__(self, ProgramOperation op):
        self.op = op

    def context(self):
        """The first `context` bytes of the chain's context region: what the
        program wrote so far (the final bytes once it ended)."""
        if self.op.delivered:
            return self.op.context_bytes
        return self.op.context_now()

    def done(self):
        return self.op.delivered

    def __await__(self):
        return wait_for_chain(self.op).__await__()


async def wait_for_chain(ProgramOperation op):
    try:
        return await op.future
    except CancelledError:
        # The coroutine went away: end the chain, and go on only when none
        # of its requests can still use the buffers it was given.
        if not op.delivered:
            op.cancel_chain()
            ended = op.ending()
            if ended is not None:
                await await_cancelled_chain(ended, op.owner.loop)
        raise


class ChainResult(int):
    """A chain program's result: an int that also says where the chain ran
    (path: 'kernel' or 'loop-side'), how many requests it issued (steps), what
    it left in its context region (context: bytes, as many as asked for) and,
    for a program attached to a linked chain, each step's outcome (linked:
    as aiouring.chain() reports them; None otherwise)."""

    def __new__(cls, value, path, steps, context=b"", linked=None):
        self = int.__new__(cls, value)
        self.path = path
        self.steps = steps
        self.context = context
        self.linked = linked
        return self

    def __repr__(self):
        return f"ChainResult({int(self)}, path={self.path!r}, steps={self.steps})"

    __str__ = int.__repr__      # print() and f-strings show the number


def chain_sockaddr(int family, address):
    """struct sockaddr of address for family, as bytes (for chain_connect)."""
    cdef sockaddr_storage storage
    cdef socklen_t length = sockaddr_from_python(family, address, &storage)
    return PyBytes_FromStringAndSize(<char*>&storage, length)

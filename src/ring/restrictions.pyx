# Ring policies: which opcodes, SQE flags and io_uring_register operations a
# ring may use once enabled (see restrictions.pxd). By default every loop's
# ring is locked to exactly what aiouring issues: the sock_* requests,
# transports, files, linked chains, chain programs (loop-side, on the loop's
# ring) and the loop's own wake-ups and cancellations. The environment
# variable AIOURING_RING_RESTRICTIONS widens or narrows that default for the
# process ("off", or names with + or -: "+SOCKET,-SPLICE,+ASYNC");
# set_ring_policy() replaces it.

from os import environ
from struct import pack as struct_pack

# Kernel names by value: IORING_OP_*, IORING_(UN)REGISTER_*, IOSQE_*.
OPCODE_NAMES = (
    "NOP", "READV", "WRITEV", "FSYNC", "READ_FIXED", "WRITE_FIXED", "POLL_ADD",
    "POLL_REMOVE", "SYNC_FILE_RANGE", "SENDMSG", "RECVMSG", "TIMEOUT",
    "TIMEOUT_REMOVE", "ACCEPT", "ASYNC_CANCEL", "LINK_TIMEOUT", "CONNECT",
    "FALLOCATE", "OPENAT", "CLOSE", "FILES_UPDATE", "STATX", "READ", "WRITE",
    "FADVISE", "MADVISE", "SEND", "RECV", "OPENAT2", "EPOLL_CTL", "SPLICE",
    "PROVIDE_BUFFERS", "REMOVE_BUFFERS", "TEE", "SHUTDOWN", "RENAMEAT",
    "UNLINKAT", "MKDIRAT", "SYMLINKAT", "LINKAT", "MSG_RING", "FSETXATTR",
    "SETXATTR", "FGETXATTR", "GETXATTR", "SOCKET", "URING_CMD", "SEND_ZC",
    "SENDMSG_ZC", "READ_MULTISHOT", "WAITID", "FUTEX_WAIT", "FUTEX_WAKE",
    "FUTEX_WAITV", "FIXED_FD_INSTALL", "FTRUNCATE", "BIND", "LISTEN",
    "RECV_ZC", "EPOLL_WAIT", "READV_FIXED", "WRITEV_FIXED", "PIPE",
)

REGISTER_OP_NAMES = (
    "REGISTER_BUFFERS", "UNREGISTER_BUFFERS", "REGISTER_FILES", "UNREGISTER_FILES",
    "REGISTER_EVENTFD", "UNREGISTER_EVENTFD", "REGISTER_FILES_UPDATE",
    "REGISTER_EVENTFD_ASYNC", "REGISTER_PROBE", "REGISTER_PERSONALITY",
    "UNREGISTER_PERSONALITY", "REGISTER_RESTRICTIONS", "REGISTER_ENABLE_RINGS",
    "REGISTER_FILES2", "REGISTER_FILES_UPDATE2", "REGISTER_BUFFERS2",
    "REGISTER_BUFFERS_UPDATE", "REGISTER_IOWQ_AFF", "UNREGISTER_IOWQ_AFF",
    "REGISTER_IOWQ_MAX_WORKERS", "REGISTER_RING_FDS", "UNREGISTER_RING_FDS",
    "REGISTER_PBUF_RING", "UNREGISTER_PBUF_RING", "REGISTER_SYNC_CANCEL",
    "REGISTER_FILE_ALLOC_RANGE", "REGISTER_PBUF_STATUS", "REGISTER_NAPI",
    "UNREGISTER_NAPI", "REGISTER_CLOCK", "REGISTER_CLONE_BUFFERS",
    "REGISTER_SEND_MSG_RING", "REGISTER_ZCRX_IFQ", "REGISTER_RESIZE_RINGS",
    "REGISTER_MEM_REGION", "REGISTER_QUERY", "REGISTER_ZCRX_CTRL",
    "REGISTER_BPF_FILTER",
)

SQE_FLAG_NAMES = ("FIXED_FILE", "IO_DRAIN", "IO_LINK", "IO_HARDLINK", "ASYNC",
                  "BUFFER_SELECT", "CQE_SKIP_SUCCESS")

# What aiouring issues. Every io_uring_prep_* in src/ and every opcode of the
# chain programs (bpf/programs, aiouring/bpf/chain.h's helpers) is here; a
# new request kind must be added, or its SQEs fail with EACCES (the test of
# each request kind shows it).
LOOP_OPCODES = (
    # sockets and transports
    "RECV", "SEND", "RECVMSG", "SENDMSG", "ACCEPT", "CONNECT", "SHUTDOWN", "POLL_ADD",
    # files, the splice pump and pipes
    "READ", "WRITE", "READV", "WRITEV", "READ_FIXED", "WRITE_FIXED", "OPENAT", "CLOSE",
    "STATX", "FSYNC", "FALLOCATE", "FADVISE", "FTRUNCATE", "UNLINKAT", "RENAMEAT",
    "MKDIRAT", "LINKAT", "SYMLINKAT", "SPLICE", "TEE",
    # linked chains and the ring itself
    "NOP", "TIMEOUT", "LINK_TIMEOUT", "ASYNC_CANCEL",
    # the hand-over to the program ring (chain programs in the kernel), and
    # what chain programs' requests add
    "MSG_RING", "SEND_ZC",
)
LOOP_SQE_FLAGS = ("FIXED_FILE", "IO_LINK", "IO_HARDLINK", "BUFFER_SELECT", "CQE_SKIP_SUCCESS")
# Registrations made after the ring is enabled: the direct descriptor table,
# fixed buffers, the provided buffer ring of stream transports.
LOOP_REGISTER_OPS = ("REGISTER_FILES2", "REGISTER_FILE_ALLOC_RANGE", "REGISTER_BUFFERS2",
                     "REGISTER_BUFFERS_UPDATE", "REGISTER_PBUF_RING")

RESTRICTIONS_VARIABLE = "AIOURING_RING_RESTRICTIONS"

cdef dict OPCODE_BY_NAME = {name: value for value, name in enumerate(OPCODE_NAMES)}
cdef dict REGISTER_OP_BY_NAME = {name: value for value, name in enumerate(REGISTER_OP_NAMES)}
cdef dict SQE_FLAG_BY_NAME = {name: 1 << bit for bit, name in enumerate(SQE_FLAG_NAMES)}
cdef unsigned OP_MSG_RING = OPCODE_BY_NAME["MSG_RING"]
cdef unsigned OP_ASYNC_CANCEL = OPCODE_BY_NAME["ASYNC_CANCEL"]
cdef unsigned REGISTER_PROBE = REGISTER_OP_BY_NAME["REGISTER_PROBE"]


def opcode_name(int op):
    return OPCODE_NAMES[op] if 0 <= op < len(OPCODE_NAMES) else f"OP_{op}"


cdef tuple classify(object item):
    """('opcode'|'flag'|'register', value) for a name (with or without its
    kernel prefix) or an opcode number."""
    cdef str name
    if isinstance(item, int):
        if not 0 <= item < AIOURING_POLICY_OPCODES:
            raise ValueError(f"opcode {item} is out of range")
        return ('opcode', item)
    if not isinstance(item, str):
        raise TypeError(f"an opcode, SQE flag or register operation name was "
                        f"expected, got {item!r}")
    name = item.upper()
    for prefix in ("IORING_OP_", "IOSQE_", "IORING_"):
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    if name in OPCODE_BY_NAME:
        return ('opcode', OPCODE_BY_NAME[name])
    if name in SQE_FLAG_BY_NAME:
        return ('flag', SQE_FLAG_BY_NAME[name])
    if name in REGISTER_OP_BY_NAME:
        return ('register', REGISTER_OP_BY_NAME[name])
    raise ValueError(f"{item!r} is not an io_uring opcode, SQE flag or register "
                     "operation name")


cdef class RingPolicy:
    """What a ring may issue once enabled: ``opcodes`` (IORING_OP_* names or
    numbers), ``sqe_flags`` (IOSQE_* names) and ``register_ops``
    (IORING_REGISTER_* names used after the ring is enabled). ``enabled=False``
    is a ring with no restriction. The default is exactly what aiouring
    issues; ``allow()`` and ``deny()`` return a wider or narrower copy."""

    def __init__(self, opcodes=LOOP_OPCODES, sqe_flags=LOOP_SQE_FLAGS,
                 register_ops=LOOP_REGISTER_OPS, *, enabled=True):
        memset(&self.policy, 0, sizeof(self.policy))
        self.enabled = enabled
        self.filters = {}
        for item in opcodes:
            self.add(item, 'opcode', True)
        for item in sqe_flags:
            self.add(item, 'flag', True)
        for item in register_ops:
            self.add(item, 'register', True)

    cdef int add(self, object item, str expected, bint on) except -1:
        kind, value = classify(item)
        if expected is not None and kind != expected:
            raise ValueError(f"{item!r} is not an io_uring {expected} name")
        if kind == 'opcode':
            aiouring_policy_set(self.policy.opcodes, value, on)
        elif kind == 'flag':
            self.policy.sqe_flags = (self.policy.sqe_flags | value) if on else \
                (self.policy.sqe_flags & ~value)
        else:
            aiouring_policy_set(self.policy.register_ops, value, on)
        return 0

    cdef RingPolicy copy(self):
        cdef RingPolicy copy = RingPolicy.__new__(RingPolicy)
        copy.policy = self.policy
        copy.enabled = self.enabled
        copy.filters = dict(self.filters)
        return copy

    cdef RingPolicy changed(self, tuple items, bint on):
        cdef RingPolicy copy = self.copy()
        for item in items:
            copy.add(item, None, on)
        return copy

    def with_filter(self, opcode, program):
        """A copy that also runs a classic BPF program (a sequence of
        (code, jt, jf, k) instructions over struct io_uring_bpf_ctx) on every
        SQE of opcode before the kernel issues it; the program returns 0 to
        refuse the SQE (EACCES). Needs Linux 7.0's IORING_REGISTER_BPF_FILTER
        (features()["bpf_filters"]); a ring set up elsewhere with such a
        policy raises OSError."""
        kind, value = classify(opcode)
        if kind != 'opcode':
            raise ValueError(f"{opcode!r} is not an io_uring opcode")
        checked = []
        for instruction in program:
            code, jt, jf, k = instruction
            if not (0 <= code < 1 << 16 and 0 <= jt < 256 and 0 <= jf < 256
                    and 0 <= k < 1 << 32):
                raise ValueError(f"{instruction!r} is not a classic BPF instruction")
            checked.append((code, jt, jf, k))
        if not checked:
            raise ValueError("a filter needs at least one instruction")
        copy = self.copy()
        copy.filters[value] = copy.filters.get(value, ()) + (tuple(checked),)
        return copy

    def deny_open_flags(self, int flags):
        """A copy whose ring refuses (EACCES) every OPENAT with any of these
        open flags (e.g. os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC:
        files are only read): a BPF filter, Linux 7.0+."""
        return self.with_filter("OPENAT", open_flags_filter(flags))

    cdef int register_filters(self, int ring_fd) except -1:
        cdef bytes records = self.filter_records()
        cdef unsigned opcode = 0
        cdef int ret = aiouring_register_filter_records(
            ring_fd, PyBytes_AS_STRING(records), PyBytes_GET_SIZE(records), &opcode)
        if ret < 0:
            raise OSError(-ret, f"the kernel refused the io_uring BPF filter on "
                                f"{opcode_name(opcode)} (IORING_REGISTER_BPF_FILTER, "
                                f"Linux 7.0+): {os_strerror(-ret)}")
        return 0

    cdef bytes filter_records(self):
        records = []
        for opcode, programs in self.filters.items():
            for program in programs:
                records.append(struct_pack("=II", opcode, len(program)))
                records.extend(struct_pack("=HBBI", code, jt, jf, k)
                               for code, jt, jf, k in program)
        return b"".join(records)

    def allow(self, *items):
        """A copy that also allows these opcodes, SQE flags or register
        operations (names, e.g. "SOCKET", "IOSQE_ASYNC", "REGISTER_PROBE")."""
        return self.changed(items, True)

    def deny(self, *items):
        """A copy without these opcodes, SQE flags or register operations."""
        return self.changed(items, False)

    @property
    def opcodes(self):
        return tuple(opcode_name(op) for op in range(AIOURING_POLICY_OPCODES)
                     if aiouring_policy_has(self.policy.opcodes, op))

    @property
    def sqe_flags(self):
        return tuple(name for name in SQE_FLAG_NAMES
                     if self.policy.sqe_flags & SQE_FLAG_BY_NAME[name])

    @property
    def register_ops(self):
        return tuple(REGISTER_OP_NAMES[op] if op < len(REGISTER_OP_NAMES) else f"REGISTER_{op}"
                     for op in range(AIOURING_POLICY_REGISTER_OPS)
                     if aiouring_policy_has(self.policy.register_ops, op))

    def allows(self, item):
        """Whether the policy lets a ring issue this opcode, SQE flag or
        register operation."""
        kind, value = classify(item)
        if not self.enabled:
            return True
        if kind == 'opcode':
            return bool(aiouring_policy_has(self.policy.opcodes, value))
        if kind == 'flag':
            return bool(self.policy.sqe_flags & value)
        return bool(aiouring_policy_has(self.policy.register_ops, value))

    def as_dict(self):
        return {"enabled": self.enabled, "opcodes": list(self.opcodes),
                "sqe_flags": list(self.sqe_flags), "register_ops": list(self.register_ops),
                "filters": {opcode_name(op): len(programs)
                            for op, programs in sorted(self.filters.items())}}

    def __repr__(self):
        filters = f", filters={self.as_dict()['filters']!r}" if self.filters else ""
        if not self.enabled:
            return f"RingPolicy(enabled=False{filters})"
        return (f"RingPolicy(opcodes={self.opcodes!r}, sqe_flags={self.sqe_flags!r}, "
                f"register_ops={self.register_ops!r}{filters})")

    def __eq__(self, other):
        if not isinstance(other, RingPolicy):
            return NotImplemented
        return self.as_dict() == other.as_dict() and self.filters == other.filters

    def __hash__(self):
        return hash(repr(self))

    cdef aiouring_ring_policy program_ring_policy(self) noexcept:
        cdef aiouring_ring_policy policy = self.policy
        aiouring_policy_set(policy.opcodes, OP_MSG_RING, 1)
        aiouring_policy_set(policy.opcodes, OP_ASYNC_CANCEL, 1)
        memset(policy.register_ops, 0, sizeof(policy.register_ops))
        # One harmless operation: with none at all, newer kernels leave
        # register operations unrestricted.
        aiouring_policy_set(policy.register_ops, REGISTER_PROBE, 1)
        return policy


# Classic BPF as the filters take it: only 32-bit loads at 4-byte aligned
# offsets of struct io_uring_bpf_ctx (little-endian fields).
BPF_LD_W_ABS = 0x20
BPF_JMP_JSET_K = 0x45
BPF_RET_K = 0x06
OPEN_FLAGS_OFFSET = 16          # io_uring_bpf_ctx.open.flags (low word)


def open_flags_filter(int flags):
    """A filter program refusing an OPENAT with any of flags."""
    if flags <= 0 or flags >= 1 << 32:
        raise ValueError("flags must be a nonzero mask of open flags")
    return ((BPF_LD_W_ABS, 0, 0, OPEN_FLAGS_OFFSET),
            (BPF_JMP_JSET_K, 0, 1, flags),
            (BPF_RET_K, 0, 0, 0),       # a flag is set: refuse
            (BPF_RET_K, 0, 0, 1))


def policy_from_environment(value, RingPolicy base=None):
    """The policy AIOURING_RING_RESTRICTIONS describes: "off" (no
    restriction), "" or "default", or comma-separated names each prefixed
    with + (allow) or - (deny), applied to base (the default set)."""
    cdef RingPolicy policy = RingPolicy() if base is None else base
    text = (value or "").strip()
    if text.lower() in ("off", "0", "no", "none"):
        return RingPolicy(enabled=False)
    if text.lower() in ("", "default", "on", "1", "yes"):
        return policy
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if part[0] not in "+-":
            raise ValueError(f"{RESTRICTIONS_VARIABLE}: {part!r} must start with + "
                             "(allow) or - (deny)")
        policy = policy.allow(part[1:]) if part[0] == "+" else policy.deny(part[1:])
    return policy


cdef RingPolicy process_policy = None


cdef RingPolicy current_ring_policy():
    """The policy new rings get: set_ring_policy()'s, else the default as
    AIOURING_RING_RESTRICTIONS changes it (read once)."""
    global process_policy
    if process_policy is None:
        process_policy = policy_from_environment(environ.get(RESTRICTIONS_VARIABLE))
    return process_policy


def ring_policy():
    """The policy rings created from now on get."""
    return current_ring_policy()


def set_ring_policy(policy):
    """Makes policy (a RingPolicy; None: back to the default and the
    environment) the one rings created from now on get."""
    global process_policy
    if policy is not None and not isinstance(policy, RingPolicy):
        raise TypeError(f"a RingPolicy or None was expected, got {policy!r}")
    process_policy = policy

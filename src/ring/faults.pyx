# Fault injection (see faults.pxd). Which fault is truthful depends on the
# request, so each SQE chosen for a fault gets one drawn from those its
# opcode, flags and file allow:
# - EIO: file I/O, path operations, fsync and friends (a disk error);
# - ECONNRESET: reads and writes on stream sockets (the peer reset);
# - EAGAIN: only where the request asked not to wait (RWF_NOWAIT reads and
#   writes, MSG_DONTWAIT sends and receives);
# - ENOBUFS: only receives that pick a provided buffer (the group ran dry);
# - ECANCELED: any request the kernel may hand to its worker threads (they
#   cancel queued work when a worker cannot be created);
# - short reads and writes: a length cut to 1..len-1 bytes (readv/writev: to
#   fewer vectors) on files, pipes and stream sockets, never on datagrams and
#   never with MSG_WAITALL.
# Requests the loop runs for itself (wake-ups: background operations), the
# ring's own cancellations, timeouts, polls, MSG_RING and CLOSE (a failed
# close still frees the descriptor) are left alone.

from libc.errno cimport ECONNRESET

FAULT_NAMES = ("eio", "econnreset", "eagain", "enobufs", "ecanceled",
               "short_read", "short_write")
FAULTS_VARIABLE = "AIOURING_FAULTS"

cdef int[7] FAULT_ERRNO = [EIO, ECONNRESET, EAGAIN, ENOBUFS, ECANCELED, 0, 0]
cdef uint8_t KEPT_SQE_FLAGS = (IOSQE_IO_LINK | IOSQE_IO_HARDLINK | IOSQE_CQE_SKIP_SUCCESS)

# Opcodes by value (the enum of includes/uring.pxd lacks the newest).
cdef int OP_FTRUNCATE = AIOURING_OP_FTRUNCATE


cdef uint64_t splitmix64(uint64_t x) noexcept:
    x += 0x9E3779B97F4A7C15ULL
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL
    return x ^ (x >> 31)


cdef bint nop_injects_results():
    """Whether this kernel's NOP carries an injected result (Linux 6.10+):
    errors are injected as such NOPs."""
    cdef io_uring ring
    cdef io_uring_params params
    cdef io_uring_sqe* sqe
    cdef io_uring_cqe* cqe = NULL
    cdef int res = 0
    memset(&params, 0, sizeof(params))
    if io_uring_queue_init_params(2, &ring, &params) < 0:
        return False
    sqe = io_uring_get_sqe(&ring)
    io_uring_prep_nop(sqe)
    sqe.rw_flags = AIOURING_NOP_INJECT_RESULT
    sqe.len = <uint32_t>(-EIO)
    if io_uring_submit_and_wait_timeout(&ring, &cqe, 1, NULL, NULL) >= 0 and cqe != NULL:
        res = cqe.res
    io_uring_queue_exit(&ring)
    return res == -EIO


cdef FileKind file_kind(io_uring_sqe* sqe) noexcept:
    cdef fault_file_status status
    cdef int socket_type = 0
    cdef socklen_t length = sizeof(socket_type)
    if sqe.flags & IOSQE_FIXED_FILE:
        return FILE_REGULAR         # direct descriptors: opened files in practice
    if sqe.fd < 0 or fault_fstat(sqe.fd, &status) < 0:
        return FILE_UNKNOWN
    if fault_is_regular(status.st_mode) or fault_is_block_device(status.st_mode):
        return FILE_REGULAR
    if fault_is_fifo(status.st_mode):
        return FILE_PIPE
    if fault_is_socket(status.st_mode):
        if fault_getsockopt(sqe.fd, FAULT_SOL_SOCKET, FAULT_SO_TYPE, &socket_type,
                            &length) == 0 and socket_type == FAULT_SOCK_STREAM:
            return FILE_STREAM_SOCKET
        return FILE_OTHER_SOCKET
    return FILE_UNKNOWN


cdef bint nonblocking(io_uring_sqe* sqe) noexcept:
    """An O_NONBLOCK file: the kernel answers EAGAIN rather than wait."""
    if sqe.flags & IOSQE_FIXED_FILE or sqe.fd < 0:
        return False
    return fault_file_flags(sqe.fd, FAULT_F_GETFL) & FAULT_O_NONBLOCK != 0


cdef class FaultInjector:

    def __init__(self, seed, double rate, kinds=None):
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate is a fraction of the requests, 0 to 1")
        self.seed = int(seed)
        self.rate = rate
        self.state = splitmix64(<uint64_t>(self.seed & 0xFFFFFFFFFFFFFFFF)) | 1
        self.threshold = <uint64_t>(rate * 4294967296.0)
        self.kind_mask = 0
        for name in (FAULT_NAMES if kinds is None else kinds):
            if name not in FAULT_NAMES:
                raise ValueError(f"unknown fault {name!r}; the faults are "
                                 f"{', '.join(FAULT_NAMES)}")
            self.kind_mask |= 1u << FAULT_NAMES.index(name)
        self.errors_supported = nop_injects_results()
        if not self.errors_supported:
            self.kind_mask &= (1u << FAULT_SHORT_READ) | (1u << FAULT_SHORT_WRITE)
        memset(self.injected_by_kind, 0, sizeof(self.injected_by_kind))
        self.recent = []

    @property
    def kinds(self):
        """The faults it injects (errors need Linux 6.10's NOP results)."""
        return tuple(name for i, name in enumerate(FAULT_NAMES) if self.kind_mask & (1u << i))

    @property
    def counts(self):
        """How many of each fault it injected."""
        cdef int i
        return {FAULT_NAMES[i]: self.injected_by_kind[i] for i in range(7)}

    @property
    def injected(self):
        """How many faults it injected in all."""
        cdef int i
        cdef uint64_t total = 0
        for i in range(7):
            total += self.injected_by_kind[i]
        return total

    def __repr__(self):
        latest = self.recent[max(len(self.recent) - 8, 0):]
        return (f"FaultInjector(seed={self.seed}, rate={self.rate}, "
                f"kinds={self.kinds}, injected={self.counts}, latest={latest})")

    cdef uint64_t draw(self) noexcept:
        """32 random bits (xorshift64*)."""
        self.state ^= self.state >> 12
        self.state ^= self.state << 25
        self.state ^= self.state >> 27
        return (self.state * 0x2545F4914F6CDD1DULL) >> 32

    cdef int scan(self, Ring ring) except -1:
        """Rewrites the chosen SQEs among those queued since the last
        submission; called by the ring right before it submits."""
        cdef unsigned head = aiouring_sq_unflushed_head(&ring.ring)
        cdef unsigned tail = aiouring_sq_unflushed_tail(&ring.ring)
        cdef unsigned candidates, pick, i, n
        cdef bint linked
        cdef io_uring_sqe* sqe
        cdef Operation op
        if tail - self.scanned_to < tail - head:
            head = self.scanned_to      # part of it was scanned already
        self.scanned_to = tail
        while head != tail:
            sqe = aiouring_sq_entry(&ring.ring, head)
            head += 1
            self.examined += 1
            linked = self.previous_linked or sqe.flags & (IOSQE_IO_LINK | IOSQE_IO_HARDLINK)
            self.previous_linked = sqe.flags & (IOSQE_IO_LINK | IOSQE_IO_HARDLINK)
            if self.draw() >= self.threshold or sqe.user_data == 0:
                continue
            op = ring.slots[sqe.user_data & SLOT_MASK]
            if op is None or op.background:
                continue
            candidates = self.applicable(sqe, linked) & self.kind_mask
            if candidates == 0:
                continue
            n = 0
            for i in range(7):
                n += (candidates >> i) & 1
            pick = <unsigned>(self.draw() % n)
            for i in range(7):
                if candidates & (1u << i):
                    if pick == 0:
                        self.record(sqe, <FaultKind>i, op)
                        self.inject(sqe, <FaultKind>i)
                        break
                    pick -= 1
        return 0

    cdef void record(self, io_uring_sqe* sqe, FaultKind kind, Operation op):
        """Keeps the latest faults, for the message of a test that fails."""
        if len(self.recent) >= 64:
            del self.recent[0]
        self.recent.append((opcode_name(sqe.opcode), FAULT_NAMES[<int>kind], type(op).__name__))

    cdef unsigned applicable(self, io_uring_sqe* sqe, bint linked) noexcept:
        """The faults this request could truthfully meet. A request in a
        linked chain is never shortened: the kernel, asked for fewer bytes,
        would count the request a success where a real short transfer fails
        the link."""
        cdef int op = sqe.opcode
        cdef unsigned kinds = 1u << FAULT_ECANCELED
        cdef FileKind kind
        cdef bint stream, socket_op
        if op in (IORING_OP_NOP, IORING_OP_TIMEOUT, IORING_OP_LINK_TIMEOUT,
                  IORING_OP_ASYNC_CANCEL, IORING_OP_POLL_ADD, IORING_OP_POLL_REMOVE,
                  IORING_OP_CLOSE) or op == 40:       # 40: MSG_RING
            return 0
        if op in (IORING_OP_READ, IORING_OP_READ_FIXED, IORING_OP_READV,
                  IORING_OP_WRITE, IORING_OP_WRITE_FIXED, IORING_OP_WRITEV):
            kind = file_kind(sqe)
            if kind == FILE_REGULAR:
                kinds |= 1u << FAULT_EIO
            elif kind == FILE_STREAM_SOCKET:
                kinds |= 1u << FAULT_ECONNRESET
            if sqe.rw_flags & RWF_NOWAIT_VALUE or (kind == FILE_PIPE and nonblocking(sqe)):
                kinds |= 1u << FAULT_EAGAIN
            if sqe.len > 1 and not linked and kind in (FILE_REGULAR, FILE_PIPE,
                                                       FILE_STREAM_SOCKET):
                if op in (IORING_OP_READ, IORING_OP_READ_FIXED, IORING_OP_READV):
                    kinds |= 1u << FAULT_SHORT_READ
                else:
                    kinds |= 1u << FAULT_SHORT_WRITE
            return kinds
        socket_op = op in (IORING_OP_RECV, IORING_OP_SEND, IORING_OP_RECVMSG,
                           IORING_OP_SENDMSG, IORING_OP_SEND_ZC)
        if socket_op:
            stream = file_kind(sqe) == FILE_STREAM_SOCKET
            if stream:
                kinds |= 1u << FAULT_ECONNRESET
            if sqe.msg_flags & MSG_DONTWAIT:
                kinds |= 1u << FAULT_EAGAIN
            if sqe.flags & IOSQE_BUFFER_SELECT:
                kinds |= 1u << FAULT_ENOBUFS
            elif (stream and sqe.len > 1 and not linked and not (sqe.msg_flags & MSG_WAITALL)
                    and op in (IORING_OP_RECV, IORING_OP_SEND)):
                kinds |= 1u << (FAULT_SHORT_READ if op == IORING_OP_RECV else FAULT_SHORT_WRITE)
            return kinds
        if op in (IORING_OP_SPLICE, IORING_OP_TEE):
            kinds |= 1u << FAULT_EIO
            if sqe.len > 1 and not linked:
                kinds |= 1u << FAULT_SHORT_READ
            return kinds
        if op in (IORING_OP_OPENAT, IORING_OP_STATX, IORING_OP_FSYNC, IORING_OP_FALLOCATE,
                  IORING_OP_UNLINKAT, IORING_OP_RENAMEAT, IORING_OP_MKDIRAT,
                  IORING_OP_LINKAT, IORING_OP_SYMLINKAT) or op == OP_FTRUNCATE:
            kinds |= 1u << FAULT_EIO
        return kinds        # ACCEPT, CONNECT, SHUTDOWN, FADVISE, ...: ECANCELED

    cdef void inject(self, io_uring_sqe* sqe, FaultKind kind) noexcept:
        cdef uint64_t user_data = sqe.user_data
        cdef uint8_t flags = sqe.flags & KEPT_SQE_FLAGS
        self.injected_by_kind[<int>kind] += 1
        if kind == FAULT_SHORT_READ or kind == FAULT_SHORT_WRITE:
            sqe.len = 1 + <uint32_t>(self.draw() % (sqe.len - 1))
            return
        # Failed before it ran: a NOP whose CQE carries the error, keeping
        # the request's place in its linked chain.
        memset(sqe, 0, sizeof(io_uring_sqe))
        io_uring_prep_nop(sqe)
        sqe.rw_flags = AIOURING_NOP_INJECT_RESULT
        sqe.len = <uint32_t>(-FAULT_ERRNO[<int>kind])
        sqe.flags = flags
        sqe.user_data = user_data


def faults_from_environment(value):
    """The FaultInjector AIOURING_FAULTS describes ("seed=1,rate=0.05" and
    optionally "kinds=eio+short_read"), or None when it is unset or empty."""
    if not value or not value.strip():
        return None
    settings = {}
    for part in value.split(","):
        key, sep, text = part.strip().partition("=")
        if not sep or key not in ("seed", "rate", "kinds"):
            raise ValueError(f"{FAULTS_VARIABLE}: expected seed=N,rate=F[,kinds=a+b], "
                             f"got {value!r}")
        settings[key] = text.strip()
    kinds = settings["kinds"].split("+") if "kinds" in settings else None
    return FaultInjector(int(settings.get("seed", "0")), float(settings.get("rate", "0.05")),
                         kinds)

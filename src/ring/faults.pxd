# Fault injection (tests only; off unless asked for): a FaultInjector
# attached to a Ring rewrites a seeded random fraction of the SQEs queued
# since the last submission, before the kernel sees them, into what the
# kernel could truthfully have answered: the request failed before it ran
# (EIO, ECONNRESET, EAGAIN, ENOBUFS, ECANCELED: a NOP carrying that result,
# so no data the kernel would have moved is lost), or a read or write moved
# fewer bytes (a shorter length: what arrives is real, the rest stays for
# the next request). Off, it costs the ring one pointer test per submission.

from posix.types cimport mode_t

cdef extern from "ring/faults.h" nogil:
    unsigned AIOURING_NOP_INJECT_RESULT
    unsigned aiouring_sq_unflushed_head(const io_uring* ring)
    unsigned aiouring_sq_unflushed_tail(const io_uring* ring)
    io_uring_sqe* aiouring_sq_entry(io_uring* ring, unsigned index)

# Under names of their own: other parts of the module import stat's and
# socket's Python namesakes.
cdef extern from "<sys/stat.h>" nogil:
    ctypedef struct fault_file_status "struct stat":
        mode_t st_mode
    int fault_fstat "fstat"(int fd, fault_file_status* status)
    bint fault_is_regular "S_ISREG"(mode_t mode)
    bint fault_is_block_device "S_ISBLK"(mode_t mode)
    bint fault_is_fifo "S_ISFIFO"(mode_t mode)
    bint fault_is_socket "S_ISSOCK"(mode_t mode)

cdef extern from "<fcntl.h>" nogil:
    int fault_file_flags "fcntl"(int fd, int command)
    int FAULT_F_GETFL "F_GETFL"
    int FAULT_O_NONBLOCK "O_NONBLOCK"

cdef extern from "<sys/socket.h>" nogil:
    int fault_getsockopt "getsockopt"(int fd, int level, int name, void* value,
                                      socklen_t* length)
    int FAULT_SOL_SOCKET "SOL_SOCKET"
    int FAULT_SO_TYPE "SO_TYPE"
    int FAULT_SOCK_STREAM "SOCK_STREAM"


cdef enum FaultKind:
    FAULT_EIO
    FAULT_ECONNRESET
    FAULT_EAGAIN
    FAULT_ENOBUFS
    FAULT_ECANCELED
    FAULT_SHORT_READ
    FAULT_SHORT_WRITE
    FAULT_KINDS


cdef enum FileKind:
    FILE_UNKNOWN
    FILE_REGULAR        # a regular file or block device (or a direct descriptor)
    FILE_STREAM_SOCKET
    FILE_PIPE
    FILE_OTHER_SOCKET


cdef class FaultInjector:
    """Rewrites a seeded random fraction of a ring's SQEs into faults."""
    cdef uint64_t state                 # xorshift64* state
    cdef uint64_t threshold             # a draw below it is a fault
    cdef unsigned kind_mask             # 1 << FaultKind for each kind asked for
    cdef bint errors_supported          # the kernel's NOP injects results
    cdef unsigned scanned_to            # the SQ index scanned up to
    cdef bint previous_linked           # the SQE before it links to the next
    cdef uint64_t injected_by_kind[7]   # FAULT_KINDS
    cdef readonly object seed
    cdef readonly double rate
    cdef readonly unsigned long long examined
    cdef readonly list recent           # (opcode, fault, operation type) of the latest

    cdef void record(self, io_uring_sqe* sqe, FaultKind kind, Operation op)

    cdef uint64_t draw(self) noexcept
    cdef int scan(self, Ring ring) except -1
    cdef unsigned applicable(self, io_uring_sqe* sqe, bint linked) noexcept
    cdef void inject(self, io_uring_sqe* sqe, FaultKind kind) noexcept

# Steps of linked chains: one immutable class per request kind, each writing
# its SQE with liburing's io_uring_prep_* for its opcode. The builders at the
# end (op_read, op_write, ...) are aiouring.ops' functions: they validate
# their arguments, so a step that exists can be submitted; what can only be
# checked against a chain (an fd naming an earlier direct open, a buffer's
# export) is checked when the chain is built, before any SQE is written.

from os import fsencode, O_CLOEXEC as OS_O_CLOEXEC
from socket import (MSG_WAITALL as PY_MSG_WAITALL, MSG_NOSIGNAL as PY_MSG_NOSIGNAL,
                    SOCK_CLOEXEC as PY_SOCK_CLOEXEC)

cdef enum:
    TIMEOUT_ETIME_SUCCESS = 1 << 5      # an expired TIMEOUT does not break the link
    SPLICE_F_FD_IN_FIXED_VALUE = 1 << 31

# The longest wait a timespec carries here; longer waits never end in
# practice, so they are cut to this (about 34,000 years).
cdef double MAX_TIMEOUT_SECONDS = <double>(1 << 40)


cdef void release_state(StepState* st) noexcept:
    cdef Py_ssize_t i
    if st.has_view:
        PyBuffer_Release(&st.view)
        st.has_view = False
    Py_XDECREF(st.owned)
    st.owned = NULL
    for i in range(st.nviews):
        PyBuffer_Release(&st.views[i])
    st.nviews = 0
    PyMem_Free(st.views)
    PyMem_Free(st.iovecs)
    st.views = NULL
    st.iovecs = NULL


cdef int set_timespec(__kernel_timespec* ts, double seconds) except -1:
    seconds = min(seconds, MAX_TIMEOUT_SECONDS)
    ts.tv_sec = <long long>seconds
    ts.tv_nsec = <long long>((seconds - ts.tv_sec) * 1e9)
    return 0


cdef double checked_seconds(object seconds, str what) except -1:
    cdef double value
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a number of seconds, not {type(seconds).__name__}")
    if value != value:
        raise ValueError(f"{what} must be a number, not NaN")
    if value < 0:
        raise ValueError(f"{what} must not be negative")
    return value


cdef object checked_fd(object fd):
    """An fd argument: an int, a direct-open step, or an object with fileno()."""
    if isinstance(fd, Step):
        if not (<Step>fd).opens_direct:
            raise ValueError(f"{fd!r} does not open a direct descriptor: "
                             "only openat(..., direct=True) steps stand for files")
        return fd
    if isinstance(fd, bool):
        raise TypeError("a descriptor is required, not bool")
    if isinstance(fd, int):
        if not -0x80000000 <= fd <= 0x7FFFFFFF:
            raise ValueError(f"file descriptor out of range: {fd}")
        return fd
    if hasattr(fd, "fileno"):
        return checked_fd(fd.fileno())
    raise TypeError(f"a descriptor, a file, a socket or a direct open step is required, "
                    f"not {type(fd).__name__}")


cdef int checked_int(object value, long long low, long long high, str what) except? -1:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{what} out of range: {value}")
    return 0


cdef bytes checked_path(object path):
    if isinstance(path, int):
        raise TypeError("a path is required here, not a file descriptor")
    result = fsencode(path)
    if b"\0" in result:
        raise ValueError("embedded null byte")
    return result


cdef int resolve(object fd, LinkedChain chain, Py_ssize_t index,
                 int* out, bint* fixed) except -1:
    if fd is None:
        out[0] = -1
        fixed[0] = False
    elif isinstance(fd, Step):
        out[0] = chain.slot_opened_by(<Step>fd, index)
        fixed[0] = True
    else:
        out[0] = <int>fd
        fixed[0] = False
    return 0


cdef int export_buffer(object buffer, StepState* st, bint writable,
                       unsigned nbytes) except -1:
    """Holds an export of buffer for the submission; the transfer is its
    first nbytes (0: all of it), at most MAX_RW_COUNT."""
    if writable:
        get_writable_buffer(buffer, &st.view)
    else:
        get_readable_buffer(buffer, &st.view)
    st.has_view = True
    if nbytes == 0 or nbytes > st.view.len:
        if st.view.len > MAX_RW_COUNT:
            raise ValueError(f"a step moves at most {MAX_RW_COUNT} bytes; "
                             f"this buffer has {st.view.len}")
        st.length = <unsigned>st.view.len
    else:
        st.length = nbytes
    st.expected = st.length
    return 0


cdef int new_owned_buffer(StepState* st, unsigned nbytes) except -1:
    data = PyBytes_FromStringAndSize(NULL, nbytes)
    Py_INCREF(data)
    st.owned = <PyObject*>data
    st.length = nbytes
    st.expected = nbytes
    return 0


cdef inline void* data_of(StepState* st) noexcept:
    if st.owned != NULL:
        return PyBytes_AS_STRING(<object>st.owned)
    return st.view.buf


cdef inline void use_fixed_file(io_uring_sqe* sqe, StepState* st) noexcept:
    if st.fixed:
        sqe.flags |= IOSQE_FIXED_FILE


cdef class Step:

    def __init__(self, *args, **kwargs):
        raise TypeError("steps are made by the functions of aiouring.ops")

    cdef int acquire(self, StepState* st, LinkedChain chain, Py_ssize_t index) except -1:
        return resolve(self.fd, chain, index, &st.fd, &st.fixed)

    cdef void prep(self, io_uring_sqe* sqe, StepState* st) noexcept:
        io_uring_prep_nop(sqe)

    cdef object result(self, int32_t res, StepState* st):
        if self.result_kind == RESULT_BYTES:
            return PyBytes_FromStringAndSize(<char*>data_of(st), res)
        if self.result_kind == RESULT_STAT:
            return stat_result_from_statx(&st.statx_buffer)
        if self.result_kind == RESULT_NONE:
            return None
        return res

    cdef object implied_result(self, StepState* st):
        """The result of a step whose CQE was skipped because it succeeded."""
        if self.result_kind == RESULT_NONE:
            return None
        return self.result(<int32_t>st.expected, st)

    cdef bint failed(self, int32_t res, StepState* st) noexcept:
        """Whether the kernel counts res as a failure (and breaks the link):
        an error, or a short transfer for reads, writes, splices."""
        if res < 0:
            return True
        return self.short_fails and <uint64_t>res != st.expected

    cdef int closes_direct(self) noexcept:
        return 0

    def __repr__(self):
        return f"<Step {self.name}>"

    def __reduce__(self):
        raise TypeError("steps cannot be pickled")


cdef Step init_step(Step step, str name, object fd, bint hardlink, bint implied,
                    bint short_fails, ResultKind kind):
    step.name = name
    step.fd = None if fd is None else checked_fd(fd)
    step.hardlink = hardlink
    step.implied = implied
    step.short_fails = short_fails
    step.result_kind = kind
    return step


# -- one class per request kind ----------------------------------------------------

cdef class NopStep(Step):
    pass


cdef class OpenAtStep(Step):
    cdef bytes path
    cdef int flags
    cdef unsigned mode

    cdef int acquire(self, StepState* st, LinkedChain chain, Py_ssize_t index) except -1:
        Step.acquire(self, st, chain, index)
        if self.opens_direct:
            st.slot = chain.new_direct_slot()
        return 0

    cdef void prep(self, io_uring_sqe* sqe, StepState* st) noexcept:
        if self.opens_direct:
            io_uring_prep_openat_direct(sqe, st.fd, PyBytes_AS_STRING(self.path),
                                        self.flags, self.mode, <unsigned>st.slot)
        else:
            io_uring_prep_openat(sqe, st.fd, PyBytes_AS_STRING(self.path),
                                 self.flags, self.mode)


cdef class ReadStep(Step):
    cdef object buffer              # the caller's writable buffer, or None
    cdef unsigned nbytes            # when no buffer: bytes to read into new bytes
    cdef uint64_t offset
    cdef int rw_flags

    cdef int acquire(self, StepState* st, LinkedChain chain, Py_ssize_t index) except -1:
        Step.acquire(self, st, chain, index)
        if self.buffer is None:
            new_owned_buffer(st, self.nbytes)
        else:
            export_buffer(self.buffer, st, True, 0)
            if isinstance(self.buffer, AlignedBuffer):
                st.buf_index = (<AlignedBuffer>self.buffer).ensure_registered(chain.loop._ring)
        return 0

    cdef void prep(self, io_uring_sqe* sqe, StepState* st) noexcept:
        if st.buf_index >= 0:
            io_uring_prep_read_fixed(sqe, st.fd, data_of(st), st.length, self.offset,
                                     st.buf_index)
        else:
            io_uring_prep_read(sqe, st.fd, data_of(st), st.length, self.offset)
        sqe.rw_flags = self.rw_flags
        use_fixed_file(sqe, st)


cdef class WriteStep(Step):
    cdef object buffer
    cdef unsigned nbytes            # 0: all of buffer
    cdef uint64_t offset

    cdef int acquire(self, StepState* st, LinkedChain chain, Py_ssize_t index) except -1:
        Step.acquire(self, st, chain, index)
        export_buffer(self.buffer, st, False, self.nbytes)
        if isinstance(self.buffer, AlignedBuffer):
            st.buf_index = (<AlignedBuffer>self.buffer).ensure_registered(chain.loop._ring)
        return 0

    cdef void prep(self, io_uring_sqe* sqe, StepState* st) noexcept:
        if st.buf_index >= 0:
            io_uring_prep_write_fixed(sqe, st.fd, st.view.buf, st.length, self.offset,
                                      st.buf_index)
        else:
            io_uring_prep_write(sqe, st.fd, st.view.buf, st.length, self.offset)
        use_fixed_file(sqe, st)


cdef class VectorStep(Step):
    """readv/writev: a tuple of buffers, exported together."""
    cdef tuple buffers
    cdef uint64_t offset
    cdef bint writing

    cdef int acquire(self, StepState* st, LinkedChain chain, Py_ssize_t index) except -1:
        cdef Py_ssize_t i, n = len(self.buffers)
        cdef uint64_t total = 0
        Step.acquire(self, st, chain, index)
        st.views = <Py_buffer*>PyMem_Malloc(max(n, 1) * sizeof(Py_buffer))
        st.iovecs = <iovec*>PyMem_Malloc(max(n, 1) * sizeof(iovec))
        if st.views == NULL or st.iovecs == NULL:
            raise MemoryError()
        for i in range(n):
            if self.writing:
                get_readable_buffer(self.buffers[i], &st.views[i])
            else:
                get_writable_buffer(self.buffers[i], &st.views[i])
            st.nviews += 1
            st.iovecs[i].iov_base = st.views[i].buf
            st.iovecs[i].iov_len = st.views[i].len
            total += st.views[i].len
        if total > MAX_RW_COUNT:
            raise ValueError(f"a step moves at most {MAX_RW_COUNT} bytes; "
                             f"these buffers have {total}")
        st.length = <unsigned>n
        st.expected = total
        return 0

    cdef void prep(self, io_uring_sqe* sqe, StepState* st) noexcept:
        if self.writing:
            io_uring_prep_writev(sqe, st.fd, st.iovecs, st.length, self.offset)
        else:
            io_uring_prep_readv(sqe, st.fd, st.iovecs, st.length, self.offset)
        use_fixed_file(sqe, st)


cdef class RecvStep(Step):
    cdef object buffer
    cdef unsigned nbytes
    cdef int msg_flags

    cdef int acquire(self, StepState* st, LinkedChain chain, Py_ssize_t index) except -1:
        Step.acquire(self, st, chain, index)
        if self.buffer is None:
            new_owned_buffer(st, self.nbytes)
        else:
            export_buffer(self.buffer, st, True, 0)
        return 0

    cdef void prep(self, io_uring_sqe* sqe, StepState* st) noexcept:
        io_uring_prep_recv(sqe, st.fd, data_of(st), st.length, self.msg_flags)
        use_fixed_file(sqe, st)


cdef class SendStep(Step):
    cdef object buffer
    cdef int msg_flags

    cdef int acquire(self, StepState* st, LinkedChain chain, Py_ssize_t index) except -1:
        Step.acquire(self, st, chain, index)
        export_buffer(self.buffer, st, False, 0)
        return 0

    cdef void prep(self, io_uring_sqe* sqe, StepState* st) noexcept:
        io_uring_prep_send(sqe, st.fd, st.view.buf, st.length, self.msg_flags)
        use_fixed_file(sqe, st)


cdef class SpliceStep(Step):
    """splice (and tee): from fd_in to fd."""
    cdef object fd_in
    cdef int64_t offset_in
    cdef int64_t offset_out
    cdef unsigned nbytes
    cdef unsigned splice_flags
    cdef bint tee

    cdef int acquire(self, StepState* st, LinkedChain chain, Py_ssize_t index) except -1:
        Step.acquire(self, st, chain, index)
        resolve(self.fd_in, chain, index, &st.fd_in, &st.fixed_in)
        st.length = self.nbytes
        st.expected = self.nbytes
        return 0

    cdef void prep(self, io_uring_sqe* sqe, StepState* st) noexcept:
        cdef unsigned flags = self.splice_flags
        if st.fixed_in:
            flags |= SPLICE_F_FD_IN_FIXED_VALUE
        if self.tee:
            io_uring_prep_tee(sqe, st.fd_in, st.fd, st.length, flags)
        else:
            io_uring_prep_splice(sqe, st.fd_in, self.offset_in, st.fd, self.offset_out,
                                 st.length, flags)
        use_fixed_file(sqe, st)


cdef class StatxStep(Step):
    cdef bytes path
    cdef int flags
    cdef unsigned mask

    cdef void prep(self, io_uring_sqe* sqe, StepState* st) noexcept:
        io_uring_prep_statx(sqe, st.fd, PyBytes_AS_STRING(self.path), self.flags,
                            self.mask, &st.statx_buffer)


cdef class FsyncStep(Step):
    cdef unsigned fsync_flags

    cdef void prep(self, io_uring_sqe* sqe, StepState* st) noexcept:
        io_uring_prep_fsync(sqe, st.fd, self.fsync_flags)
        use_fixed_file(sqe, st)


cdef class FallocateStep(Step):
    cdef int mode
    cdef uint64_t offset
    cdef uint64_t length

    cdef void prep(self, io_uring_sqe* sqe, StepState* st) noexcept:
        io_uring_prep_fallocate(sqe, st.fd, self.mode, self.offset, self.length)
        use_fixed_file(sqe, st)


cdef class FadviseStep(Step):
    cdef uint64_t offset
    cdef unsigned length
    cdef int advice

    cdef void prep(self, io_uring_sqe* sqe, StepState* st) noexcept:
        io_uring_prep_fadvise(sqe, st.fd, self.offset, self.length, self.advice)
        use_fixed_file(sqe, st)


cdef class CloseStep(Step):

    cdef void prep(self, io_uring_sqe* sqe, StepState* st) noexcept:
        if st.fixed:
            io_uring_prep_close_direct(sqe, <unsigned>st.fd)
        else:
            io_uring_prep_close(sqe, st.fd)

    cdef int closes_direct(self) noexcept:
        return isinstance(self.fd, Step)


cdef class PathStep(Step):
    """unlinkat, mkdirat, renameat, linkat, symlinkat: fd is the directory
    the first path is relative to."""
    cdef int opcode
    cdef bytes path
    cdef bytes path2
    cdef int dir_fd2
    cdef int flags
    cdef unsigned mode

    cdef void prep(self, io_uring_sqe* sqe, StepState* st) noexcept:
        cdef const char* path = PyBytes_AS_STRING(self.path)
        if self.opcode == IORING_OP_UNLINKAT:
            io_uring_prep_unlinkat(sqe, st.fd, path, self.flags)
        elif self.opcode == IORING_OP_MKDIRAT:
            io_uring_prep_mkdirat(sqe, st.fd, path, self.mode)
        elif self.opcode == IORING_OP_RENAMEAT:
            io_uring_prep_renameat(sqe, st.fd, path, self.dir_fd2,
                                   PyBytes_AS_STRING(self.path2), <unsigned>self.flags)
        elif self.opcode == IORING_OP_LINKAT:
            io_uring_prep_linkat(sqe, st.fd, path, self.dir_fd2,
                                 PyBytes_AS_STRING(self.path2), self.flags)
        else:
            io_uring_prep_symlinkat(sqe, path, st.fd, PyBytes_AS_STRING(self.path2))


cdef class TimeoutStep(Step):
    cdef double seconds

    cdef int acquire(self, StepState* st, LinkedChain chain, Py_ssize_t index) except -1:
        st.fd = -1
        return set_timespec(&st.ts, self.seconds)

    cdef void prep(self, io_uring_sqe* sqe, StepState* st) noexcept:
        if self.is_link_timeout:
            io_uring_prep_link_timeout(sqe, &st.ts, 0)
        else:
            io_uring_prep_timeout(sqe, &st.ts, 0, TIMEOUT_ETIME_SUCCESS)

    cdef bint failed(self, int32_t res, StepState* st) noexcept:
        return res < 0 and res != -ETIME


cdef class AcceptStep(Step):
    cdef int accept_flags

    cdef int acquire(self, StepState* st, LinkedChain chain, Py_ssize_t index) except -1:
        Step.acquire(self, st, chain, index)
        st.address_length = sizeof(st.address)
        return 0

    cdef void prep(self, io_uring_sqe* sqe, StepState* st) noexcept:
        io_uring_prep_accept(sqe, st.fd, <sockaddr*>&st.address, &st.address_length,
                             self.accept_flags)
        use_fixed_file(sqe, st)


cdef class ConnectStep(Step):
    cdef bytes sockaddr             # struct sockaddr, converted when built

    cdef int acquire(self, StepState* st, LinkedChain chain, Py_ssize_t index) except -1:
        Step.acquire(self, st, chain, index)
        memcpy(&st.address, PyBytes_AS_STRING(self.sockaddr), len(self.sockaddr))
        st.address_length = <socklen_t>len(self.sockaddr)
        return 0

    cdef void prep(self, io_uring_sqe* sqe, StepState* st) noexcept:
        io_uring_prep_connect(sqe, st.fd, <sockaddr*>&st.address, st.address_length)
        use_fixed_file(sqe, st)


cdef class ShutdownStep(Step):
    cdef int how

    cdef void prep(self, io_uring_sqe* sqe, StepState* st) noexcept:
        io_uring_prep_shutdown(sqe, st.fd, self.how)
        use_fixed_file(sqe, st)


# -- the builders (aiouring.ops re-exports them under their plain names) ------------

cdef object size_or_buffer(object nbytes, unsigned* size):
    """A read's target: a size (then the result is the bytes read) or a
    writable buffer (then it is the count)."""
    if isinstance(nbytes, int) and not isinstance(nbytes, bool):
        if nbytes < 0:
            raise ValueError("negative size")
        if nbytes > MAX_RW_COUNT:
            raise ValueError(f"a step reads at most {MAX_RW_COUNT} bytes, not {nbytes}")
        size[0] = <unsigned>nbytes
        return None
    memoryview(nbytes)              # TypeError now for what is not a buffer
    return nbytes


cdef uint64_t checked_offset(object offset) except? 0:
    checked_int(offset, -1, 0x7FFFFFFFFFFFFFFF, "offset")
    return <uint64_t><int64_t>offset


def op_nop(*, hardlink=False):
    """A request that does nothing (IORING_OP_NOP)."""
    return init_step(NopStep.__new__(NopStep), "nop", None, hardlink, True, False, RESULT_RES)


def op_openat(path, flags=0, mode=0o666, *, dir_fd=AT_FDCWD_VALUE, direct=False,
              hardlink=False):
    """openat(2). With direct=True the file goes into a direct descriptor
    that later steps use by naming this step; the chain closes it if no
    close() step of the chain does. Its result is the new fd (None when
    direct)."""
    cdef OpenAtStep step = OpenAtStep.__new__(OpenAtStep)
    checked_int(flags, -0x80000000, 0x7FFFFFFF, "flags")
    checked_int(mode, 0, 0o7777, "mode")
    checked_int(dir_fd, AT_FDCWD_VALUE, 0x7FFFFFFF, "dir_fd")
    init_step(step, "openat", dir_fd, hardlink, bool(direct), False,
              RESULT_NONE if direct else RESULT_RES)
    step.path = checked_path(path)
    step.opens_direct = bool(direct)
    # The kernel refuses O_CLOEXEC for a direct descriptor (it has no fd).
    step.flags = flags if direct else flags | OS_O_CLOEXEC
    step.mode = mode
    return step


def op_read(fd, nbytes, offset=-1, flags=0, *, hardlink=False):
    """preadv2(2) (offset -1: the file position; flags: RWF_*). nbytes is a
    size (the step's result is the bytes read) or a writable buffer (the
    result is the count). A short read counts as a failure of the link, as
    the kernel sees it. With RWF_NOWAIT a read that would wait for the disk
    fails with EAGAIN."""
    cdef ReadStep step = ReadStep.__new__(ReadStep)
    step.buffer = size_or_buffer(nbytes, &step.nbytes)
    step.offset = checked_offset(offset)
    checked_int(flags, 0, 0x7FFFFFFF, "flags")
    step.rw_flags = flags
    return init_step(step, "read", fd, hardlink, True, True,
                     RESULT_BYTES if step.buffer is None else RESULT_RES)


def op_write(fd, data, offset=-1, *, nbytes=0, hardlink=False):
    """pwrite(2) of data (or its first nbytes) at offset (-1: file position)."""
    cdef WriteStep step = WriteStep.__new__(WriteStep)
    memoryview(data)
    checked_int(nbytes, 0, MAX_RW_COUNT, "nbytes")
    step.buffer = data
    step.nbytes = <unsigned>nbytes
    step.offset = checked_offset(offset)
    return init_step(step, "write", fd, hardlink, True, True, RESULT_RES)


cdef Step vector_step(str name, fd, buffers, offset, bint writing, bint hardlink):
    cdef VectorStep step = VectorStep.__new__(VectorStep)
    step.buffers = tuple(buffers)
    for buffer in step.buffers:
        memoryview(buffer)
    if len(step.buffers) > 1024:
        raise ValueError("at most 1024 buffers (IOV_MAX)")
    step.offset = checked_offset(offset)
    step.writing = writing
    return init_step(step, name, fd, hardlink, False, False, RESULT_RES)


def op_readv(fd, buffers, offset=-1, *, hardlink=False):
    """preadv(2) into a list of writable buffers; the result is the count."""
    return vector_step("readv", fd, buffers, offset, False, hardlink)


def op_writev(fd, buffers, offset=-1, *, hardlink=False):
    """pwritev(2) of a list of buffers; the result is the count."""
    return vector_step("writev", fd, buffers, offset, True, hardlink)


def op_recv(fd, nbytes, flags=0, *, hardlink=False):
    """recv(2). Its result is only implied by success with MSG_WAITALL, so
    without it the step posts its CQE (absorbed by the chain, no wake-up)."""
    cdef RecvStep step = RecvStep.__new__(RecvStep)
    step.buffer = size_or_buffer(nbytes, &step.nbytes)
    checked_int(flags, 0, 0x7FFFFFFF, "flags")
    step.msg_flags = flags
    waitall = bool(flags & PY_MSG_WAITALL)
    return init_step(step, "recv", fd, hardlink, waitall, waitall,
                     RESULT_BYTES if step.buffer is None else RESULT_RES)


def op_send(fd, data, flags=0, *, hardlink=False):
    """send(2) with MSG_NOSIGNAL added; see recv() about MSG_WAITALL."""
    cdef SendStep step = SendStep.__new__(SendStep)
    memoryview(data)
    checked_int(flags, 0, 0x7FFFFFFF, "flags")
    step.buffer = data
    step.msg_flags = flags | PY_MSG_NOSIGNAL
    waitall = bool(flags & PY_MSG_WAITALL)
    return init_step(step, "send", fd, hardlink, waitall, waitall, RESULT_RES)


cdef Step splice_step(str name, fd_in, off_in, fd_out, off_out, nbytes, flags,
                      bint tee, bint hardlink):
    cdef SpliceStep step = SpliceStep.__new__(SpliceStep)
    checked_int(nbytes, 0, MAX_RW_COUNT, "nbytes")
    checked_int(flags, 0, 0x7FFFFFFF, "flags")
    step.fd_in = checked_fd(fd_in)
    step.offset_in = <int64_t>checked_offset(off_in)
    step.offset_out = <int64_t>checked_offset(off_out)
    step.nbytes = <unsigned>nbytes
    step.splice_flags = <unsigned>flags
    step.tee = tee
    return init_step(step, name, fd_out, hardlink, True, True, RESULT_RES)


def op_splice(fd_in, off_in, fd_out, off_out, nbytes, flags=0, *, hardlink=False):
    """splice(2) of nbytes from fd_in to fd_out (offsets -1 for pipes)."""
    return splice_step("splice", fd_in, off_in, fd_out, off_out, nbytes, flags, False,
                       hardlink)


def op_tee(fd_in, fd_out, nbytes, flags=0, *, hardlink=False):
    """tee(2) of nbytes from pipe fd_in to pipe fd_out."""
    return splice_step("tee", fd_in, -1, fd_out, -1, nbytes, flags, True, hardlink)


def op_statx(path, flags=0, mask=STATX_BASIC_STATS_VALUE, *, dir_fd=AT_FDCWD_VALUE,
             hardlink=False):
    """statx(2) of path; the step's result is an os.stat_result. (The kernel
    does not take a direct descriptor here: name the path.)"""
    cdef StatxStep step = StatxStep.__new__(StatxStep)
    checked_int(flags, 0, 0x7FFFFFFF, "flags")
    checked_int(mask, 0, 0xFFFFFFFF, "mask")
    checked_int(dir_fd, AT_FDCWD_VALUE, 0x7FFFFFFF, "dir_fd")
    step.path = checked_path(path)
    step.flags = flags
    step.mask = mask
    return init_step(step, "statx", dir_fd, hardlink, True, False, RESULT_STAT)


def op_fsync(fd, datasync=False, *, hardlink=False):
    """fsync(2), or fdatasync(2) with datasync=True."""
    cdef FsyncStep step = FsyncStep.__new__(FsyncStep)
    step.fsync_flags = IORING_FSYNC_DATASYNC if datasync else 0
    return init_step(step, "fsync", fd, hardlink, True, False, RESULT_RES)


def op_fallocate(fd, mode, offset, length, *, hardlink=False):
    """fallocate(2)."""
    cdef FallocateStep step = FallocateStep.__new__(FallocateStep)
    checked_int(mode, 0, 0x7FFFFFFF, "mode")
    checked_int(offset, 0, 0x7FFFFFFFFFFFFFFF, "offset")
    checked_int(length, 1, 0x7FFFFFFFFFFFFFFF, "length")
    step.mode = mode
    step.offset = offset
    step.length = length
    return init_step(step, "fallocate", fd, hardlink, True, False, RESULT_RES)


def op_fadvise(fd, offset, length, advice, *, hardlink=False):
    """posix_fadvise(2)."""
    cdef FadviseStep step = FadviseStep.__new__(FadviseStep)
    checked_int(offset, 0, 0x7FFFFFFFFFFFFFFF, "offset")
    checked_int(length, 0, 0xFFFFFFFF, "length")
    checked_int(advice, 0, 0x7FFFFFFF, "advice")
    step.offset = offset
    step.length = length
    step.advice = advice
    return init_step(step, "fadvise", fd, hardlink, True, False, RESULT_RES)


def op_close(fd, *, hardlink=False):
    """close(2); of a direct open step of the chain, closes its slot."""
    return init_step(CloseStep.__new__(CloseStep), "close", fd, hardlink, True, False,
                     RESULT_RES)


cdef Step path_step(str name, int opcode, dir_fd, path, path2, dir_fd2, flags, mode,
                    bint hardlink):
    cdef PathStep step = PathStep.__new__(PathStep)
    checked_int(dir_fd, AT_FDCWD_VALUE, 0x7FFFFFFF, "dir_fd")
    checked_int(dir_fd2, AT_FDCWD_VALUE, 0x7FFFFFFF, "new_dir_fd")
    checked_int(flags, 0, 0x7FFFFFFF, "flags")
    checked_int(mode, 0, 0o7777, "mode")
    step.opcode = opcode
    step.path = checked_path(path)
    step.path2 = None if path2 is None else checked_path(path2)
    step.dir_fd2 = dir_fd2
    step.flags = flags
    step.mode = mode
    return init_step(step, name, dir_fd, hardlink, True, False, RESULT_RES)


def op_unlinkat(path, flags=0, *, dir_fd=AT_FDCWD_VALUE, hardlink=False):
    """unlinkat(2) (flags=os.AT_REMOVEDIR... see aiouring.fs.rmdir)."""
    return path_step("unlinkat", IORING_OP_UNLINKAT, dir_fd, path, None,
                     AT_FDCWD_VALUE, flags, 0, hardlink)


def op_renameat(old_path, new_path, flags=0, *, old_dir_fd=AT_FDCWD_VALUE,
                new_dir_fd=AT_FDCWD_VALUE, hardlink=False):
    """renameat2(2)."""
    return path_step("renameat", IORING_OP_RENAMEAT, old_dir_fd, old_path, new_path,
                     new_dir_fd, flags, 0, hardlink)


def op_mkdirat(path, mode=0o777, *, dir_fd=AT_FDCWD_VALUE, hardlink=False):
    """mkdirat(2)."""
    return path_step("mkdirat", IORING_OP_MKDIRAT, dir_fd, path, None,
                     AT_FDCWD_VALUE, 0, mode, hardlink)


def op_linkat(old_path, new_path, flags=0, *, old_dir_fd=AT_FDCWD_VALUE,
              new_dir_fd=AT_FDCWD_VALUE, hardlink=False):
    """linkat(2)."""
    return path_step("linkat", IORING_OP_LINKAT, old_dir_fd, old_path, new_path,
                     new_dir_fd, flags, 0, hardlink)


def op_symlinkat(target, link_path, *, dir_fd=AT_FDCWD_VALUE, hardlink=False):
    """symlinkat(2)."""
    return path_step("symlinkat", IORING_OP_SYMLINKAT, dir_fd, target, link_path,
                     AT_FDCWD_VALUE, 0, 0, hardlink)


def op_timeout(seconds, *, hardlink=False):
    """Waits seconds (IORING_OP_TIMEOUT); expiry does not break the chain.
    Waits beyond about 34,000 years are cut to that."""
    cdef TimeoutStep step = TimeoutStep.__new__(TimeoutStep)
    step.seconds = checked_seconds(seconds, "timeout")
    return init_step(step, "timeout", None, hardlink, True, False, RESULT_NONE)


def op_link_timeout(seconds):
    """Bounds the step just before it (IORING_OP_LINK_TIMEOUT): if that step
    has not completed within seconds it is cancelled, and the chain raises
    ChainTimeoutError naming that step."""
    cdef TimeoutStep step = TimeoutStep.__new__(TimeoutStep)
    step.seconds = checked_seconds(seconds, "timeout")
    step.is_link_timeout = True
    return init_step(step, "link_timeout", None, False, True, False, RESULT_NONE)


def op_accept(fd, flags=PY_SOCK_CLOEXEC, *, hardlink=False):
    """accept4(2); the step's result is the new descriptor."""
    cdef AcceptStep step = AcceptStep.__new__(AcceptStep)
    checked_int(flags, 0, 0x7FFFFFFF, "flags")
    step.accept_flags = flags
    return init_step(step, "accept", fd, hardlink, False, False, RESULT_RES)


def op_connect(sock, address, *, hardlink=False):
    """connect(2) of socket sock to address (resolved now, when the step is
    made)."""
    cdef ConnectStep step = ConnectStep.__new__(ConnectStep)
    cdef sockaddr_storage storage
    cdef socklen_t length = sockaddr_from_python(sock.family, address, &storage)
    step.sockaddr = PyBytes_FromStringAndSize(<char*>&storage, length)
    return init_step(step, "connect", sock, hardlink, True, False, RESULT_RES)


def op_shutdown(fd, how, *, hardlink=False):
    """shutdown(2)."""
    cdef ShutdownStep step = ShutdownStep.__new__(ShutdownStep)
    checked_int(how, 0, 2, "how")
    step.how = how
    return init_step(step, "shutdown", fd, hardlink, True, False, RESULT_RES)

# File requests (OPENAT, READ, WRITE, STATX, FSYNC, ...) for aiouring.open and
# aiouring.fs. A request on a descriptor the caller holds is submitted to the
# kernel at once, so the fd is resolved at call time (a close and a reuse of
# the number before the next iteration cannot redirect it); requests on
# paths, and on descriptors an aiouring file object owns (owned=True), wait
# for the loop's one enter per iteration. A read or write at an offset is positional (a
# cancelled one never moves a position); offset -1 uses and moves the
# descriptor's own position, as read(2)/write(2). Errors are the os module's
# OSError subclasses, errno and filenames.

from os import fsencode, fspath, makedev, stat_result

cdef enum:
    # A positional read() larger than this is split into several READs in flight.
    SPLIT_READ_SIZE = 1 << 20
    SPLIT_READ_CHUNK = 1 << 20


cdef bytes as_path_bytes(object path):
    if isinstance(path, int):
        raise TypeError("a path is required here, not a file descriptor")
    return fsencode(path)


cdef object reported_name(object name):
    """The filename an error names, as the os module reports it: a path
    object's str or bytes (a descriptor number or None as it is)."""
    if name is None or isinstance(name, (str, bytes, int)):
        return name
    return fspath(name)


cdef class FileOperation(Operation):
    """A file request that resolves one future; its result is the CQE's res
    unless a subclass says otherwise."""

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        if res < 0:
            return self.fail(-res)
        return self.finish(self.result(res))

    cdef object result(self, int32_t res):
        return res

    cdef int finish(self, object result) except -1:
        if not self.future.cancelled():
            self.future.set_result(result)
        else:
            self.salvage(result)
        return 0

    cdef int fail(self, int err) except -1:
        if not self.future.cancelled():
            self.future.set_exception(path_error(err, self.filename, self.filename2))
        return 0

    cdef int salvage(self, object result) except -1:
        """Releases a result nobody waits for any more (default: nothing)."""
        return 0

    cdef int abandon(self) except -1:
        if self.user_data:
            self.loop._ring.cancel(self)
            self.loop._ring.submit_now()
        elif self.future.done() and not self.future.cancelled():
            if self.future.exception() is None:
                self.salvage(self.future.result())
        return 0


async def await_file_operation(FileOperation op):
    """Awaits op's result; cancelling the awaiting task cancels the request."""
    try:
        return await op.future
    except BaseException:
        op.abandon()
        raise


cdef class OpenOp(FileOperation):
    cdef int salvage(self, object result) except -1:
        close_fd(<int>result)       # opened after its opener gave up
        return 0


cdef class ReadOp(FileOperation):
    """READ into a fresh bytes object, trimmed to what was read."""

    cdef PyObject* data
    cdef int fd
    cdef uint64_t offset
    cdef bint nowait

    def __dealloc__(self):
        Py_XDECREF(self.data)
        self.data = NULL

    cdef int queue(self) except -1:
        cdef io_uring_sqe* sqe = self.loop._ring.sqe_for(self)
        io_uring_prep_read(sqe, self.fd, PyBytes_AS_STRING(<object>self.data),
                           <unsigned>PyBytes_GET_SIZE(<object>self.data), self.offset)
        sqe.rw_flags = RWF_NOWAIT_VALUE if self.nowait else 0
        return 0

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        if (res == -EAGAIN or res == -EOPNOTSUPP) and self.nowait:
            self.nowait = False
            if not self.future.cancelled():
                self.queue()
                self.loop._ring.submit_now()
            return 0
        return FileOperation.complete(self, res, flags)

    cdef object result(self, int32_t res):
        _PyBytes_Resize(&self.data, res)
        result = <object>self.data
        Py_DECREF(result)
        self.data = NULL
        return result


cdef class SplitReadOp(FileOperation):
    """A large positional read as several READs in flight, one per chunk of
    a single bytes object; done when every chunk's CQE is in. The result
    ends at the first short chunk (end of file)."""

    cdef PyObject* data
    cdef uint32_t chunks
    cdef uint32_t pending
    cdef Py_ssize_t length
    cdef int32_t* results

    def __dealloc__(self):
        Py_XDECREF(self.data)
        self.data = NULL
        PyMem_Free(self.results)

    cdef int queue(self, int fd, int64_t offset) except -1:
        cdef Ring ring = self.loop._ring
        cdef uint32_t i
        cdef Py_ssize_t start, size
        cdef char* base = PyBytes_AS_STRING(<object>self.data)
        cdef io_uring_sqe* sqe
        self.chunks = <uint32_t>((self.length + SPLIT_READ_CHUNK - 1) // SPLIT_READ_CHUNK)
        self.results = <int32_t*>PyMem_Realloc(NULL, self.chunks * sizeof(int32_t))
        if self.results == NULL:
            raise MemoryError()
        self.pending = self.chunks
        ring.attach(self)
        for i in range(self.chunks):
            start = i * <Py_ssize_t>SPLIT_READ_CHUNK
            size = min(<Py_ssize_t>SPLIT_READ_CHUNK, self.length - start)
            try:
                sqe = ring.step_sqe(self, i)
            except BaseException:
                if i == 0:
                    ring.detach(self)
                    raise
                self.chunks = self.pending = i      # what is queued still completes
                break
            io_uring_prep_read(sqe, fd, base + start, <unsigned>size, <uint64_t>(offset + start))
        return 0

    cdef bint is_last_cqe(self, int32_t res, uint32_t flags):
        self.pending -= 1
        return self.pending == 0

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        cdef uint32_t i
        cdef Py_ssize_t total = 0, size
        self.results[self.cqe_step] = res
        if self.pending:
            return 0
        for i in range(self.chunks):
            size = min(<Py_ssize_t>SPLIT_READ_CHUNK, self.length - total)
            if self.results[i] < 0:
                if total == 0:
                    return self.fail(-self.results[i])
                break
            total += self.results[i]
            if self.results[i] < size:
                break
        _PyBytes_Resize(&self.data, total)
        result = <object>self.data
        Py_DECREF(result)
        self.data = NULL
        return self.finish(result)


cdef class BufferOp(FileOperation):
    """READ/WRITE on a caller's buffer, held until the CQE. A write is
    resubmitted after a partial write until every byte is out."""

    cdef Py_buffer view
    cdef bint has_view
    cdef bint writing
    cdef int fd
    cdef int fixed_index            # fixed-buffer slot of an AlignedBuffer, or -1
    cdef int64_t offset             # -1: the descriptor's own position
    cdef Py_ssize_t done
    cdef bint nowait

    def __dealloc__(self):
        if self.has_view:
            PyBuffer_Release(&self.view)

    cdef int queue(self) except -1:
        cdef void* buf = <char*>self.view.buf + self.done
        cdef unsigned length = <unsigned>min(self.view.len - self.done, MAX_RW_COUNT)
        cdef uint64_t offset = <uint64_t>(self.offset + self.done if self.offset >= 0 else -1)
        cdef io_uring_sqe* sqe = self.loop._ring.sqe_for(self)
        if self.fixed_index >= 0:
            if self.writing:
                io_uring_prep_write_fixed(sqe, self.fd, buf, length, offset, self.fixed_index)
            else:
                io_uring_prep_read_fixed(sqe, self.fd, buf, length, offset, self.fixed_index)
        elif self.writing:
            io_uring_prep_write(sqe, self.fd, buf, length, offset)
        else:
            io_uring_prep_read(sqe, self.fd, buf, length, offset)
        if self.nowait:
            sqe.rw_flags = RWF_NOWAIT_VALUE
        return 0

    cdef int requeue(self) except -1:
        if not self.future.cancelled():
            self.queue()
            self.loop._ring.submit_now()
        return 0

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        if res < 0:
            if res == -EINTR or res == -EAGAIN or (res == -EOPNOTSUPP and self.nowait):
                self.nowait = False
                return self.requeue()
            if self.done and self.writing:
                return self.finish(self.done)
            return self.fail(-res)
        self.done += res
        if self.writing and res > 0 and self.done < self.view.len:
            if not self.future.cancelled():
                return self.requeue()
        return self.finish(self.done)


cdef extern from "sys/stat.h" nogil:
    ctypedef struct stat_timespec "struct timespec":
        long tv_sec
        long tv_nsec
    ctypedef struct fd_stat "struct stat":
        unsigned st_mode
        long long st_size
        long st_blksize
        stat_timespec st_mtim
        stat_timespec st_ctim
    int fstat_fd "fstat"(int fd, fd_stat* buf)
    bint is_regular "S_ISREG"(unsigned mode)


cdef class OpenReadOp(FileOperation):
    """OPENAT, then (a regular file of up to `limit` bytes) a READ of all of
    it at offset 0 with RWF_NOWAIT, queued from the OPENAT's completion: one
    wake-up for both. The result is (fd, data, stat): data is None when
    nothing was read (not a regular file, too large, or the read would
    wait); stat is (st_mode, st_blksize, st_size, st_mtime_ns, st_ctime_ns)
    as fstat(2) gave it just before the read, or None. The descriptor is
    this request's until the result is handed over: cancelled in between,
    the request closes it."""

    cdef PyObject* data
    cdef int fd
    cdef bint reading
    cdef Py_ssize_t limit
    cdef object stat

    def __dealloc__(self):
        Py_XDECREF(self.data)
        self.data = NULL

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        cdef fd_stat st
        cdef io_uring_sqe* sqe
        if not self.reading:
            if res < 0:
                return self.fail(-res)
            self.fd = res
            if self.future.cancelled():
                close_fd(self.fd)
                return 0
            if fstat_fd(self.fd, &st) != 0:
                return self.finish((self.fd, None, None))
            self.stat = (st.st_mode, st.st_blksize, st.st_size,
                         st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
                         st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec)
            if not is_regular(st.st_mode) or st.st_size > self.limit:
                return self.finish((self.fd, None, self.stat))
            # One byte more than the size: a short read shows the end.
            data = PyBytes_FromStringAndSize(NULL, st.st_size + 1)
            try:
                sqe = self.loop._ring.sqe_for(self)
            except Exception:
                # No room for the read: the reader reads it later.
                return self.finish((self.fd, None, self.stat))
            io_uring_prep_read(sqe, self.fd, PyBytes_AS_STRING(data),
                               <unsigned>(st.st_size + 1), 0)
            # A read that would wait for the disk is left to the reader.
            sqe.rw_flags = RWF_NOWAIT_VALUE
            Py_INCREF(data)
            self.data = <PyObject*>data
            self.reading = True
            return 0
        if self.future.cancelled():
            close_fd(self.fd)
            return 0
        if res < 0:
            return self.finish((self.fd, None, self.stat))
        _PyBytes_Resize(&self.data, res)
        data = <object>self.data
        Py_DECREF(data)
        self.data = NULL
        return self.finish((self.fd, data, self.stat))

    cdef int salvage(self, object result) except -1:
        close_fd(<int>result[0])    # read after its opener gave up
        return 0


cdef class CloseNowOp(Operation):
    """A CLOSE nobody waits for (see FileRequests.close_now)."""

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        return 0


cdef class StatxOp(FileOperation):
    cdef statx buffer

    cdef object result(self, int32_t res):
        return stat_result_from_statx(&self.buffer)


cdef object stat_result_from_statx(statx* st):
    cdef double atime = st.stx_atime.tv_sec + st.stx_atime.tv_nsec * 1e-9
    cdef double mtime = st.stx_mtime.tv_sec + st.stx_mtime.tv_nsec * 1e-9
    cdef double ctime = st.stx_ctime.tv_sec + st.stx_ctime.tv_nsec * 1e-9
    return stat_result(
        (st.stx_mode, st.stx_ino, makedev(st.stx_dev_major, st.stx_dev_minor),
         st.stx_nlink, st.stx_uid, st.stx_gid, st.stx_size,
         st.stx_atime.tv_sec, st.stx_mtime.tv_sec, st.stx_ctime.tv_sec),
        {'st_atime': atime, 'st_mtime': mtime, 'st_ctime': ctime,
         'st_atime_ns': st.stx_atime.tv_sec * 1000000000 + st.stx_atime.tv_nsec,
         'st_mtime_ns': st.stx_mtime.tv_sec * 1000000000 + st.stx_mtime.tv_nsec,
         'st_ctime_ns': st.stx_ctime.tv_sec * 1000000000 + st.stx_ctime.tv_nsec,
         'st_blksize': st.stx_blksize, 'st_blocks': st.stx_blocks,
         'st_rdev': makedev(st.stx_rdev_major, st.stx_rdev_minor)})


cdef class FileRequests:

    cdef FileOperation new_op(self, type kind, filename=None, filename2=None):
        cdef FileOperation op = kind.__new__(kind)
        self.loop.check_closed()
        op.loop = self.loop
        op.future = Future(loop=self.loop)
        op.filename = reported_name(filename)
        op.filename2 = reported_name(filename2)
        return op

    cdef int note_queued(self, int fd) except -1:
        if self.queued_on is None:
            self.queued_on = {}
        self.queued_on[fd] = self.loop._ring.enters
        return 0

    cdef object started(self, FileOperation op, bint at_once):
        """The awaitable of op's result; at_once submits op's SQE now, so the
        kernel resolves its fd at call time."""
        if at_once:
            self.loop._ring.submit_now()
        return await_file_operation(op)

    def openat(self, path, int flags, int mode=0o777, int dir_fd=AT_FDCWD_VALUE):
        """openat(2) (IORING_OP_OPENAT); awaitable of the new descriptor."""
        cdef FileOperation op = self.new_op(OpenOp, path)
        op.path = as_path_bytes(path)
        io_uring_prep_openat(self.loop._ring.sqe_for(op), dir_fd, PyBytes_AS_STRING(op.path),
                             flags | O_CLOEXEC, mode)
        return self.started(op, dir_fd != AT_FDCWD_VALUE)

    def read(self, int fd, Py_ssize_t n, int64_t offset=-1, filename=None, bint owned=False):
        """Up to n bytes at offset (-1: the descriptor's position) as bytes;
        a large positional read is split into several READs in flight, a
        read at the position stops at MAX_RW_COUNT as read(2) does."""
        cdef ReadOp op
        cdef SplitReadOp split
        if n < 0:
            raise ValueError("negative read size")
        if n > SPLIT_READ_SIZE and offset >= 0:
            split = <SplitReadOp>self.new_op(SplitReadOp, filename)
            data = PyBytes_FromStringAndSize(NULL, n)
            Py_INCREF(data)
            split.data = <PyObject*>data
            split.length = n
            split.queue(fd, offset)
            if owned:
                self.note_queued(fd)
            return self.started(split, not owned)
        op = <ReadOp>self.new_op(ReadOp, filename)
        data = PyBytes_FromStringAndSize(NULL, min(n, MAX_RW_COUNT))
        Py_INCREF(data)
        op.data = <PyObject*>data
        op.fd = fd
        op.offset = <uint64_t>offset
        op.nowait = offset >= 0
        op.queue()
        if owned:
            self.note_queued(fd)
        return self.started(op, not owned)

    def readinto(self, int fd, buf, int64_t offset=-1, filename=None, bint owned=False):
        """Reads into buf at offset; awaitable of the byte count. An
        AlignedBuffer the ring could register is read with READ_FIXED."""
        return self.buffer_op(fd, buf, offset, False, filename, owned)

    def write(self, int fd, data, int64_t offset=-1, filename=None, bint owned=False):
        """Writes all of data at offset (-1: the descriptor's position, as
        with O_APPEND); awaitable of the byte count, which is len(data)
        unless the kernel stopped early (e.g. a full disk after some bytes)."""
        return self.buffer_op(fd, data, offset, True, filename, owned)

    cdef object buffer_op(self, int fd, buf, int64_t offset, bint writing, filename,
                          bint owned):
        cdef BufferOp op = <BufferOp>self.new_op(BufferOp, filename)
        if writing:
            get_readable_buffer(buf, &op.view)
        else:
            get_writable_buffer(buf, &op.view)
        op.has_view = True
        op.fd = fd
        op.offset = offset
        op.writing = writing
        op.nowait = not writing and offset >= 0
        op.fixed_index = -1
        if isinstance(buf, AlignedBuffer):
            op.fixed_index = (<AlignedBuffer>buf).ensure_registered(self.loop._ring)
        if op.view.len == 0:
            op.future.set_result(0)
            return op.future
        op.queue()
        if owned:
            self.note_queued(fd)
        return self.started(op, not owned)

    def statx(self, path, int dir_fd=AT_FDCWD_VALUE, int flags=0,
              unsigned mask=STATX_BASIC_STATS_VALUE, filename=None):
        """statx(2) (IORING_OP_STATX) as an os.stat_result. path b'' with
        AT_EMPTY_PATH in flags stats dir_fd itself."""
        cdef StatxOp op = <StatxOp>self.new_op(StatxOp, path if filename is None else filename)
        op.path = as_path_bytes(path)
        io_uring_prep_statx(self.loop._ring.sqe_for(op), dir_fd, PyBytes_AS_STRING(op.path),
                            flags, mask, &op.buffer)
        return self.started(op, dir_fd != AT_FDCWD_VALUE)

    def fstat(self, int fd):
        """fstat(2) through STATX with AT_EMPTY_PATH."""
        return self.statx(b"", fd, AT_EMPTY_PATH_VALUE, STATX_BASIC_STATS_VALUE, None)

    def fsync(self, int fd, bint datasync=False):
        """fsync(2), or fdatasync(2) with datasync (IORING_OP_FSYNC)."""
        cdef FileOperation op = self.new_op(FileOperation)
        io_uring_prep_fsync(self.loop._ring.sqe_for(op), fd,
                            IORING_FSYNC_DATASYNC if datasync else 0)
        return self.started(op, True)

    def fallocate(self, int fd, int mode, int64_t offset, int64_t length):
        """fallocate(2) (IORING_OP_FALLOCATE)."""
        cdef FileOperation op = self.new_op(FileOperation)
        if offset < 0 or length <= 0:
            raise OSError(EINVAL, os_strerror(EINVAL))
        io_uring_prep_fallocate(self.loop._ring.sqe_for(op), fd, mode,
                                <uint64_t>offset, <uint64_t>length)
        return self.started(op, True)

    def fadvise(self, int fd, int64_t offset, int64_t length, int advice):
        """posix_fadvise(2) (IORING_OP_FADVISE)."""
        cdef FileOperation op = self.new_op(FileOperation)
        if offset < 0 or length < 0 or length > 0xFFFFFFFF:
            raise OSError(EINVAL, os_strerror(EINVAL))
        io_uring_prep_fadvise(self.loop._ring.sqe_for(op), fd, <uint64_t>offset,
                              <unsigned>length, advice)
        return self.started(op, True)

    def ftruncate(self, int fd, int64_t length):
        """ftruncate(2) (IORING_OP_FTRUNCATE, Linux 6.9+)."""
        cdef FileOperation op = self.new_op(FileOperation)
        if length < 0:
            raise OSError(EINVAL, os_strerror(EINVAL))
        prep_ftruncate(self.loop._ring.sqe_for(op), fd, length)
        return self.started(op, True)

    def close(self, int fd, bint owned=False):
        """close(2) (IORING_OP_CLOSE)."""
        cdef FileOperation op = self.new_op(FileOperation)
        io_uring_prep_close(self.loop._ring.sqe_for(op), fd)
        if owned:
            self.note_queued(fd)
        return self.started(op, not owned)

    def open_read(self, path, int flags, int mode=0o666, Py_ssize_t limit=0):
        """openat(2) at AT_FDCWD, then, for a regular file of up to limit
        bytes, a read of all of it (see OpenReadOp); awaitable of
        (fd, data or None, stat tuple or None)."""
        cdef OpenReadOp op = <OpenReadOp>self.new_op(OpenReadOp, path)
        op.path = as_path_bytes(path)
        op.limit = limit
        io_uring_prep_openat(self.loop._ring.sqe_for(op), AT_FDCWD_VALUE,
                             PyBytes_AS_STRING(op.path), flags | O_CLOEXEC, mode)
        return self.started(op, False)

    def unchanged(self, int fd, tuple stamp):
        """Whether fstat(2) of fd still gives stamp, OpenReadOp's
        (st_size, st_mtime_ns, st_ctime_ns): bytes read earlier are still
        the file's (a change sets ctime, finely on current kernels)."""
        cdef fd_stat st
        if fstat_fd(fd, &st) != 0:
            return False
        return stamp == (st.st_size,
                         st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
                         st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec)

    def close_now(self, int fd):
        """close(2) now, with no result to wait for: for a descriptor whose
        close cannot report anything (opened read-only). Done right here
        unless an owned request on fd still waits in the SQ for the next
        enter; then a CLOSE follows it and both go to the kernel at once,
        so that request never meets a reused descriptor number. (A request
        the kernel already has holds the file itself.)"""
        cdef CloseNowOp op
        self.loop.check_closed()
        queued = None if self.queued_on is None else self.queued_on.pop(fd, None)
        if queued is None or queued != self.loop._ring.enters:
            close_fd(fd)
            return
        op = CloseNowOp.__new__(CloseNowOp)
        op.background = True
        io_uring_prep_close(self.loop._ring.sqe_for(op), fd)
        self.loop._ring.submit_now()

    def unlinkat(self, path, int dir_fd=AT_FDCWD_VALUE, int flags=0):
        """unlinkat(2) (IORING_OP_UNLINKAT); AT_REMOVEDIR in flags: rmdir."""
        cdef FileOperation op = self.new_op(FileOperation, path)
        op.path = as_path_bytes(path)
        io_uring_prep_unlinkat(self.loop._ring.sqe_for(op), dir_fd,
                               PyBytes_AS_STRING(op.path), flags)
        return self.started(op, dir_fd != AT_FDCWD_VALUE)

    def mkdirat(self, path, int mode=0o777, int dir_fd=AT_FDCWD_VALUE):
        """mkdirat(2) (IORING_OP_MKDIRAT)."""
        cdef FileOperation op = self.new_op(FileOperation, path)
        op.path = as_path_bytes(path)
        io_uring_prep_mkdirat(self.loop._ring.sqe_for(op), dir_fd,
                              PyBytes_AS_STRING(op.path), mode)
        return self.started(op, dir_fd != AT_FDCWD_VALUE)

    def renameat(self, src, dst, int src_dir_fd=AT_FDCWD_VALUE,
                 int dst_dir_fd=AT_FDCWD_VALUE, unsigned flags=0):
        """renameat2(2) (IORING_OP_RENAMEAT)."""
        cdef FileOperation op = self.new_op(FileOperation, src, dst)
        op.path = as_path_bytes(src)
        op.path2 = as_path_bytes(dst)
        io_uring_prep_renameat(self.loop._ring.sqe_for(op), src_dir_fd,
                               PyBytes_AS_STRING(op.path), dst_dir_fd,
                               PyBytes_AS_STRING(op.path2), flags)
        return self.started(op, src_dir_fd != AT_FDCWD_VALUE or dst_dir_fd != AT_FDCWD_VALUE)

    def linkat(self, src, dst, int src_dir_fd=AT_FDCWD_VALUE,
               int dst_dir_fd=AT_FDCWD_VALUE, int flags=0):
        """linkat(2) (IORING_OP_LINKAT)."""
        cdef FileOperation op = self.new_op(FileOperation, src, dst)
        op.path = as_path_bytes(src)
        op.path2 = as_path_bytes(dst)
        io_uring_prep_linkat(self.loop._ring.sqe_for(op), src_dir_fd,
                             PyBytes_AS_STRING(op.path), dst_dir_fd,
                             PyBytes_AS_STRING(op.path2), flags)
        return self.started(op, src_dir_fd != AT_FDCWD_VALUE or dst_dir_fd != AT_FDCWD_VALUE)

    def symlinkat(self, target, link_path, int dir_fd=AT_FDCWD_VALUE):
        """symlinkat(2) (IORING_OP_SYMLINKAT)."""
        cdef FileOperation op = self.new_op(FileOperation, target, link_path)
        op.path = as_path_bytes(target)
        op.path2 = as_path_bytes(link_path)
        io_uring_prep_symlinkat(self.loop._ring.sqe_for(op), PyBytes_AS_STRING(op.path),
                                dir_fd, PyBytes_AS_STRING(op.path2))
        return self.started(op, dir_fd != AT_FDCWD_VALUE)

    def splice_pump(self, int in_fd, int64_t offset, int out_fd):
        """A splice pump from in_fd (at offset; -1: its own position) to
        out_fd: `await pump.run(count)` moves up to count bytes (see
        SplicePump.run); pump.sent counts what arrived, also after an error."""
        return SplicePump.create(self.loop, in_fd, offset, out_fd)

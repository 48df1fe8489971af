# File operations (OPENAT, READ, WRITE, STATX, FSYNC, ...) as io_uring
# requests on a cdef layer of the loop. Reads and writes are positional: a
# file object keeps its own position, so a cancelled request never moves it.
# Errors are the OSError subclasses, errno and filenames the os module gives.

cdef enum:
    # A read() larger than this is split into several READs in flight.
    SPLIT_READ_SIZE = 1 << 20
    SPLIT_READ_CHUNK = 1 << 20
    AT_FDCWD_VALUE = -100
    AT_EMPTY_PATH_VALUE = 0x1000
    # Reads try RWF_NOWAIT first: the kernel hands a short nonblocking read
    # of a regular file (every read that reaches the end) to a worker thread
    # to finish, unless the request says NOWAIT; -EAGAIN (not cached) retries
    # without it, as does -EOPNOTSUPP (a file system without NOWAIT reads,
    # e.g. tmpfs).
    RWF_NOWAIT_VALUE = 0x8


cdef object path_error(int err, object filename, object filename2=None):
    if filename is None:
        return OSError(err, os_strerror(err))
    if filename2 is None:
        return OSError(err, os_strerror(err), filename)
    return OSError(err, os_strerror(err), filename, None, filename2)


cdef bytes as_path_bytes(object path):
    if isinstance(path, int):
        raise TypeError("a path is required here, not a file descriptor")
    return fsencode(path)


cdef class FileOperation(Operation):
    """A file request that resolves one future; its result is the CQE's res
    unless a subclass says otherwise."""

    cdef FileLoop loop
    cdef object future
    cdef object filename            # for OSError, as the os module reports it
    cdef object filename2
    cdef bytes path                 # kept alive until the CQE
    cdef bytes path2

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

    cdef int submit(self) except -1:
        self.loop._ring.sqe_for(self, IORING_OP_READ, self.fd,
                                PyBytes_AS_STRING(<object>self.data),
                                <unsigned>PyBytes_GET_SIZE(<object>self.data),
                                self.offset).rw_flags = RWF_NOWAIT_VALUE if self.nowait else 0
        return 0

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        if (res == -EAGAIN or res == -EOPNOTSUPP) and self.nowait:
            self.nowait = False
            if not self.future.cancelled():
                self.submit()
            return 0
        return FileOperation.complete(self, res, flags)

    cdef object result(self, int32_t res):
        _PyBytes_Resize(&self.data, res)
        result = <object>self.data
        Py_DECREF(result)
        self.data = NULL
        return result


cdef class SplitReadOp(FileOperation):
    """A large read as several READs in flight, one per chunk of a single
    bytes object; done when every chunk's CQE is in. The result ends at the
    first short chunk (end of file)."""

    cdef PyObject* data
    cdef uint32_t chunks
    cdef uint32_t pending
    cdef Py_ssize_t length
    cdef int32_t* results

    def __dealloc__(self):
        Py_XDECREF(self.data)
        self.data = NULL
        PyMem_Free(self.results)

    cdef int submit(self, Ring ring, int fd, int64_t offset) except -1:
        cdef uint32_t i
        cdef Py_ssize_t start, size
        self.chunks = <uint32_t>((self.length + SPLIT_READ_CHUNK - 1) // SPLIT_READ_CHUNK)
        self.results = <int32_t*>PyMem_Realloc(NULL, self.chunks * sizeof(int32_t))
        if self.results == NULL:
            raise MemoryError()
        self.pending = self.chunks
        ring.attach(self)
        for i in range(self.chunks):
            start = i * <Py_ssize_t>SPLIT_READ_CHUNK
            size = min(<Py_ssize_t>SPLIT_READ_CHUNK, self.length - start)
            ring.step_sqe(self, i, IORING_OP_READ, fd,
                          PyBytes_AS_STRING(<object>self.data) + start, size,
                          <uint64_t>(offset + start))
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

    cdef int submit(self) except -1:
        cdef int opcode
        cdef io_uring_sqe* sqe
        if self.fixed_index >= 0:
            opcode = IORING_OP_WRITE_FIXED if self.writing else IORING_OP_READ_FIXED
        else:
            opcode = IORING_OP_WRITE if self.writing else IORING_OP_READ
        sqe = self.loop._ring.sqe_for(
            self, opcode, self.fd, <char*>self.view.buf + self.done,
            <unsigned>min(self.view.len - self.done, 0x7ffff000),
            <uint64_t>(self.offset + self.done if self.offset >= 0 else -1))
        if self.fixed_index >= 0:
            sqe.buf_index = <uint16_t>self.fixed_index
        if self.nowait:
            sqe.rw_flags = RWF_NOWAIT_VALUE
        return 0

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        if res < 0:
            if res == -EINTR or res == -EAGAIN or (res == -EOPNOTSUPP and self.nowait):
                self.nowait = False
                if not self.future.cancelled():
                    self.submit()
                return 0
            if self.done and self.writing:
                return self.finish(self.done)
            return self.fail(-res)
        self.done += res
        if (self.writing and res > 0 and self.done < self.view.len
                and not self.future.cancelled()):
            self.submit()
            return 0
        return self.finish(self.done)


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


cdef class FileLoop(SocketLoop):
    """File requests of the loop (used by aiouring.open and aiouring.fs)."""

    cdef inline FileOperation new_op(self, type kind, filename=None, filename2=None):
        cdef FileOperation op = kind.__new__(kind)
        op.loop = self
        op.future = Future(loop=self)
        op.filename = filename
        op.filename2 = filename2
        return op

    def _file_openat(self, path, int flags, int mode=0o777, int dir_fd=AT_FDCWD_VALUE):
        """openat(2) (IORING_OP_OPENAT); awaitable of the new descriptor."""
        self.check_closed()
        cdef FileOperation op = self.new_op(OpenOp, path)
        op.path = as_path_bytes(path)
        self._ring.sqe_for(op, IORING_OP_OPENAT, dir_fd, PyBytes_AS_STRING(op.path),
                           mode, 0).open_flags = flags | O_CLOEXEC
        return await_file_operation(op)

    def _file_read(self, int fd, Py_ssize_t n, int64_t offset=-1, filename=None):
        """Up to n bytes at offset (-1: the descriptor's position) as bytes;
        a large positional read is split into several READs in flight."""
        self.check_closed()
        if n < 0:
            raise ValueError("negative read size")
        cdef FileOperation op
        data = PyBytes_FromStringAndSize(NULL, n)
        if n > SPLIT_READ_SIZE and offset >= 0:
            op = self.new_op(SplitReadOp, filename)
            Py_INCREF(data)
            (<SplitReadOp>op).data = <PyObject*>data
            (<SplitReadOp>op).length = n
            (<SplitReadOp>op).submit(self._ring, fd, offset)
            return await_file_operation(op)
        op = self.new_op(ReadOp, filename)
        Py_INCREF(data)
        (<ReadOp>op).data = <PyObject*>data
        (<ReadOp>op).fd = fd
        (<ReadOp>op).offset = <uint64_t>offset
        (<ReadOp>op).nowait = offset >= 0
        (<ReadOp>op).submit()
        return await_file_operation(op)

    def _file_readinto(self, int fd, buf, int64_t offset=-1, filename=None):
        """Reads into buf at offset; awaitable of the byte count. An
        AlignedBuffer the ring could register is read with READ_FIXED."""
        return self.buffer_op(fd, buf, offset, False, filename)

    def _file_write(self, int fd, data, int64_t offset=-1, filename=None):
        """Writes all of data at offset (-1: the descriptor's position, as
        with O_APPEND); awaitable of the byte count, which is len(data)
        unless the kernel stopped early (e.g. a full disk after some bytes)."""
        return self.buffer_op(fd, data, offset, True, filename)

    cdef object buffer_op(self, int fd, buf, int64_t offset, bint writing, filename):
        self.check_closed()
        cdef BufferOp op = <BufferOp>self.new_op(BufferOp, filename)
        if writing:
            PyObject_GetBuffer(buf, &op.view, PyBUF_SIMPLE)
        else:
            get_writable_buffer(buf, &op.view)
        op.has_view = True
        op.fd = fd
        op.offset = offset
        op.writing = writing
        op.nowait = not writing and offset >= 0
        op.fixed_index = -1
        if isinstance(buf, AlignedBuffer):
            op.fixed_index = (<AlignedBuffer>buf).ensure_registered(self._ring)
        if op.view.len == 0:
            op.future.set_result(0)
            return op.future
        op.submit()
        return await_file_operation(op)

    def _file_statx(self, path, int dir_fd=AT_FDCWD_VALUE, int flags=0,
                    unsigned mask=STATX_BASIC_STATS, filename=None):
        """statx(2) (IORING_OP_STATX) as an os.stat_result. path b'' with
        AT_EMPTY_PATH in flags stats dir_fd itself."""
        self.check_closed()
        cdef StatxOp op = <StatxOp>self.new_op(StatxOp, path if filename is None else filename)
        op.path = as_path_bytes(path)
        self._ring.sqe_for(op, IORING_OP_STATX, dir_fd, PyBytes_AS_STRING(op.path),
                           mask, <uint64_t>&op.buffer).statx_flags = flags
        return await_file_operation(op)

    def _file_fstat(self, int fd):
        """fstat(2) through STATX with AT_EMPTY_PATH."""
        return self._file_statx(b"", fd, AT_EMPTY_PATH_VALUE, STATX_BASIC_STATS, None)

    cdef io_uring_sqe* prep(self, FileOperation op, int opcode, int fd,
                            bytes path, unsigned length, uint64_t offset) except NULL:
        self.check_closed()
        op.path = path
        return self._ring.sqe_for(op, opcode, fd,
                                  PyBytes_AS_STRING(path) if path is not None else NULL,
                                  length, offset)

    def _file_fsync(self, int fd, bint datasync=False):
        """fsync(2), or fdatasync(2) with datasync (IORING_OP_FSYNC)."""
        cdef FileOperation op = self.new_op(FileOperation)
        self.prep(op, IORING_OP_FSYNC, fd, None, 0, 0).fsync_flags = (
            IORING_FSYNC_DATASYNC if datasync else 0)
        return await_file_operation(op)

    def _file_fallocate(self, int fd, int mode, int64_t offset, int64_t length):
        """fallocate(2) (IORING_OP_FALLOCATE)."""
        cdef FileOperation op = self.new_op(FileOperation)
        self.prep(op, IORING_OP_FALLOCATE, fd, None, <unsigned>mode,
                  <uint64_t>offset).addr = <uint64_t>length
        return await_file_operation(op)

    def _file_fadvise(self, int fd, int64_t offset, int64_t length, int advice):
        """posix_fadvise(2) (IORING_OP_FADVISE)."""
        cdef FileOperation op = self.new_op(FileOperation)
        self.prep(op, IORING_OP_FADVISE, fd, None, <unsigned>length,
                  <uint64_t>offset).fadvise_advice = advice
        return await_file_operation(op)

    def _file_ftruncate(self, int fd, int64_t length):
        """ftruncate(2) (IORING_OP_FTRUNCATE, Linux 6.9+)."""
        cdef FileOperation op = self.new_op(FileOperation)
        self.prep(op, AIOURING_OP_FTRUNCATE, fd, None, 0, <uint64_t>length)
        return await_file_operation(op)

    def _file_close(self, int fd):
        """close(2) (IORING_OP_CLOSE)."""
        cdef FileOperation op = self.new_op(FileOperation)
        self.prep(op, IORING_OP_CLOSE, fd, None, 0, 0)
        return await_file_operation(op)

    def _file_unlinkat(self, path, int dir_fd=AT_FDCWD_VALUE, int flags=0):
        """unlinkat(2) (IORING_OP_UNLINKAT); AT_REMOVEDIR in flags: rmdir."""
        cdef FileOperation op = self.new_op(FileOperation, path)
        self.prep(op, IORING_OP_UNLINKAT, dir_fd, as_path_bytes(path), 0, 0
                  ).unlink_flags = flags
        return await_file_operation(op)

    def _file_mkdirat(self, path, int mode=0o777, int dir_fd=AT_FDCWD_VALUE):
        """mkdirat(2) (IORING_OP_MKDIRAT)."""
        cdef FileOperation op = self.new_op(FileOperation, path)
        self.prep(op, IORING_OP_MKDIRAT, dir_fd, as_path_bytes(path), mode, 0)
        return await_file_operation(op)

    def _file_renameat(self, src, dst, int src_dir_fd=AT_FDCWD_VALUE,
                       int dst_dir_fd=AT_FDCWD_VALUE, unsigned flags=0):
        """renameat2(2) (IORING_OP_RENAMEAT)."""
        cdef FileOperation op = self.new_op(FileOperation, src, dst)
        op.path2 = as_path_bytes(dst)
        self.prep(op, IORING_OP_RENAMEAT, src_dir_fd, as_path_bytes(src),
                  <unsigned>dst_dir_fd, <uint64_t>PyBytes_AS_STRING(op.path2)
                  ).rename_flags = flags
        return await_file_operation(op)

    def _file_linkat(self, src, dst, int src_dir_fd=AT_FDCWD_VALUE,
                     int dst_dir_fd=AT_FDCWD_VALUE, int flags=0):
        """linkat(2) (IORING_OP_LINKAT)."""
        cdef FileOperation op = self.new_op(FileOperation, src, dst)
        op.path2 = as_path_bytes(dst)
        self.prep(op, IORING_OP_LINKAT, src_dir_fd, as_path_bytes(src),
                  <unsigned>dst_dir_fd, <uint64_t>PyBytes_AS_STRING(op.path2)
                  ).hardlink_flags = flags
        return await_file_operation(op)

    def _file_symlinkat(self, target, link_path, int dir_fd=AT_FDCWD_VALUE):
        """symlinkat(2) (IORING_OP_SYMLINKAT)."""
        cdef FileOperation op = self.new_op(FileOperation, target, link_path)
        op.path2 = as_path_bytes(link_path)
        self.prep(op, IORING_OP_SYMLINKAT, dir_fd, as_path_bytes(target), 0,
                  <uint64_t>PyBytes_AS_STRING(op.path2))
        return await_file_operation(op)

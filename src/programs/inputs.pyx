# What a coroutine hands over to a chain program: buffers and files, named by
# index in the program's requests. Each buffer is exported (a held Py_buffer)
# from the start of the chain until its last request completed, so it can
# be neither freed nor resized meanwhile (a bytearray raises BufferError);
# the drivers check every request against these tables.

from os import fsencode as _fsencode, PathLike as _PathLike


cdef class ChainInputs:

    def __cinit__(self):
        self.keep = []
        self.describe = ()

    def __dealloc__(self):
        self.release()

    cdef int add_buffer(self, object obj) except -1:
        """Exports obj: a path (str or os.PathLike: encoded, NUL-terminated,
        read-only), or anything with the buffer protocol (writable when it
        allows, e.g. bytearray, memoryview, mmap, aiouring.ops.buffer(); a
        bytes object is read-only, and a path when it ends with b"\\0")."""
        cdef int i = self.nviews
        cdef uint32_t flags
        cdef str kind
        if i >= CHAIN_MAX_BUFFERS:
            raise ValueError(f"a chain takes at most {CHAIN_MAX_BUFFERS} buffers")
        if isinstance(obj, (str, _PathLike)):
            path = _fsencode(obj)
            if b"\0" in path:
                raise ValueError("embedded null byte in a path")
            obj = path + b"\0"
            kind = "path"
            flags = CHAIN_BUF_READABLE | CHAIN_BUF_PATH
            PyObject_GetBuffer(obj, &self.views[i], PyBUF_SIMPLE)
        elif isinstance(obj, int):
            raise TypeError("chain programs take buffer objects (bytearray, memoryview, "
                            "mmap, aiouring.ops.buffer(), bytes, paths), not addresses")
        else:
            try:
                PyObject_GetBuffer(obj, &self.views[i], PyBUF_WRITABLE)
                flags = CHAIN_BUF_READABLE | CHAIN_BUF_WRITABLE
                kind = "writable"
            except BufferError:
                get_readable_buffer(obj, &self.views[i])
                flags = CHAIN_BUF_READABLE
                kind = "read-only"
                if (type(obj) is bytes and self.views[i].len > 0
                        and (<char*>self.views[i].buf)[self.views[i].len - 1] == 0):
                    flags |= CHAIN_BUF_PATH
        self.nviews = i + 1
        if self.views[i].len > 0xFFFFFFFF:
            raise ValueError("a chain's buffer holds at most 4 GiB - 1 bytes")
        self.flags[i] = flags
        self.fixed_index[i] = -1
        self.keep.append(obj)
        self.describe = self.describe + ((kind, self.views[i].len),)
        return 0

    cdef int add_file(self, object obj) except -1:
        cdef int fd
        if self.nfiles >= CHAIN_MAX_FILES:
            raise ValueError(f"a chain takes at most {CHAIN_MAX_FILES} files")
        if isinstance(obj, bool):
            raise TypeError("a file is required, not bool")
        if isinstance(obj, int):
            fd = obj
        elif hasattr(obj, "fileno"):
            fd = obj.fileno()
        else:
            raise TypeError(f"a file, a socket or a descriptor is required, "
                            f"not {type(obj).__name__}")
        if fd < 0:
            raise ValueError(f"not a descriptor: {fd}")
        self.fds[self.nfiles] = fd
        self.nfiles += 1
        self.keep.append(obj)
        return 0

    cdef int fill(self, chain_tables* t, aiouring_chain* c) except -1:
        """Writes the tables the driver checks requests against, and the
        program's view of them."""
        cdef int i
        for i in range(self.nviews):
            t.buf_addr[i] = <__u64><uintptr_t>self.views[i].buf
            t.buf_len[i] = <uint32_t>self.views[i].len
            t.buf_flags[i] = self.flags[i]
            c.buffer_len[i] = <uint32_t>self.views[i].len
        for i in range(self.nfiles):
            t.fds[i] = self.fds[i]
        for i in range(CHAIN_MAX_DIRECT):
            t.direct[i] = -1
        t.nbuffers = self.nviews
        t.nfiles = self.nfiles
        c.nbuffers = self.nviews
        c.nfiles = self.nfiles
        return 0

    cdef void release(self) noexcept:
        cdef int i
        for i in range(self.nviews):
            PyBuffer_Release(&self.views[i])
        self.nviews = 0


def _inputs(buffers, files):
    cdef ChainInputs inputs = ChainInputs.__new__(ChainInputs)
    if isinstance(buffers, (str, bytes, bytearray, memoryview, _PathLike)):
        raise TypeError("buffers= takes a list of buffers")
    if isinstance(files, (str, bytes, int)) or hasattr(files, "fileno"):
        raise TypeError("files= takes a list of files")
    try:
        for obj in buffers:
            inputs.add_buffer(obj)
        for obj in files:
            inputs.add_file(obj)
    except BaseException:
        inputs.release()
        raise
    return inputs

# The ring's registered resources: a sparse table of direct descriptors
# (files that linked steps share without a Python-visible fd) and a
# sparse table of fixed buffers (READ_FIXED/WRITE_FIXED skip page pinning).


cdef class RegisteredFiles:
    """Slots of the ring's registered file table.

    Slots [0, managed) are handed out here, before a chain is submitted:
    linked steps must know the slot when they are prepared, and
    IORING_FILE_INDEX_ALLOC only reports its choice in the CQE. The rest is
    the kernel's IORING_FILE_INDEX_ALLOC range, for standalone opens."""

    cdef int register(self, io_uring* ring) except -1:
        cdef rlimit limit
        cdef int ret
        self.size = MAX_FILE_TABLE_SIZE
        if getrlimit(RLIMIT_NOFILE, &limit) == 0 and limit.rlim_cur < self.size:
            self.size = <unsigned>limit.rlim_cur
        if self.size < 2:
            raise OSError(EMFILE, "RLIMIT_NOFILE is too low for a registered file table")
        self.managed = self.size // 2
        ret = io_uring_register_files_sparse(ring, self.size)
        if ret < 0:
            raise_errno(-ret)
        ret = io_uring_register_file_alloc_range(ring, self.managed, self.size - self.managed)
        if ret < 0:
            raise_errno(-ret)
        self.free_slots = list(range(self.managed - 1, -1, -1))
        return 0

    cdef int allocate(self) except -1:
        if not self.free_slots:
            raise OSError(EMFILE, "the ring's registered file table is full")
        self.in_use += 1
        return self.free_slots.pop()

    cdef void release(self, int slot):
        if 0 <= slot < <int>self.managed:
            self.in_use -= 1
            self.free_slots.append(slot)


cdef class RegisteredBuffers:
    """Slots of the ring's fixed-buffer table; AlignedBuffer objects take one
    while they live, if one is free (else they are used as plain buffers)."""

    cdef int register(self, io_uring* ring) except -1:
        self.ring = ring
        self.free_slots = []
        # Pinned memory counts against RLIMIT_MEMLOCK: without the table,
        # buffers still work, unregistered.
        if io_uring_register_buffers_sparse(ring, BUFFER_TABLE_SIZE) == 0:
            self.usable = True
            self.free_slots = list(range(BUFFER_TABLE_SIZE - 1, -1, -1))
        return 0

    cdef int attach(self, AlignedBuffer buffer):
        """Registers buffer in a free slot; -1 when none is free or allowed."""
        cdef iovec iov
        cdef unsigned long long tag = 0
        cdef int slot
        if not self.usable or not self.free_slots:
            return -1
        slot = self.free_slots.pop()
        iov.iov_base = buffer.data
        iov.iov_len = buffer.size
        if io_uring_register_buffers_update_tag(self.ring, slot, &iov, &tag, 1) < 0:
            self.free_slots.append(slot)
            return -1
        buffer.index = slot
        buffer.table = self
        return slot

    cdef void detach(self, AlignedBuffer buffer):
        cdef iovec iov
        cdef unsigned long long tag = 0
        if buffer.index < 0:
            return
        if self.usable:
            iov.iov_base = NULL
            iov.iov_len = 0
            io_uring_register_buffers_update_tag(self.ring, buffer.index, &iov, &tag, 1)
            self.free_slots.append(buffer.index)
        buffer.index = -1
        buffer.table = None

    cdef void unregister(self):
        self.usable = False
        self.free_slots = []


cdef class AlignedBuffer:
    """Page-aligned memory (usable with O_DIRECT) that a loop may register as
    a fixed buffer; supports the buffer protocol (memoryview(buf), bytes(buf)).

    aiouring.ops.buffer(size) makes one; chain steps that name the same
    buffer share it, with no copy through Python."""

    def __cinit__(self, Py_ssize_t size):
        cdef void* memory = NULL
        if size <= 0:
            raise ValueError("buffer size must be positive")
        if posix_memalign(&memory, DIRECT_IO_ALIGNMENT, <size_t>size) != 0:
            raise MemoryError()
        memset(memory, 0, <size_t>size)
        self.data = <char*>memory
        self.size = size
        self.index = -1

    def __dealloc__(self):
        if self.table is not None:
            self.table.detach(self)
        free(self.data)
        self.data = NULL

    def __len__(self):
        return self.size

    def __getbuffer__(self, Py_buffer* view, int flags):
        PyBuffer_FillInfo(view, self, self.data, self.size, 0, flags)
        self.exports += 1

    def __releasebuffer__(self, Py_buffer* view):
        self.exports -= 1

    cdef int ensure_registered(self, Ring ring) except -2:
        """Its fixed-buffer slot in ring's table, registering it if it can."""
        cdef RegisteredBuffers table = ring.buffer_table()
        if self.index >= 0:
            return self.index if self.table is table else -1
        return table.attach(self)

    def __repr__(self):
        return f"<AlignedBuffer size={self.size} fixed={self.index >= 0}>"

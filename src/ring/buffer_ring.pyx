# The loop's provided buffer ring (IORING_REGISTER_PBUF_RING): one pool of
# receive buffers shared by every stream transport of the loop. The kernel
# picks a buffer when data arrives; the transport hands the data to its
# protocol and gives the buffer straight back. Only a few buffers are handed
# to the kernel at first, so the ones in use stay in the CPU caches; running
# out (ENOBUFS) hands it more, up to PBUF_ENTRIES.


cdef class ProvidedBufferRing:
    """PBUF_ENTRIES buffers of PBUF_SIZE bytes, registered as group bgid."""

    @staticmethod
    cdef ProvidedBufferRing create(Ring ring):
        """Sets up and registers a buffer ring; None if the kernel refuses."""
        cdef ProvidedBufferRing self = ProvidedBufferRing.__new__(ProvidedBufferRing)
        cdef io_uring_buf_reg reg
        cdef void* mem
        cdef int ret, i
        if not ring.initialized:
            return None
        self.ring = ring
        self.bgid = PBUF_GROUP
        self.ring_bytes = PBUF_ENTRIES * 16         # sizeof(struct io_uring_buf)
        self.data_bytes = <size_t>PBUF_ENTRIES * PBUF_SIZE
        mem = mmap(NULL, self.ring_bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        if mem == MAP_FAILED:
            return None
        self.br = <io_uring_buf_ring*>mem
        mem = mmap(NULL, self.data_bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        if mem == MAP_FAILED:
            munmap(self.br, self.ring_bytes)
            self.br = NULL
            return None
        self.base = <char*>mem
        memset(&reg, 0, sizeof(reg))
        reg.ring_addr = <uint64_t><size_t>self.br
        reg.ring_entries = PBUF_ENTRIES
        reg.bgid = self.bgid
        if not ring.enabled:
            ring.enable()       # registering needs the ring's issuer: this thread
        ret = io_uring_register_buf_ring(&ring.ring, &reg, 0)
        if ret < 0:
            self.unmap()
            return None
        io_uring_buf_ring_init(self.br)
        self.mask = io_uring_buf_ring_mask(PBUF_ENTRIES)
        for i in range(PBUF_ENTRIES - 1, PBUF_INITIAL - 1, -1):
            self.reserve[self.reserve_count] = i
            self.reserve_count += 1
        for i in range(PBUF_INITIAL):
            io_uring_buf_ring_add(self.br, self.base + <size_t>i * PBUF_SIZE,
                                  PBUF_SIZE, i, self.mask, i)
        io_uring_buf_ring_advance(self.br, PBUF_INITIAL)
        self.published = PBUF_INITIAL
        return self

    cdef void grow(self) noexcept:
        """The kernel ran out of buffers: double the number it may use."""
        cdef int n = min(self.published, self.reserve_count), i
        cdef uint16_t bid
        for i in range(n):
            self.reserve_count -= 1
            bid = self.reserve[self.reserve_count]
            io_uring_buf_ring_add(self.br, self.base + <size_t>bid * PBUF_SIZE,
                                  PBUF_SIZE, bid, self.mask, i)
        if n:
            io_uring_buf_ring_advance(self.br, n)
            self.published += n

    cdef void unmap(self) noexcept:
        if self.base != NULL:
            munmap(self.base, self.data_bytes)
            self.base = NULL
        if self.br != NULL:
            munmap(self.br, self.ring_bytes)
            self.br = NULL

    cdef void release(self) noexcept:
        """After the ring is closed: the kernel no longer uses the memory."""
        self.unmap()

    def __dealloc__(self):
        # Only unmapped by release(): the ring may outlive this object's owner.
        pass

# The loop's provided buffer ring (IORING_REGISTER_PBUF_RING): one pool of
# receive buffers shared by every stream transport of the loop.

cdef enum:
    PBUF_ENTRIES = 128          # a power of two, as the kernel requires
    PBUF_INITIAL = 16
    PBUF_SIZE = 65536
    PBUF_GROUP = 1              # buffer group id of the loop's ring


cdef class ProvidedBufferRing:
    """PBUF_ENTRIES buffers of PBUF_SIZE bytes, registered as group bgid."""
    cdef Ring ring
    cdef io_uring_buf_ring* br
    cdef char* base
    cdef size_t ring_bytes
    cdef size_t data_bytes
    cdef int mask
    cdef readonly uint16_t bgid
    cdef readonly unsigned long long recycled
    cdef readonly int published         # buffers handed to the kernel
    cdef uint16_t reserve[PBUF_ENTRIES]  # the others, never used yet
    cdef int reserve_count

    @staticmethod
    cdef ProvidedBufferRing create(Ring ring)
    cdef void grow(self) noexcept
    cdef void unmap(self) noexcept
    cdef void release(self) noexcept

    cdef inline char* buffer(self, uint16_t bid) noexcept:
        return self.base + <size_t>bid * PBUF_SIZE

    cdef inline void recycle(self, uint16_t bid) noexcept:
        """Gives buffer bid back to the kernel."""
        io_uring_buf_ring_add(self.br, self.base + <size_t>bid * PBUF_SIZE,
                              PBUF_SIZE, bid, self.mask, 0)
        io_uring_buf_ring_advance(self.br, 1)
        self.recycled += 1

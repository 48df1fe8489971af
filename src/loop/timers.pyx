# A binary min-heap of timer handles in a C array, ordered by (when, sequence)
# so timers due at the same time run in the order they were scheduled.


cdef inline bint entry_before(TimerEntry* a, TimerEntry* b) nogil:
    return a.when < b.when or (a.when == b.when and a.seq < b.seq)


cdef class TimerHeap:

    def __dealloc__(self):
        self.clear()
        PyMem_Free(self.entries)

    def __len__(self):
        return self.size

    cdef int push(self, TimerHandle handle) except -1:
        cdef TimerEntry* grown
        cdef Py_ssize_t i, parent
        cdef TimerEntry entry
        if self.size == self.capacity:
            grown = <TimerEntry*>PyMem_Realloc(
                self.entries, sizeof(TimerEntry) * (self.capacity * 2 + 64))
            if grown == NULL:
                raise MemoryError()
            self.entries = grown
            self.capacity = self.capacity * 2 + 64
        entry.when = handle._when
        entry.seq = self.seq
        entry.handle = <PyObject*>handle
        self.seq += 1
        Py_INCREF(handle)
        handle._scheduled = True
        i = self.size
        self.size += 1
        while i > 0:
            parent = (i - 1) >> 1
            if not entry_before(&entry, &self.entries[parent]):
                break
            self.entries[i] = self.entries[parent]
            i = parent
        self.entries[i] = entry
        return 0

    cdef TimerHandle pop(self):
        """Removes the earliest timer and returns it (size must be > 0)."""
        cdef TimerHandle handle = <TimerHandle>self.entries[0].handle
        Py_DECREF(handle)          # the heap's reference; `handle` holds one
        self.size -= 1
        if self.size > 0:
            self.sift_down(0, self.entries[self.size])
        handle._scheduled = False
        if handle._cancelled:
            self.cancelled -= 1
        return handle

    cdef void sift_down(self, Py_ssize_t i, TimerEntry entry):
        cdef Py_ssize_t child
        while True:
            child = 2 * i + 1
            if child >= self.size:
                break
            if child + 1 < self.size and entry_before(
                    &self.entries[child + 1], &self.entries[child]):
                child += 1
            if not entry_before(&self.entries[child], &entry):
                break
            self.entries[i] = self.entries[child]
            i = child
        self.entries[i] = entry

    cdef int drop_cancelled(self) except -1:
        """Removes every cancelled handle at once, then re-heapifies."""
        cdef Py_ssize_t i, kept = 0
        cdef TimerHandle handle
        for i in range(self.size):
            handle = <TimerHandle>self.entries[i].handle
            if handle._cancelled:
                handle._scheduled = False
                Py_DECREF(handle)
            else:
                self.entries[kept] = self.entries[i]
                kept += 1
        self.size = kept
        self.cancelled = 0
        i = kept // 2 - 1
        while i >= 0:
            self.sift_down(i, self.entries[i])
            i -= 1
        return 0

    cdef void clear(self):
        cdef Py_ssize_t i
        cdef Py_ssize_t size = self.size
        self.size = 0
        self.cancelled = 0
        for i in range(size):
            (<TimerHandle>self.entries[i].handle)._scheduled = False
            Py_DECREF(<object>self.entries[i].handle)

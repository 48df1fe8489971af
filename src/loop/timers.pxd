# A binary min-heap of timer handles in a C array, ordered by (when, sequence)
# so timers due at the same time run in the order they were scheduled.

cdef struct TimerEntry:
    double when
    uint64_t seq
    PyObject* handle        # owned reference to a TimerHandle


cdef class TimerHeap:
    cdef TimerEntry* entries
    cdef Py_ssize_t size
    cdef Py_ssize_t capacity
    cdef uint64_t seq
    cdef Py_ssize_t cancelled        # cancelled handles still in the heap

    cdef int push(self, TimerHandle handle) except -1
    cdef TimerHandle pop(self)
    cdef void sift_down(self, Py_ssize_t i, TimerEntry entry)
    cdef int drop_cancelled(self) except -1
    cdef void clear(self)

    cdef inline double first_when(self):
        return self.entries[0].when

    cdef inline TimerHandle first(self):
        return <TimerHandle>self.entries[0].handle

# Callback handles, as asyncio.Handle / asyncio.TimerHandle, run without
# Python-level dispatch: the loop calls Handle.run directly.

cdef class Handle:
    """A callback scheduled with call_soon(); cancel() stops it running."""
    cdef object callback
    cdef tuple args
    cdef object context
    cdef Loop loop
    cdef public bint _cancelled
    cdef public object _source_traceback
    cdef object __weakref__

    cdef int run(self) except -1
    cdef report(self, exc)
    cdef str format_callback(self)
    cdef list repr_info(self)


cdef class TimerHandle(Handle):
    """A callback scheduled with call_later()/call_at()."""
    cdef readonly double _when
    cdef public bint _scheduled


cdef Handle new_handle(Loop loop, object callback, tuple args, object context)

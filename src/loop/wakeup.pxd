# Waking the loop from other threads and from signals (see wakeup.pyx).

cdef class SelfPipeRead(Operation):
    """The ring's RECV on the wake-up socket: zero bytes are wake-ups,
    others signal numbers."""
    cdef Wakeup wakeup
    cdef int fd
    cdef char buffer[4096]

    cdef int arm(self) except -1


cdef class Wakeup:
    """The loop's wake-up socket pair and its signal handlers."""
    cdef Loop loop
    cdef object write_sock
    cdef object read_sock
    cdef int write_fd
    cdef SelfPipeRead reader
    cdef dict signal_handlers           # signal number -> Handle
    cdef bint routing                   # write_fd is Python's wake-up fd while running
    cdef int previous_wakeup_fd

    cdef int open(self, Loop loop) except -1
    cdef void wake(self) noexcept
    cdef int start_routing(self) except -1
    cdef int stop_routing(self) except -1
    cdef int check_signal(self, sig) except -1
    cdef object add(self, sig, callback, tuple args)
    cdef bint remove(self, sig) except -1
    cdef int restore_wakeup_fd(self) except -1
    cdef int dispatch_signal(self, int sig) except -1
    cdef int close(self) except -1

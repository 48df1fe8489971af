# Waking the loop from outside: a socket pair whose read end the ring keeps
# a RECV on. call_soon_threadsafe writes a zero byte; a signal writes its
# number (the loop makes its write end Python's signal wake-up fd while it
# runs in the main thread), so a signal always ends the ring's wait and
# Python's handlers run at once. add_signal_handler callbacks are dispatched
# from those numbers, as asyncio's Unix loop does.

import signal as py_signal
from socket import socketpair
from sys import is_finalizing
from threading import main_thread, current_thread


cdef class SelfPipeRead(Operation):

    cdef int arm(self) except -1:
        io_uring_prep_recv(self.wakeup.loop._ring.sqe_for(self), self.fd, self.buffer,
                           sizeof(self.buffer), 0)
        return 0

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        cdef Py_ssize_t i
        if self.wakeup.loop._closed or self.fd < 0 or res <= 0:
            return 0
        self.arm()
        for i in range(res):
            if self.buffer[i] != 0:         # a signal number; 0 is a wake-up
                self.wakeup.dispatch_signal(<unsigned char>self.buffer[i])
        return 0


def _ignore_signal(signum, frame):
    """The Python-level handler of a signal the loop handles: the number
    reaches the loop through the wake-up fd."""


cdef class Wakeup:

    cdef int open(self, Loop loop) except -1:
        self.loop = loop
        self.signal_handlers = {}
        self.write_sock, self.read_sock = socketpair()
        self.write_sock.setblocking(False)
        self.read_sock.setblocking(False)
        self.write_fd = self.write_sock.fileno()
        self.previous_wakeup_fd = -1
        self.reader = SelfPipeRead.__new__(SelfPipeRead)
        self.reader.wakeup = self
        self.reader.background = True
        self.reader.fd = self.read_sock.fileno()
        self.reader.arm()
        return 0

    cdef void wake(self) noexcept:
        if self.write_fd >= 0:
            send(self.write_fd, b"\0", 1, MSG_DONTWAIT | MSG_NOSIGNAL)

    # -- signals while the loop runs ----------------------------------------

    cdef int start_routing(self) except -1:
        """Makes the wake-up socket Python's signal wake-up fd while the loop
        runs (main thread only: Python runs signal handlers there)."""
        if self.routing or self.write_fd < 0 or current_thread() is not main_thread():
            return 0
        try:
            previous = py_signal.set_wakeup_fd(self.write_fd, warn_on_full_buffer=False)
        except ValueError:          # not the main interpreter
            return 0
        if not self.signal_handlers:
            # With handlers the fd is already this loop's, and what it
            # replaced is saved: a second run must not save its own fd.
            self.previous_wakeup_fd = previous
        self.routing = True
        return 0

    cdef int stop_routing(self) except -1:
        if not self.routing:
            return 0
        self.routing = False
        if self.signal_handlers:
            return 0                # add_signal_handler keeps it routed
        try:
            py_signal.set_wakeup_fd(self.previous_wakeup_fd)
        except ValueError:
            pass
        self.previous_wakeup_fd = -1
        return 0

    # -- add_signal_handler ----------------------------------------------------

    cdef int check_signal(self, sig) except -1:
        if not isinstance(sig, int):
            raise TypeError(f"sig must be an int, not {sig!r}")
        if sig not in py_signal.valid_signals():
            raise ValueError(f"invalid signal number {sig}")
        return 0

    cdef object add(self, sig, callback, tuple args):
        cdef Handle handle
        self.check_signal(sig)
        if current_thread() is not main_thread():
            raise RuntimeError("set_wakeup_fd only works in main thread of the main interpreter")
        try:
            previous = py_signal.set_wakeup_fd(self.write_fd, warn_on_full_buffer=False)
        except ValueError as exc:
            raise RuntimeError(str(exc))
        if not self.signal_handlers and not self.routing:
            self.previous_wakeup_fd = previous
        handle = new_handle(self.loop, callback, args, None)
        self.signal_handlers[sig] = handle
        try:
            # The Python handler does nothing: the C handler already wrote
            # the number to the wake-up socket. No SA_RESTART: a blocking
            # system call elsewhere sees EINTR, as with asyncio.
            py_signal.signal(sig, _ignore_signal)
            py_signal.siginterrupt(sig, False)
        except OSError as exc:
            del self.signal_handlers[sig]
            if not self.signal_handlers:
                self.restore_wakeup_fd()
            if exc.errno == EINVAL:
                raise RuntimeError(f"sig {sig:d} cannot be caught")
            raise
        return handle

    cdef bint remove(self, sig) except -1:
        self.check_signal(sig)
        if self.signal_handlers.pop(sig, None) is None:
            return False
        default = py_signal.default_int_handler if sig == py_signal.SIGINT else py_signal.SIG_DFL
        try:
            py_signal.signal(sig, default)
        except OSError as exc:
            if exc.errno == EINVAL:
                raise RuntimeError(f"sig {sig:d} cannot be caught")
            raise
        if not self.signal_handlers:
            self.restore_wakeup_fd()
        return True

    cdef int restore_wakeup_fd(self) except -1:
        if self.routing:
            return 0                # the running loop keeps it until it stops
        try:
            py_signal.set_wakeup_fd(self.previous_wakeup_fd)
        except (ValueError, OSError) as exc:
            logger.info("set_wakeup_fd(%s) failed: %s", self.previous_wakeup_fd, exc)
        self.previous_wakeup_fd = -1
        return 0

    cdef int dispatch_signal(self, int sig) except -1:
        handle = self.signal_handlers.get(sig)
        if handle is None:
            return 0
        if (<Handle>handle)._cancelled:
            self.remove(sig)
        else:
            self.loop.ready.append(handle)
        return 0

    # -- closing ---------------------------------------------------------------

    cdef int close(self) except -1:
        """Removes the signal handlers (as asyncio's close does) and closes
        the socket pair; the ring has been drained."""
        if self.signal_handlers:
            if is_finalizing():
                warn(f"Closing the loop {self.loop!r} on interpreter shutdown "
                     "stage, skipping signal handlers removal",
                     ResourceWarning, source=self.loop)
                self.signal_handlers.clear()
            else:
                for sig in list(self.signal_handlers):
                    self.remove(sig)
        self.stop_routing()
        if self.reader is not None:
            self.reader.fd = -1
        for sock in (self.write_sock, self.read_sock):
            if sock is not None:
                sock.close()
        self.write_sock = self.read_sock = None
        self.write_fd = -1
        return 0

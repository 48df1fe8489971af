# The native event loop: it owns the ring and the components that issue
# requests on it, runs the ready queue and the timer heap, and makes one
# io_uring_enter per iteration. aiouring.Loop (aiouring/loop.py) completes
# it with asyncio.BaseEventLoop's long tail (run_until_complete, executors,
# exception handlers, getaddrinfo, create_connection, ...).

from asyncio import Future, events as aio_events
from asyncio.base_events import _format_handle as format_handle
from asyncio.coroutines import iscoroutine
try:
    # asyncio's own check without the public name's deprecation (3.14+)
    from asyncio.coroutines import _iscoroutinefunction as iscoroutinefunction
except ImportError:
    from asyncio.coroutines import iscoroutinefunction
from asyncio.format_helpers import extract_stack
from asyncio.log import logger
from sys import _getframe as sys_getframe
from threading import get_ident

cdef enum:
    # Compact the timer heap when this many cancelled timers make up more
    # than half of it (asyncio's thresholds).
    MIN_CANCELLED_TIMERS_TO_COMPACT = 100

cdef double MAXIMUM_WAIT = 24 * 3600.0
# Python 3.14's call_soon_threadsafe returns a handle whose cancel() and run
# hold a lock (asyncio.events._ThreadSafeHandle), so a callback cancelled from
# another thread never runs after cancel() returned: the same class here.
cdef object ThreadSafeHandle = getattr(aio_events, "_ThreadSafeHandle", None)
cdef bint malloc_tuned = False


cdef void tune_malloc():
    """Received data lives in bytes objects until their send completes, one
    loop iteration later: keep glibc from returning the heap top to the kernel
    (and faulting it back in) on every iteration. Left alone when the user
    tuned malloc through the environment."""
    global malloc_tuned
    if malloc_tuned:
        return
    malloc_tuned = True
    from os import environ
    if any(name in environ for name in ('MALLOC_TRIM_THRESHOLD_', 'MALLOC_MMAP_THRESHOLD_',
                                        'GLIBC_TUNABLES', 'AIOURING_NO_MALLOC_TUNING')):
        return
    mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024)
    mallopt(M_TRIM_THRESHOLD, 32 * 1024 * 1024)


cdef class Loop:

    def __cinit__(self, *args, **kwargs):
        self.ready = []
        self.timers = TimerHeap()
        self._clock_resolution = 1e-9
        self.slow_callback_duration = 0.1
        self._pid = getpid()

    def _init_core(self):
        """Creates the ring and the components that use it."""
        tune_malloc()
        self._ring = Ring()
        self._ring.error_handler = self._operation_failed
        self._wakeup = Wakeup.__new__(Wakeup)
        self._wakeup.open(self)
        self._watches = FdWatches.__new__(FdWatches)
        self._watches.loop = self
        self._sockets = SocketRequests.__new__(SocketRequests)
        self._sockets.open(self)
        self._ring.guard = self._sockets
        self._transports = Transports.__new__(Transports)
        self._transports.open(self)
        self._files = FileRequests.__new__(FileRequests)
        self._files.loop = self
        self._links = LinkedChains.__new__(LinkedChains)
        self._links.loop = self
        self._programs = ChainPrograms.__new__(ChainPrograms)
        self._programs.loop = self

    def _operation_failed(self, exc, op):
        self.call_exception_handler({
            'message': f'Exception in completion of {type(op).__name__}',
            'exception': exc,
        })

    # -- checks ------------------------------------------------------------

    cdef int check_closed(self) except -1:
        if self._closed:
            raise RuntimeError('Event loop is closed')
        return 0

    cdef int check_thread(self) except -1:
        """Debug mode: a non-thread-safe call from another thread than the
        running loop's is an error, as in asyncio."""
        if self._thread_id is not None and self._thread_id != get_ident():
            raise RuntimeError(
                "Non-thread-safe operation invoked on an event loop other "
                "than the current one")
        return 0

    cdef int check_callback(self, callback, str method) except -1:
        if iscoroutine(callback) or iscoroutinefunction(callback):
            raise TypeError(f"coroutines cannot be used with {method}()")
        if not callable(callback):
            raise TypeError(f'a callable object was expected by {method}(), '
                            f'got {callback!r}')
        return 0

    def _check_thread(self):
        self.check_thread()

    def _check_callback(self, callback, method):
        self.check_callback(callback, method)

    # -- time and scheduling ---------------------------------------------

    def time(self):
        return monotonic()

    def call_soon(self, callback, *args, context=None):
        self.check_closed()
        if self._debug:
            self.check_thread()
            self.check_callback(callback, 'call_soon')
        cdef Handle handle = new_handle(self, callback, args, context)
        self.ready.append(handle)
        return handle

    cdef Handle soon(self, object callback, tuple args):
        """call_soon without the checks, for the components."""
        cdef Handle handle = new_handle(self, callback, args, None)
        self.ready.append(handle)
        return handle

    cdef Handle soon_in(self, object context, object callback, tuple args):
        """call_soon in a given context (a transport's), for the components."""
        cdef Handle handle = new_handle(self, callback, args, context)
        self.ready.append(handle)
        return handle

    def _call_soon(self, callback, args, context):
        cdef Handle handle = new_handle(self, callback, args, context)
        self.ready.append(handle)
        return handle

    def call_soon_threadsafe(self, callback, *args, context=None):
        self.check_closed()
        if self._debug:
            self.check_callback(callback, 'call_soon_threadsafe')
        if ThreadSafeHandle is not None:
            handle = ThreadSafeHandle(callback, args, self, context)
            if handle._source_traceback:
                # Debug mode: the traceback ends in the handle's __init__;
                # it should end where call_soon_threadsafe() was called.
                handle._source_traceback.pop()
        else:
            handle = new_handle(self, callback, args, context)
        self.ready.append(handle)
        self._wakeup.wake()
        return handle

    def _write_to_self(self):
        self._wakeup.wake()

    def _add_callback(self, handle):
        if not handle._cancelled:
            self.ready.append(handle)

    def _add_callback_signalsafe(self, handle):
        self._add_callback(handle)
        self._wakeup.wake()

    def call_later(self, delay, callback, *args, context=None):
        if delay is None:
            raise TypeError('delay must not be None')
        return self.schedule_timer(monotonic() + delay, callback, args, context, 'call_later')

    def call_at(self, when, callback, *args, context=None):
        if when is None:
            raise TypeError("when cannot be None")
        return self.schedule_timer(when, callback, args, context, 'call_at')

    cdef TimerHandle schedule_timer(self, double when, callback, tuple args,
                                    context, str method):
        self.check_closed()
        if self._debug:
            self.check_thread()
            self.check_callback(callback, method)
        cdef TimerHandle handle = TimerHandle.__new__(TimerHandle)
        handle.callback = callback
        handle.args = args
        handle.loop = self
        handle.context = context if context is not None else PyContext_CopyCurrent()
        handle._when = when
        if self._debug:
            handle._source_traceback = extract_stack(sys_getframe(0))
        self.timers.push(handle)
        return handle

    cdef int timer_cancelled(self, TimerHandle handle) except -1:
        if handle._scheduled:
            self.timers.cancelled += 1
        return 0

    def _timer_handle_cancelled(self, handle):
        self.timer_cancelled(handle)

    def create_future(self):
        return Future(loop=self)

    def stop(self):
        self._stopping = True

    @property
    def _ready(self):
        return self.ready

    @_ready.setter
    def _ready(self, handles):
        self.ready = list(handles)

    # -- one iteration ----------------------------------------------------

    def _run_once(self):
        self.run_once()

    cdef int run_once(self) except -1:
        """One iteration, in asyncio's order: enter the ring (submit, and wait
        unless callbacks are ready), run the callbacks that were ready before
        it, dispatch its completions (protocol methods are called here, after
        those callbacks, as a selector loop's event callbacks), then run the
        timers now due. Callbacks scheduled meanwhile wait for the next."""
        cdef TimerHeap timers = self.timers
        cdef double timeout, end
        cdef list due

        if (timers.cancelled > MIN_CANCELLED_TIMERS_TO_COMPACT
                and timers.cancelled * 2 > timers.size):
            timers.drop_cancelled()
        while timers.size and timers.first()._cancelled:
            timers.pop()

        self._transports.flush()
        self._sockets.before_enter()
        if self._watches.readers or self._watches.writers:
            self._watches.before_enter()

        if self.ready or self._stopping:
            timeout = 0
        elif timers.size:
            timeout = min(max(0.0, timers.first_when() - monotonic()), MAXIMUM_WAIT)
        else:
            timeout = -1
        self._ring.enter(timeout)

        if self.ready:
            self.run_handles(self.ready)
        self._ring.reap()

        end = monotonic() + self._clock_resolution
        due = None
        while timers.size:
            if timers.first()._cancelled:
                timers.pop()
                continue
            if timers.first_when() >= end:
                break
            if due is None:
                due = []
            due.append(timers.pop())
        if due is not None:
            self.run_handles(due)
        return 0

    cdef int run_handles(self, list handles) except -1:
        """Runs handles (taken over; self.ready starts afresh if it is
        self.ready); on SystemExit/KeyboardInterrupt the ones not yet run go
        back to the front of self.ready."""
        cdef Py_ssize_t i = 0, count = len(handles)
        cdef object handle
        if handles is self.ready:
            self.ready = []
        try:
            if self._debug:
                for i in range(count):
                    self.run_handle_debug(handles[i])
            else:
                for i in range(count):
                    handle = handles[i]
                    if type(handle) is Handle or type(handle) is TimerHandle:
                        if not (<Handle>handle)._cancelled:
                            (<Handle>handle).run()
                    elif not handle._cancelled:
                        handle._run()
        except BaseException:
            self.ready[0:0] = handles[i + 1:]
            raise
        return 0

    cdef int run_handle_debug(self, handle) except -1:
        if handle._cancelled:
            return 0
        self._current_handle = handle
        try:
            t0 = monotonic()
            handle._run()
            dt = monotonic() - t0
            if dt >= self.slow_callback_duration:
                logger.warning('Executing %s took %.3f seconds', format_handle(handle), dt)
        finally:
            self._current_handle = None
        return 0

    def _start_signal_routing(self):
        """run_forever's set-up: signals end the ring's wait (main thread)."""
        self._wakeup.start_routing()

    def _stop_signal_routing(self):
        self._wakeup.stop_routing()

    # -- signals -------------------------------------------------------------

    def add_signal_handler(self, sig, callback, *args):
        """Calls callback(*args) in the loop when signal sig arrives (main
        thread only), as asyncio's Unix loop does."""
        if iscoroutine(callback) or iscoroutinefunction(callback):
            raise TypeError("coroutines cannot be used with add_signal_handler()")
        self.check_closed()
        self._wakeup.add(sig, callback, args)

    def remove_signal_handler(self, sig):
        """Restores sig's default handling; False if no handler was set."""
        return self._wakeup.remove(sig)

    @property
    def _signal_handlers(self):
        return self._wakeup.signal_handlers

    # -- fd watches ----------------------------------------------------------

    def _add_reader(self, fd, callback, *args):
        self.check_closed()
        return self._watches.watch(self._watches.readers, fd, POLLIN, callback, args)

    def _add_writer(self, fd, callback, *args):
        self.check_closed()
        return self._watches.watch(self._watches.writers, fd, POLLOUT, callback, args)

    def _remove_reader(self, fd):
        if self._closed:
            return False
        return self._watches.unwatch(self._watches.readers, fd)

    def _remove_writer(self, fd):
        if self._closed:
            return False
        return self._watches.unwatch(self._watches.writers, fd)

    # -- socket requests (the sock_* API) ----------------------------------

    def sock_recv(self, sock, n):
        """Receives up to n bytes from sock (io_uring RECV)."""
        return self._sockets.recv(sock, n)

    def sock_recv_into(self, sock, buf):
        """Receives into buf; returns the number of bytes (io_uring RECV)."""
        return self._sockets.recv_into(sock, buf)

    def sock_recvfrom(self, sock, bufsize):
        """Receives a datagram: (data, address) (io_uring RECVMSG)."""
        return self._sockets.recvfrom(sock, bufsize)

    def sock_recvfrom_into(self, sock, buf, nbytes=0):
        """Receives a datagram into buf: (nbytes, address)."""
        return self._sockets.recvfrom_into(sock, buf, nbytes)

    def sock_sendall(self, sock, data):
        """Sends all of data (io_uring SEND, resubmitted after partial sends)."""
        return self._sockets.sendall(sock, data)

    def sock_sendto(self, sock, data, address):
        """Sends a datagram to address; returns the bytes sent (io_uring SENDMSG)."""
        return self._sockets.sendto(sock, data, address)

    def sock_accept(self, sock):
        """Accepts a connection: (conn, address), conn non-blocking (io_uring ACCEPT)."""
        return self._sockets.accept(sock)

    def _sock_connect_resolved(self, sock, address):
        """Connects to an already-resolved address (io_uring CONNECT)."""
        return self._sockets.connect(sock, address)

    # -- linked chains -------------------------------------------------------

    def chain(self, *steps, timeout=None):
        """Submits steps (built with aiouring.ops) as one linked chain and
        returns an awaitable of the list of their results; resumes the
        awaiting coroutine once, however many steps there are.

        A step that fails raises aiouring.ChainError naming the step, with its
        errno and every step's outcome (aiouring.CANCELLED for steps the
        failure cancelled). timeout (seconds) bounds the whole chain: each
        step is guarded by an IORING_OP_LINK_TIMEOUT at the same absolute
        deadline, and expiry raises aiouring.ChainTimeoutError. Cancelling the
        awaiting task cancels the chain and raises aiouring.ChainCancelledError
        (a CancelledError) with the outcomes once the kernel is done with it."""
        self.check_closed()
        return self._links.submit(steps, timeout)

    # -- shutdown ------------------------------------------------------------

    def _close_core(self):
        """Stops the components, drains the ring, closes the wake-up sockets."""
        self._programs.close()
        self.timers.clear()
        self._watches.close()
        self._transports.close()
        if self._ring is not None:
            self._ring.close()
        self._transports.release_buffers(self._ring.left_requests)
        self._wakeup.close()

    # -- introspection for tests and benchmarks -----------------------------

    def completions_to_python(self):
        """How many completions reached Python: one per finished operation
        (a linked chain of any length counts one), for tests and benchmarks."""
        return self._ring.completions_to_python

    def _ring_stats(self):
        """Counters of the ring: CQEs that reached the loop, completions
        delivered to Python (one per operation, so one per linked chain
        however many steps it has), enters, operations in flight."""
        return {
            'completions': self._ring.completions_dispatched,
            'completions_to_python': self._ring.completions_to_python,
            'enters': self._ring.enters,
            'inflight': self._ring.inflight,
            'setup': self._ring.setup_mode,
        }

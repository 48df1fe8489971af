# The hot half of the event loop: the ready queue, timers, one iteration
# (ring wait -> due timers -> callbacks), thread-safe wake-ups and fd watches.
# The long tail of the asyncio contract lives in aiouring/loop.py on top.

cdef enum:
    # Compact the timer heap when this many cancelled timers make up more
    # than half of it (asyncio's thresholds).
    MIN_CANCELLED_TIMERS_TO_COMPACT = 100


cdef double MAXIMUM_WAIT = 24 * 3600.0


cdef inline double monotonic() nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9


cdef Handle new_handle(LoopCore loop, object callback, tuple args, object context):
    cdef Handle handle = Handle.__new__(Handle)
    handle.callback = callback
    handle.args = args
    handle.loop = loop
    handle.context = context if context is not None else PyContext_CopyCurrent()
    if loop._debug:
        handle._source_traceback = extract_stack(sys_getframe(0))
    return handle


cdef class SelfPipeRead(Operation):
    """Reads the self-pipe: thread-safe wake-ups and signal numbers."""

    cdef LoopCore loop
    cdef int fd
    cdef char buffer[4096]

    cdef int arm(self) except -1:
        self.loop._ring.sqe_for(self, IORING_OP_RECV, self.fd, self.buffer,
                                sizeof(self.buffer), 0)
        return 0

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        if self.loop._closed or self.fd < 0 or res <= 0:
            return 0
        self.arm()
        if count_zeros(self.buffer, res) != res:     # not only wake-ups
            self.loop._process_self_data(self.buffer[:res])
        return 0


cdef inline Py_ssize_t count_zeros(const char* data, Py_ssize_t length):
    cdef Py_ssize_t i, zeros = 0
    for i in range(length):
        if data[i] == 0:
            zeros += 1
    return zeros


cdef class FdWatch(Operation):
    """add_reader/add_writer: a one-shot poll re-armed each time it fires,
    so a callback that leaves data unread is called again (level-triggered,
    as with select/epoll in asyncio)."""

    cdef LoopCore loop
    cdef int fd
    cdef uint32_t events
    cdef Handle handle
    cdef bint active

    cdef int arm(self) except -1:
        cdef io_uring_sqe* sqe = self.loop._ring.sqe_for(
            self, IORING_OP_POLL_ADD, self.fd, NULL, 0, 0)
        sqe.poll32_events = self.events
        return 0

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        if not self.active:
            return 0
        if res == -ECANCELED:
            return 0
        self.arm()
        if not self.handle._cancelled:
            self.loop.ready.append(self.handle)
        return 0


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


cdef class FlushTarget:
    """Something (a transport) with writes to submit right before the loop
    enters the kernel, so one iteration's writes become one request."""

    cdef bint flush_registered

    cdef int flush(self) except -1:
        return 0


cdef class LoopCore:
    """Cython base of aiouring.Loop."""

    cdef readonly Ring _ring
    cdef list ready
    cdef TimerHeap timers
    cdef public bint _closed
    cdef public bint _stopping
    cdef public bint _debug
    cdef public object _thread_id
    cdef public double _clock_resolution
    cdef public double slow_callback_duration
    cdef public object _current_handle
    cdef public object _csock
    cdef public object _ssock
    cdef SelfPipeRead self_pipe
    cdef dict readers
    cdef dict writers
    cdef object leftovers       # socket -> data the kernel delivered after a cancel
    cdef Py_ssize_t leftover_count  # entries in leftovers: a C check on hot paths
    cdef list flush_targets     # FlushTargets to flush before the next enter
    cdef ProvidedBufferRing pbuf    # shared receive buffers; None until first used
    cdef bint pbuf_tried
    cdef readonly int _pid
    cdef object __weakref__

    def __cinit__(self, *args, **kwargs):
        self.ready = []
        self.timers = TimerHeap()
        self.readers = {}
        self.writers = {}
        self.flush_targets = []
        self._clock_resolution = 1e-9
        self.slow_callback_duration = 0.1
        self._pid = getpid()

    def _init_core(self):
        """Creates the ring and starts reading the self-pipe."""
        tune_malloc()
        self._ring = Ring()
        self._ring.error_handler = self._operation_failed
        self.leftovers = WeakKeyDictionary()
        self._csock, self._ssock = socketpair()
        self._csock.setblocking(False)
        self._ssock.setblocking(False)
        self.self_pipe = SelfPipeRead()
        self.self_pipe.loop = self
        self.self_pipe.background = True
        self.self_pipe.fd = self._ssock.fileno()
        self.self_pipe.arm()

    def _ready_queue(self):
        return self.ready

    def _set_ready_queue(self, handles):
        self.ready = list(handles)

    def _operation_failed(self, exc, op):
        self.call_exception_handler({
            'message': f'Exception in completion of {type(op).__name__}',
            'exception': exc,
        })

    # -- time and scheduling ---------------------------------------------

    def time(self):
        return monotonic()

    cdef inline int check_closed(self) except -1:
        if self._closed:
            raise RuntimeError('Event loop is closed')
        return 0

    def call_soon(self, callback, *args, context=None):
        self.check_closed()
        if self._debug:
            self._check_thread()
            self._check_callback(callback, 'call_soon')
        cdef Handle handle = new_handle(self, callback, args, context)
        self.ready.append(handle)
        return handle

    cdef inline Handle soon(self, object callback, tuple args):
        """call_soon without the checks, for the transports."""
        cdef Handle handle = new_handle(self, callback, args, None)
        self.ready.append(handle)
        return handle

    cdef inline void want_flush(self, FlushTarget target):
        if not target.flush_registered:
            target.flush_registered = True
            self.flush_targets.append(target)

    cdef int flush_all(self) except -1:
        cdef list targets = self.flush_targets
        cdef FlushTarget target
        self.flush_targets = []
        for target in targets:
            target.flush_registered = False
            try:
                target.flush()
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self.call_exception_handler({
                    'message': 'Exception while flushing writes',
                    'exception': exc,
                })
        return 0

    cdef ProvidedBufferRing buffer_ring(self):
        """The loop's provided buffer ring, set up on first use (from the
        thread running the loop); None when the kernel refuses it."""
        if not self.pbuf_tried:
            self.pbuf_tried = True
            self.pbuf = ProvidedBufferRing.create(self._ring)
        return self.pbuf

    def _use_buffer_ring(self, bint enabled):
        """Tests: False makes new stream transports receive with single-shot
        RECVs into their own buffers (the path for kernels without buffer rings)."""
        if not enabled:
            self.pbuf_tried = True
            self.pbuf = None
        elif self.pbuf is None:
            self.pbuf_tried = False

    def _call_soon(self, callback, args, context):
        cdef Handle handle = new_handle(self, callback, args, context)
        self.ready.append(handle)
        return handle

    def call_soon_threadsafe(self, callback, *args, context=None):
        self.check_closed()
        if self._debug:
            self._check_callback(callback, 'call_soon_threadsafe')
        cdef Handle handle = new_handle(self, callback, args, context)
        self.ready.append(handle)
        self._write_to_self()
        return handle

    def _write_to_self(self):
        cdef int fd
        if self._csock is not None:
            fd = self._csock.fileno()
            if fd >= 0:
                send(fd, b"\0", 1, MSG_DONTWAIT | MSG_NOSIGNAL)

    def _add_callback(self, handle):
        if not handle._cancelled:
            self.ready.append(handle)

    def _add_callback_signalsafe(self, handle):
        self._add_callback(handle)
        self._write_to_self()

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
            self._check_thread()
            self._check_callback(callback, method)
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

    cdef timer_cancelled(self, TimerHandle handle):
        if handle._scheduled:
            self.timers.cancelled += 1

    def _timer_handle_cancelled(self, handle):
        self.timer_cancelled(handle)

    def create_future(self):
        return Future(loop=self)

    def stop(self):
        self._stopping = True

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

        if self.flush_targets:
            self.flush_all()

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

    # -- fd watches (add_reader / add_writer) ------------------------------

    cdef int check_fd(self, fd) except -1:
        cdef int fileno = fileobj_to_fd(fd)
        if fcntl(fileno, F_GETFD) < 0:
            raise OSError(EBADF, os_strerror(EBADF))
        return fileno

    cdef watch(self, dict watches, fd, uint32_t events, callback, tuple args):
        self.check_closed()
        cdef int fileno = self.check_fd(fd)
        cdef Handle handle = new_handle(self, callback, args, None)
        cdef FdWatch watch = watches.get(fileno)
        if watch is not None:
            watch.handle.cancel()
            watch.handle = handle
            return handle
        watch = FdWatch()
        watch.loop = self
        watch.fd = fileno
        watch.events = events
        watch.handle = handle
        watch.active = True
        watch.arm()
        watches[fileno] = watch
        return handle

    cdef bint unwatch(self, dict watches, fd) except -1:
        cdef int fileno = fileobj_to_fd(fd)
        cdef FdWatch watch = watches.pop(fileno, None)
        if watch is None:
            return False
        watch.active = False
        watch.handle.cancel()
        if not self._closed:
            # Cancel now: the poll holds a reference to the file, and the
            # caller may close the fd expecting the socket to go away.
            self._ring.cancel(watch)
            self._ring.submit_now()
        return True

    def _add_reader(self, fd, callback, *args):
        return self.watch(self.readers, fd, POLLIN, callback, args)

    def _add_writer(self, fd, callback, *args):
        return self.watch(self.writers, fd, POLLOUT, callback, args)

    def _remove_reader(self, fd):
        return self.unwatch(self.readers, fd)

    def _remove_writer(self, fd):
        return self.unwatch(self.writers, fd)

    # -- shutdown --------------------------------------------------------

    def _close_core(self):
        """Cancels timers and watches, drains the ring, closes the self-pipe."""
        self.timers.clear()
        for watches in (self.readers, self.writers):
            for watch in watches.values():
                (<FdWatch>watch).active = False
            watches.clear()
        if self.self_pipe is not None:
            self.self_pipe.fd = -1
        self.flush_targets = []
        if self._ring is not None:
            self._ring.close()
        if self.pbuf is not None:
            if not self._ring.left_requests:    # else the kernel may still write there
                self.pbuf.release()
            self.pbuf = None
        for sock in (self._csock, self._ssock):
            if sock is not None:
                sock.close()
        self._csock = self._ssock = None

    # -- introspection for tests and benchmarks -----------------------------

    def completions_to_python(self):
        """How many completions reached Python: one per finished operation
        (a chain of any length counts one), for tests and benchmarks."""
        return self._ring.completions_to_python

    def _ring_stats(self):
        """Counters of the ring: CQEs that reached the loop, completions
        delivered to Python (one per operation, so one per chain however
        many steps it has), enters, operations in flight."""
        return {
            'completions': self._ring.completions_dispatched,
            'completions_to_python': self._ring.completions_to_python,
            'enters': self._ring.enters,
            'inflight': self._ring.inflight,
            'setup': self._ring.setup_mode,
        }

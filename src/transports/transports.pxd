# Transports: stream, datagram and pipe transports on one base, servers'
# multishot accepts and subprocess exit watches, all on the loop's ring.

cdef extern from "<sys/socket.h>" nogil:
    ssize_t sendmsg_now "sendmsg"(int fd, const msghdr* msg, int flags)

cdef extern from "<sys/uio.h>" nogil:
    ssize_t writev_now "writev"(int fd, const iovec* iov, int iovcnt)

cdef extern from "Python.h":
    # Not `except -1`: entering a context that is entered already fails, and
    # the caller then carries on in it (see enter_context()).
    int context_enter "PyContext_Enter"(object ctx)
    object PyContext_Copy(object ctx)


cdef class FlushTarget:
    """Something (a transport) with writes to submit right before the loop
    enters the kernel, so one iteration's writes become one request."""
    cdef bint flush_registered

    cdef int flush(self) except -1


cdef enum RequestRole:
    READ_REQUEST        # the transport's receive or read
    WRITE_REQUEST       # its send or write
    WATCH_REQUEST       # a write pipe's poll for its reader going away


cdef class TransportRequest(Operation):
    """A transport's request on its fd. Its completion calls the transport
    (in the transport's context, so protocol callbacks run there)."""
    cdef TransportBase transport
    cdef RequestRole role
    cdef bint polling               # a POLL_ADD for readiness after -EAGAIN


cdef class TransportBase(FlushTarget):
    """What every transport shares: its fd and the socket or pipe object,
    the protocol and the context its callbacks run in, extra info, write
    flow control, fatal errors, close/abort, connection_lost() once, and
    the fd released only after the last request on it completed. A kind
    adds its requests and what only it does."""
    cdef Loop loop
    cdef object file                # the socket or pipe object; None once released
    cdef int fd                     # -1 once closed
    cdef bint is_socket             # file can hand its fd over (socket.detach())
    cdef object protocol
    cdef object context             # contextvars.Context of protocol callbacks
    cdef bint in_context            # a completion of ours has entered it
    cdef dict extra
    cdef object server              # the asyncio.Server of an accepted connection
    # Requests on the fd (None where the kind has none).
    cdef TransportRequest reader
    cdef TransportRequest writer
    cdef TransportRequest watcher
    cdef char* own_buffer           # reads land here (not the buffer ring's)
    # Reading.
    cdef bint paused                # pause_reading()
    cdef bint read_eof              # the end was read: no more reads
    cdef list pending               # what arrived while paused, in order
    cdef bint pending_eof           # ... and the end after it
    cdef bint delivery_scheduled
    # Writing: what the fd has not taken yet, in order; bytes in flight stay
    # in the queue until their completion.
    cdef list queue
    cdef Py_ssize_t head_offset     # bytes of queue[0] already written
    cdef iovec* iovecs              # the queue's head, for SENDMSG/WRITEV
    cdef Py_ssize_t iovec_capacity
    cdef Py_ssize_t buffer_size
    cdef Py_ssize_t high_water
    cdef Py_ssize_t low_water
    cdef bint protocol_paused       # pause_writing() was called
    # Closing.
    cdef bint closing
    cdef int conn_lost              # asyncio's count of writes after the loss
    cdef bint lost_scheduled        # connection_lost() is scheduled or ran
    cdef bint fd_release_pending    # connection_lost() ran: close the fd when idle
    cdef dict __dict__              # tests and applications set attributes (mocks)
    cdef object __weakref__

    cdef int init_base(self, Loop loop, object file, object protocol,
                       object extra, object context) except -1
    cdef int init_socket(self) except -1
    cdef int allocate_buffer(self, Py_ssize_t size) except -1
    cdef TransportRequest new_request(self, RequestRole role)
    cdef int announce(self, object start, object waiter, bint start_after_waiter) except -1

    # The kind's side (defaults do nothing).
    cdef int submit_read(self) except -1
    cdef int deliver(self, object item) except -1
    cdef int on_eof(self) except -1
    cdef int on_read(self, int32_t res, uint32_t flags) except -1
    cdef int on_write(self, int32_t res) except -1
    cdef int on_ready(self, TransportRequest request, int32_t res) except -1
    cdef int on_watch(self, int32_t res) except -1
    cdef int send_now(self) except -1
    cdef Py_ssize_t send_buffer_now(self, const char* data, Py_ssize_t length) except -2
    cdef bint sends_buffers(self)
    cdef int submit_write(self) except -1
    cdef int write_failed(self, int err) except -1
    cdef int writes_drained(self) except -1
    cdef int connection_ended(self) except -1
    cdef bint quiet_error(self, exc)
    cdef bint drops_writes(self)

    # Reading.
    cdef bint may_read(self)
    cdef int arm_reader(self) except -1
    cdef int receive(self, object item) except -1
    cdef int reached_eof(self) except -1
    cdef int keep_receiving(self) except -1
    cdef int poll(self, TransportRequest request, uint32_t events) except -1

    # Writing and flow control.
    cdef int check_write(self) except -1
    cdef write_buffer(self, object data)
    cdef int write_lost(self) except -1
    cdef int queued(self, bint was_idle) except -1
    cdef int write_next(self) except -1
    cdef Py_ssize_t gather(self) except -1
    cdef int wrote_now(self, ssize_t n) except -1
    cdef int consume(self, Py_ssize_t sent) except -1
    cdef int drop_writes(self) except -1
    cdef int maybe_pause_protocol(self) except -1
    cdef int maybe_resume_protocol(self) except -1
    cdef int call_protocol(self, object method, tuple args, str failure) except -1
    cdef int protocol_call_failed(self, exc, str message) except -1

    # Closing.
    cdef int fatal_error(self, exc, str message) except -1
    cdef int force_close(self, exc) except -1
    cdef int schedule_connection_lost(self, exc) except -1
    cdef bint requests_in_flight(self)
    cdef int cancel_requests(self) except -1
    cdef int release_if_idle(self) except -1
    cdef int release_held_fd(self) except -1


cdef class Transports:
    """The loop's transports: what they share (the provided buffer ring,
    the writes to flush before each enter) and the registry by fd."""
    cdef Loop loop
    cdef object by_fd                   # fd -> transport (weak values)
    cdef list flush_targets             # FlushTargets to flush before the next enter
    cdef ProvidedBufferRing pbuf        # shared receive buffers; None until first used
    cdef bint pbuf_tried
    cdef dict accepting                 # listening fd -> its multishot accept

    cdef int open(self, Loop loop) except -1
    cdef int register(self, int fd, object transport) except -1
    cdef int want_flush(self, FlushTarget target) except -1
    cdef int flush(self) except -1
    cdef ProvidedBufferRing buffer_ring(self)
    cdef int close(self) except -1
    cdef int release_buffers(self, bint kernel_may_write) except -1

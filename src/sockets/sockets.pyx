# The sock_* API as io_uring requests. Three promises hold whatever the
# caller does with its socket objects meanwhile:
# - a request acts on the socket it names: right before the kernel sees the
#   queued SQEs (any submission), each queued request's socket is checked;
#   one whose socket was closed (or detached) since is turned into a NOP and
#   fails with EBADF, so a new socket that reuses the fd number is never
#   touched. Requests stay batched into the loop's one enter per iteration.
# - closing a socket closes the connection: a request in flight pins the
#   file, so the loop cancels the requests of every socket whose fd became
#   -1 before it next enters the kernel;
# - nothing the kernel delivered is lost: a result that arrives for a
#   cancelled request is saved and returned, in the form asked for, by the
#   next call on the same socket, which first waits for every cancelled
#   receive still in flight on it.

from collections import deque
from operator import index
from socket import socket as socket_socket, SOCK_STREAM as PY_SOCK_STREAM
from weakref import WeakKeyDictionary

try:
    from ssl import SSLSocket
except ImportError:      # Python built without ssl
    SSLSocket = None


cdef inline int open_fd(object sock) except -1:
    cdef int fd = current_fd(sock)
    if fd < 0:
        raise OSError(EBADF, os_strerror(EBADF))
    return fd


cdef class SocketOperation(Operation):

    cdef void prep(self, io_uring_sqe* sqe, int fd) noexcept:
        """Fills its SQE for fd (each kind its own request)."""
        pass

    cdef bint receives_nothing(self):
        """A receive of zero bytes: done at once, as recv(0) is."""
        return False

    cdef object empty_result(self):
        return None

    cdef object from_saved(self, SocketRequests owner):
        """Its result from what cancelled requests left on its socket, or
        None when there is none it can take."""
        return None

    cdef int finish(self, object result) except -1:
        if self.future.cancelled():
            return self.save(result)        # its caller went away
        self.future.set_result(result)
        return 0

    cdef int fail(self, int err) except -1:
        if self.closed_under:
            err = EBADF                     # dropped or cancelled: sock was closed
        if not self.future.done():
            self.future.set_exception(errno_error(err))
        return 0

    cdef int save(self, object result) except -1:
        """Keeps a result nobody is waiting for any more (default: none)."""
        return 0

    cdef int abandon(self) except -1:
        """The awaiting coroutine went away: cancel the request (what it
        already got is saved when its CQE arrives), or save the result it
        had already produced."""
        if self.user_data and not self.abandoned and self.receives:
            self.owner.abandoned_receives += 1
        self.abandoned = True
        if self.user_data:
            if self.receives and self.settled is None:
                self.settled = Future(loop=self.owner.loop)
            self.owner.loop._ring.cancel(self)
            self.owner.loop._ring.submit_now()
        elif self.future.done() and not self.future.cancelled():
            if self.future.exception() is None:
                self.save(self.future.result())
        return 0

    cdef int ended(self) except -1:
        """Its last CQE arrived: no longer in flight on its socket. (A
        request dropped before submission completes as a NOP: the caller's
        complete() turns it into EBADF through closed_under.)"""
        self.owner.ended(self)
        if self.settled is not None and not self.settled.done():
            self.settled.set_result(None)
        return 0


cdef class RecvOp(SocketOperation):
    """recv() into a fresh bytes object, trimmed to what arrived."""

    cdef PyObject* data
    cdef size_t length

    def __dealloc__(self):
        Py_XDECREF(self.data)
        self.data = NULL

    cdef void prep(self, io_uring_sqe* sqe, int fd) noexcept:
        io_uring_prep_recv(sqe, fd, PyBytes_AS_STRING(<object>self.data), self.length, 0)

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        cdef object result
        self.ended()
        if res < 0 or self.closed_under:
            return self.fail(-res)
        _PyBytes_Resize(&self.data, res)
        result = <object>self.data
        Py_DECREF(result)           # drop the operation's own reference
        self.data = NULL
        return self.finish(result)

    cdef int save(self, object result) except -1:
        if result:
            self.owner.save(self.sock, SAVED_BYTES, result)
        return 0

    cdef bint receives_nothing(self):
        return self.length == 0

    cdef object empty_result(self):
        return b''

    cdef object from_saved(self, SocketRequests owner):
        return owner.saved_data(self.sock, self.length, False)


cdef class RecvIntoOp(SocketOperation):
    """recv() into a caller's writable buffer, held until the CQE."""

    cdef Py_buffer view
    cdef bint has_view

    def __dealloc__(self):
        if self.has_view:
            PyBuffer_Release(&self.view)

    cdef void prep(self, io_uring_sqe* sqe, int fd) noexcept:
        io_uring_prep_recv(sqe, fd, self.view.buf, <size_t>min(self.view.len, MAX_RW_COUNT), 0)

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        self.ended()
        if res < 0 or self.closed_under:
            return self.fail(-res)
        return self.finish(res)

    cdef int save(self, object result) except -1:
        if result:
            self.owner.save(self.sock, SAVED_BYTES, (<char*>self.view.buf)[:result])
        return 0

    cdef bint receives_nothing(self):
        return self.view.len == 0

    cdef object empty_result(self):
        return 0

    cdef object from_saved(self, SocketRequests owner):
        data = owner.saved_data(self.sock, self.view.len, False)
        if data is None:
            return None
        memcpy(self.view.buf, <char*>data, len(data))
        return len(data)


cdef class RecvMsgOp(SocketOperation):
    """recvmsg() for sock_recvfrom / sock_recvfrom_into: data and sender."""

    cdef PyObject* data           # owned bytes (recvfrom) or NULL (into)
    cdef Py_buffer view
    cdef bint has_view
    cdef msghdr msg
    cdef iovec iov
    cdef sockaddr_storage address

    def __dealloc__(self):
        Py_XDECREF(self.data)
        self.data = NULL
        if self.has_view:
            PyBuffer_Release(&self.view)

    cdef int prepare(self, void* buf, size_t length) except -1:
        self.iov.iov_base = buf
        self.iov.iov_len = min(length, <size_t>MAX_RW_COUNT)
        self.msg.msg_name = &self.address
        self.msg.msg_namelen = sizeof(self.address)
        self.msg.msg_iov = &self.iov
        self.msg.msg_iovlen = 1
        return 0

    cdef void prep(self, io_uring_sqe* sqe, int fd) noexcept:
        io_uring_prep_recvmsg(sqe, fd, &self.msg, 0)

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        cdef object payload
        self.ended()
        if res < 0 or self.closed_under:
            return self.fail(-res)
        sender = sockaddr_to_python(<sockaddr*>&self.address, self.msg.msg_namelen)
        if self.has_view:
            return self.finish((res, sender))
        _PyBytes_Resize(&self.data, res)
        payload = <object>self.data
        Py_DECREF(payload)
        self.data = NULL
        return self.finish((payload, sender))

    cdef int save(self, object result) except -1:
        data, sender = result
        if self.has_view:
            data = (<char*>self.view.buf)[:data]
        self.owner.save(self.sock, SAVED_DATAGRAM, (data, sender))
        return 0

    cdef object from_saved(self, SocketRequests owner):
        item = owner.saved_data(self.sock, self.iov.iov_len, True)
        if item is None or not self.has_view:
            return item
        data, address = item
        memcpy(self.view.buf, <char*>data, len(data))
        return (len(data), address)


cdef class SendAllOp(SocketOperation):
    """send() until every byte is out; a partial send is resubmitted."""

    cdef Py_buffer view
    cdef bint has_view
    cdef Py_ssize_t sent

    def __dealloc__(self):
        if self.has_view:
            PyBuffer_Release(&self.view)

    cdef void prep(self, io_uring_sqe* sqe, int fd) noexcept:
        io_uring_prep_send(sqe, fd, <char*>self.view.buf + self.sent,
                           <size_t>min(self.view.len - self.sent, MAX_RW_COUNT),
                           MSG_NOSIGNAL | MSG_WAITALL)

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        if res > 0:
            self.sent += res
        if ((res == -EINTR or res == -EAGAIN or (res >= 0 and self.sent < self.view.len))
                and not self.future.done() and not self.closed_under):
            try:
                return self.owner.submit(self)      # the rest; still in flight
            except OSError as exc:
                res = -exc.errno                    # the socket was closed meanwhile
        self.ended()
        if res < 0 or self.closed_under:
            return self.fail(-res)
        return self.finish(None)

    cdef bint is_last_cqe(self, int32_t res, uint32_t flags):
        return True


cdef class SendMsgOp(SocketOperation):
    """sendmsg() to an address, for sock_sendto."""

    cdef Py_buffer view
    cdef bint has_view
    cdef msghdr msg
    cdef iovec iov
    cdef sockaddr_storage address

    def __dealloc__(self):
        if self.has_view:
            PyBuffer_Release(&self.view)

    cdef void prep(self, io_uring_sqe* sqe, int fd) noexcept:
        io_uring_prep_sendmsg(sqe, fd, &self.msg, MSG_NOSIGNAL)

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        self.ended()
        if res < 0 or self.closed_under:
            return self.fail(-res)
        return self.finish(res)


cdef class AcceptOp(SocketOperation):
    """accept4() returning a non-blocking socket and the peer's address."""

    cdef sockaddr_storage address
    cdef socklen_t address_length

    cdef void prep(self, io_uring_sqe* sqe, int fd) noexcept:
        self.address_length = sizeof(self.address)
        io_uring_prep_accept(sqe, fd, <sockaddr*>&self.address, &self.address_length,
                             SOCK_NONBLOCK | SOCK_CLOEXEC)

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        self.ended()
        if res < 0 or self.closed_under:
            return self.fail(-res)
        sock = self.sock
        conn = socket_socket(sock.family, sock.type, sock.proto, fileno=res)
        conn.setblocking(False)     # the fd already is; this sets the object's timeout
        peer = sockaddr_to_python(<sockaddr*>&self.address, self.address_length)
        return self.finish((conn, peer))

    cdef int save(self, object result) except -1:
        self.owner.save(self.sock, SAVED_CONNECTION, result)
        return 0

    cdef object from_saved(self, SocketRequests owner):
        item = owner.take_saved(self.sock)
        if item is None:
            return None
        if item[0] == SAVED_CONNECTION:
            return item[1]
        owner.put_back(self.sock, item[0], item[1])
        return None


cdef class ConnectOp(SocketOperation):
    cdef sockaddr_storage address
    cdef socklen_t address_length
    cdef object python_address

    cdef void prep(self, io_uring_sqe* sqe, int fd) noexcept:
        io_uring_prep_connect(sqe, fd, <sockaddr*>&self.address, self.address_length)

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        self.ended()
        if self.closed_under:
            return self.fail(EBADF)
        if res < 0:
            if not self.future.done():
                self.future.set_exception(
                    OSError(-res, f'Connect call failed {self.python_address}'))
            return 0
        return self.finish(None)


cdef object take_prefix(object data, Py_ssize_t n, bint stream,
                        SocketRequests owner, object sock):
    """At most n bytes of saved data; on a stream the rest stays saved for
    the next call (a datagram, as the kernel does, is cut to n)."""
    if len(data) <= n:
        return data
    if stream:
        owner.put_back(sock, SAVED_BYTES, data[n:])
    return data[:n]


cdef class SocketRequests:

    cdef int open(self, Loop loop) except -1:
        self.loop = loop
        self.queued = []
        self.saved = WeakKeyDictionary()
        return 0

    cdef int check_socket(self, sock) except -1:
        self.loop.check_closed()
        if SSLSocket is not None and isinstance(sock, SSLSocket):
            raise TypeError("Socket cannot be of type SSLSocket")
        if self.loop._debug and sock.gettimeout() != 0:
            raise ValueError("the socket must be non-blocking")
        return 0

    cdef int submit(self, SocketOperation op) except -1:
        """Queues op on its socket's fd as it is now. Before the kernel sees
        it, before_submit() checks the socket still has that fd."""
        cdef int fd = open_fd(op.sock)
        cdef io_uring_sqe* sqe = self.loop._ring.sqe_for(op)
        op.prep(sqe, fd)
        op.sqe = sqe
        op.fd = fd
        self.queued.append(op)
        self.armed = True
        if not op.listed:
            op.listed = True
            op.next = self.inflight
            if self.inflight is not None:
                self.inflight.prev = op
            self.inflight = op
        return 0

    cdef int before_submit(self) except -1:
        """Right before a submission: a queued request whose socket was
        closed (or detached) since it was queued becomes a NOP and fails with
        EBADF, so it never reaches a file that reuses the fd number."""
        cdef SocketOperation op
        cdef list queued = self.queued
        self.queued = []
        self.armed = False
        for op in queued:
            if op.sqe == NULL:
                continue
            try:
                moved = current_fd(op.sock) != op.fd
            except Exception:
                moved = True
            if moved:
                io_uring_prep_nop(op.sqe)       # keeps the SQE's user_data
                op.closed_under = True
            op.sqe = NULL
        return 0

    cdef int ended(self, SocketOperation op) except -1:
        if not op.listed:
            return 0
        op.listed = False
        if op.prev is not None:
            op.prev.next = op.next
        else:
            self.inflight = op.next
        if op.next is not None:
            op.next.prev = op.prev
        op.prev = op.next = None
        if op.abandoned and op.receives:
            self.abandoned_receives -= 1
        return 0

    cdef int before_enter(self) except -1:
        """Cancels the requests of sockets closed since they were made, so
        the close takes effect (the peer sees EOF)."""
        cdef SocketOperation op = self.inflight
        while op is not None:
            if op.user_data and not op.closed_under and current_fd(op.sock) < 0:
                op.closed_under = True
                self.loop._ring.cancel(op)
            op = op.next
        return 0

    # -- results of cancelled requests ----------------------------------------

    cdef int save(self, sock, SavedKind kind, object result) except -1:
        queue = self.saved.get(sock)
        if queue is None:
            queue = self.saved[sock] = deque()
        queue.append((kind, result))
        self.saved_count += 1
        return 0

    cdef object take_saved(self, sock):
        """The oldest saved (kind, result) of sock, or None."""
        queue = self.saved.get(sock)
        if not queue:
            return None
        item = queue.popleft()
        self.saved_count -= 1
        if not queue:
            del self.saved[sock]
        return item

    cdef int put_back(self, sock, SavedKind kind, object result) except -1:
        queue = self.saved.get(sock)
        if queue is None:
            queue = self.saved[sock] = deque()
        queue.appendleft((kind, result))
        self.saved_count += 1
        return 0

    async def settle(self, sock):
        """Waits until no cancelled receive is in flight on sock: what it
        gets must be handed over before any newer request's data."""
        cdef SocketOperation op
        while True:
            pending = []
            op = self.inflight
            while op is not None:
                if op.sock is sock and op.abandoned and op.receives:
                    pending.append(op)
                op = op.next
            if not pending:
                return
            for op in pending:
                await shield(op.settled)

    cdef object saved_data(self, sock, Py_ssize_t n, bint with_address):
        """Saved stream bytes or a saved datagram for a receive of up to n
        bytes: bytes, or (bytes, address) when with_address; None if none."""
        item = self.take_saved(sock)
        if item is None:
            return None
        kind, result = item
        if kind == SAVED_CONNECTION:
            self.put_back(sock, kind, result)
            return None
        stream = sock.type == PY_SOCK_STREAM
        if kind == SAVED_BYTES:
            data, address = result, None
            if with_address and not stream:
                try:
                    address = sock.getpeername()
                except OSError:
                    pass
        else:
            data, address = result
        data = take_prefix(data, n, stream, self, sock)
        return (data, address) if with_address else data

    # -- the calls ---------------------------------------------------------------
    # Each builds its operation (errors surface when the call is awaited, as
    # with asyncio's coroutine methods), then awaits it through receive()
    # (which first hands over what cancelled receives left behind) or run().

    async def receive(self, SocketOperation op):
        if self.abandoned_receives:
            await self.settle(op.sock)
        if op.receives_nothing():
            return op.empty_result()
        if self.saved_count:
            result = op.from_saved(self)
            if result is not None:
                return result
        return await self.run(op)

    async def run(self, SocketOperation op):
        self.submit(op)
        try:
            return await op.future
        except BaseException:
            op.abandon()
            raise

    cdef SocketOperation start(self, SocketOperation op, sock, bint receives):
        self.check_socket(sock)
        op.owner = self
        op.sock = sock
        op.receives = receives
        op.future = Future(loop=self.loop)
        return op

    def recv(self, sock, n):
        cdef RecvOp op
        try:
            n = index(n)
            if n < 0:
                raise ValueError("negative buffersize in recv")
            op = <RecvOp>self.start(RecvOp.__new__(RecvOp), sock, True)
            op.length = <size_t>min(n, MAX_RW_COUNT)
            data = PyBytes_FromStringAndSize(NULL, op.length)
            Py_INCREF(data)
            op.data = <PyObject*>data
        except Exception as exc:
            return fail_when_awaited(exc)
        return self.receive(op)

    def recv_into(self, sock, buf):
        cdef RecvIntoOp op
        try:
            op = <RecvIntoOp>self.start(RecvIntoOp.__new__(RecvIntoOp), sock, True)
            get_writable_buffer(buf, &op.view)
            op.has_view = True
        except Exception as exc:
            return fail_when_awaited(exc)
        return self.receive(op)

    def recvfrom(self, sock, bufsize):
        cdef RecvMsgOp op
        try:
            bufsize = index(bufsize)
            if bufsize < 0:
                raise ValueError("negative buffersize in recvfrom")
            op = <RecvMsgOp>self.start(RecvMsgOp.__new__(RecvMsgOp), sock, True)
            data = PyBytes_FromStringAndSize(NULL, min(bufsize, MAX_RW_COUNT))
            Py_INCREF(data)
            op.data = <PyObject*>data
            op.prepare(PyBytes_AS_STRING(data), len(data))
        except Exception as exc:
            return fail_when_awaited(exc)
        return self.receive(op)

    def recvfrom_into(self, sock, buf, nbytes=0):
        cdef RecvMsgOp op
        try:
            nbytes = index(nbytes)
            op = <RecvMsgOp>self.start(RecvMsgOp.__new__(RecvMsgOp), sock, True)
            get_writable_buffer(buf, &op.view)
            op.has_view = True
            if nbytes < 0:
                raise ValueError("negative buffersize in recvfrom_into")
            if nbytes > op.view.len:
                raise ValueError("nbytes is greater than the length of the buffer")
            op.prepare(op.view.buf, nbytes or op.view.len)
        except Exception as exc:
            return fail_when_awaited(exc)
        return self.receive(op)

    def accept(self, sock):
        try:
            op = self.start(AcceptOp.__new__(AcceptOp), sock, True)
        except Exception as exc:
            return fail_when_awaited(exc)
        return self.receive(op)

    def sendall(self, sock, data):
        cdef SendAllOp op
        try:
            op = <SendAllOp>self.start(SendAllOp.__new__(SendAllOp), sock, False)
            get_readable_buffer(data, &op.view)
            op.has_view = True
            if op.view.len == 0:
                open_fd(sock)           # as send() on a closed socket: EBADF
                return done_when_awaited(None)
        except Exception as exc:
            return fail_when_awaited(exc)
        return self.run(op)

    def sendto(self, sock, data, address):
        cdef SendMsgOp op
        try:
            op = <SendMsgOp>self.start(SendMsgOp.__new__(SendMsgOp), sock, False)
            get_readable_buffer(data, &op.view)
            op.has_view = True
            op.iov.iov_base = op.view.buf
            op.iov.iov_len = op.view.len
            op.msg.msg_name = &op.address
            op.msg.msg_namelen = sockaddr_from_python(sock.family, address, &op.address)
            op.msg.msg_iov = &op.iov
            op.msg.msg_iovlen = 1
        except Exception as exc:
            return fail_when_awaited(exc)
        return self.run(op)

    def connect(self, sock, address):
        cdef ConnectOp op
        try:
            self.loop.check_closed()
            op = ConnectOp.__new__(ConnectOp)
            op.owner = self
            op.sock = sock
            op.future = Future(loop=self.loop)
            op.python_address = address
            op.address_length = sockaddr_from_python(sock.family, address, &op.address)
            self.submit(op)
            # Start connecting now, as connect() would: callers may accept()
            # on the other side before this loop iterates again.
            self.loop._ring.submit_now()
        except Exception as exc:
            return fail_when_awaited(exc)
        return self.wait(op)

    async def wait(self, SocketOperation op):
        try:
            return await op.future
        except BaseException:
            op.abandon()
            raise


async def fail_when_awaited(exc):
    """A call's error, raised when its result is awaited."""
    raise exc


async def done_when_awaited(result):
    return result

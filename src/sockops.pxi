# Low-level socket operations (loop.sock_*) as io_uring requests. Each awaits
# one future; a request cancelled after the kernel delivered its result keeps
# that result for the next call on the same socket, so no bytes are lost.


cdef object errno_error(int err):
    return OSError(err, os_strerror(err))


cdef int get_writable_buffer(object obj, Py_buffer* view) except -1:
    # As socket.recv_into(): a read-only buffer is a TypeError.
    try:
        PyObject_GetBuffer(obj, view, PyBUF_WRITABLE)
    except BufferError:
        raise TypeError(
            f"a read-write bytes-like object is required, not '{type(obj).__name__}'")
    return 0


cdef class SocketOperation(Operation):
    cdef SocketLoop loop
    cdef object future
    cdef object sock

    cdef int finish(self, object result) except -1:
        try:
            self.future.set_result(result)
        except InvalidStateError:       # cancelled: nobody takes the result
            self.salvage(result)
        return 0

    cdef int fail(self, int err) except -1:
        if not self.future.cancelled():
            self.future.set_exception(errno_error(err))
        return 0

    cdef int salvage(self, object result) except -1:
        """Keeps a result nobody is waiting for any more (default: none)."""
        return 0

    cdef int abandon(self) except -1:
        """The awaiting coroutine went away: cancel the request, or keep the
        result it had already produced."""
        if self.user_data:
            self.loop._ring.cancel(self)
        elif self.future.done() and not self.future.cancelled():
            if self.future.exception() is None:
                self.salvage(self.future.result())
        return 0


cdef class RecvOp(SocketOperation):
    """recv() into a fresh bytes object, trimmed to what arrived."""

    cdef PyObject* data

    def __dealloc__(self):
        Py_XDECREF(self.data)
        self.data = NULL

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        cdef object result
        if res < 0:
            return self.fail(-res)
        _PyBytes_Resize(&self.data, res)
        result = <object>self.data
        Py_DECREF(result)           # drop the operation's own reference
        self.data = NULL
        return self.finish(result)

    cdef int salvage(self, object result) except -1:
        if result:
            self.loop.stash(self.sock, result)
        return 0


cdef class RecvIntoOp(SocketOperation):
    """recv() into a caller's writable buffer, held until the CQE."""

    cdef Py_buffer view
    cdef bint has_view

    def __dealloc__(self):
        if self.has_view:
            PyBuffer_Release(&self.view)

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        if res < 0:
            return self.fail(-res)
        return self.finish(res)

    cdef int salvage(self, object result) except -1:
        if result:
            self.loop.stash(self.sock, (<char*>self.view.buf)[:result])
        return 0


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
        self.iov.iov_len = length
        self.msg.msg_name = &self.address
        self.msg.msg_namelen = sizeof(self.address)
        self.msg.msg_iov = &self.iov
        self.msg.msg_iovlen = 1
        self.loop._ring.sqe_for(self, IORING_OP_RECVMSG, self.loop.sock_fd(self.sock),
                                &self.msg, 1, 0)
        return 0

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        cdef object payload
        if res < 0:
            return self.fail(-res)
        sender = sockaddr_to_python(<sockaddr*>&self.address, self.msg.msg_namelen)
        if self.has_view:
            return self.finish((res, sender))
        _PyBytes_Resize(&self.data, res)
        payload = <object>self.data
        Py_DECREF(payload)
        self.data = NULL
        return self.finish((payload, sender))

    cdef int salvage(self, object result) except -1:
        if self.has_view:
            result = ((<char*>self.view.buf)[:result[0]], result[1])
        self.loop.stash(self.sock, result)
        return 0


cdef class SendAllOp(SocketOperation):
    """send() until every byte is out; a partial send is resubmitted."""

    cdef Py_buffer view
    cdef bint has_view
    cdef Py_ssize_t sent

    def __dealloc__(self):
        if self.has_view:
            PyBuffer_Release(&self.view)

    cdef int submit(self) except -1:
        self.loop._ring.sqe_for(
            self, IORING_OP_SEND, self.loop.sock_fd(self.sock),
            <char*>self.view.buf + self.sent, self.view.len - self.sent,
            0).msg_flags = MSG_NOSIGNAL | MSG_WAITALL
        return 0

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        if res < 0:
            if res == -EINTR or res == -EAGAIN:
                if not self.future.cancelled():
                    self.submit()
                return 0
            return self.fail(-res)
        self.sent += res
        if self.sent < self.view.len and not self.future.cancelled():
            self.submit()
            return 0
        return self.finish(None)


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

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        if res < 0:
            return self.fail(-res)
        return self.finish(res)


cdef class AcceptOp(SocketOperation):
    """accept4() returning a non-blocking socket and the peer's address."""

    cdef sockaddr_storage address
    cdef socklen_t address_length

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        if res < 0:
            return self.fail(-res)
        sock = self.sock
        conn = socket_socket(sock.family, sock.type, sock.proto, fileno=res)
        conn.setblocking(False)     # the fd already is; this sets the object's timeout
        peer = sockaddr_to_python(<sockaddr*>&self.address, self.address_length)
        return self.finish((conn, peer))

    cdef int salvage(self, object result) except -1:
        self.loop.stash(self.sock, result)
        return 0


cdef class ConnectOp(SocketOperation):
    cdef sockaddr_storage address
    cdef object python_address

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        if res < 0:
            if not self.future.cancelled():
                self.future.set_exception(
                    OSError(-res, f'Connect call failed {self.python_address}'))
            return 0
        return self.finish(None)


cdef class SocketLoop(LoopCore):
    """The sock_* methods of the loop."""

    cdef int sock_fd(self, sock) except -1:
        cdef int fd = sock.fileno()
        if fd < 0:
            raise OSError(EBADF, os_strerror(EBADF))
        return fd

    cdef int check_socket(self, sock) except -1:
        if SSLSocket is not None and isinstance(sock, SSLSocket):
            raise TypeError("Socket cannot be of type SSLSocket")
        if self._debug and sock.gettimeout() != 0:
            raise ValueError("the socket must be non-blocking")
        return 0

    cdef inline SocketOperation bind_op(self, SocketOperation op, sock):
        op.loop = self
        op.sock = sock
        op.future = Future(loop=self)
        return op

    # Results the kernel delivered to cancelled requests, per socket.
    cdef stash(self, sock, item):
        queue = self.leftovers.get(sock)
        if queue is None:
            queue = self.leftovers[sock] = deque()
        queue.append(item)
        self.leftover_count += 1

    cdef object take_leftover(self, sock):
        queue = self.leftovers.get(sock)
        if not queue:
            return None
        item = queue.popleft()
        self.leftover_count -= 1
        if not queue:
            del self.leftovers[sock]
        return item

    cdef unshift(self, sock, item):
        queue = self.leftovers.get(sock)
        if queue is None:
            queue = self.leftovers[sock] = deque()
        queue.appendleft(item)
        self.leftover_count += 1

    async def sock_recv(self, sock, Py_ssize_t n):
        """Receives up to n bytes from sock (io_uring RECV)."""
        self.check_closed()
        self.check_socket(sock)
        if n < 0:
            raise ValueError("negative buffersize in recv")
        if self.leftover_count:
            data = self.take_leftover(sock)
            if data is not None:
                if len(data) > n:
                    self.unshift(sock, data[n:])
                    data = data[:n]
                return data
        cdef RecvOp op = self.bind_op(RecvOp.__new__(RecvOp), sock)
        data = PyBytes_FromStringAndSize(NULL, n)
        Py_INCREF(data)
        op.data = <PyObject*>data
        self._ring.sqe_for(op, IORING_OP_RECV, self.sock_fd(sock),
                           PyBytes_AS_STRING(data), n, 0)
        del data
        try:
            return await op.future
        except BaseException:
            op.abandon()
            raise

    async def sock_recv_into(self, sock, buf):
        """Receives into buf; returns the number of bytes (io_uring RECV)."""
        self.check_closed()
        self.check_socket(sock)
        cdef RecvIntoOp op = self.bind_op(RecvIntoOp.__new__(RecvIntoOp), sock)
        get_writable_buffer(buf, &op.view)
        op.has_view = True
        if self.leftover_count:
            data = self.take_leftover(sock)
            if data is not None:
                n = min(len(data), op.view.len)
                memcpy(op.view.buf, <char*>data, n)
                if n < len(data):
                    self.unshift(sock, data[n:])
                return n
        self._ring.sqe_for(op, IORING_OP_RECV, self.sock_fd(sock),
                           op.view.buf, op.view.len, 0)
        try:
            return await op.future
        except BaseException:
            op.abandon()
            raise

    async def sock_recvfrom(self, sock, Py_ssize_t bufsize):
        """Receives a datagram: (data, address) (io_uring RECVMSG)."""
        self.check_closed()
        self.check_socket(sock)
        if bufsize < 0:
            raise ValueError("negative buffersize in recvfrom")
        if self.leftover_count:
            item = self.take_leftover(sock)
            if item is not None:
                return (item[0][:bufsize], item[1])
        cdef RecvMsgOp op = self.bind_op(RecvMsgOp.__new__(RecvMsgOp), sock)
        data = PyBytes_FromStringAndSize(NULL, bufsize)
        Py_INCREF(data)
        op.data = <PyObject*>data
        op.prepare(PyBytes_AS_STRING(data), bufsize)
        del data
        try:
            return await op.future
        except BaseException:
            op.abandon()
            raise

    async def sock_recvfrom_into(self, sock, buf, Py_ssize_t nbytes=0):
        """Receives a datagram into buf: (nbytes, address)."""
        self.check_closed()
        self.check_socket(sock)
        cdef RecvMsgOp op = self.bind_op(RecvMsgOp.__new__(RecvMsgOp), sock)
        get_writable_buffer(buf, &op.view)
        op.has_view = True
        if nbytes < 0:
            raise ValueError("negative buffersize in recvfrom_into")
        if nbytes == 0 or nbytes > op.view.len:
            if nbytes > op.view.len:
                raise ValueError("nbytes is greater than the length of the buffer")
            nbytes = op.view.len
        if self.leftover_count:
            item = self.take_leftover(sock)
            if item is not None:
                n = min(len(item[0]), nbytes)
                memcpy(op.view.buf, <char*>item[0], n)
                return (n, item[1])
        op.prepare(op.view.buf, nbytes)
        try:
            return await op.future
        except BaseException:
            op.abandon()
            raise

    async def sock_sendall(self, sock, data):
        """Sends all of data (io_uring SEND, resubmitted after partial sends)."""
        self.check_closed()
        self.check_socket(sock)
        cdef SendAllOp op = self.bind_op(SendAllOp.__new__(SendAllOp), sock)
        PyObject_GetBuffer(data, &op.view, PyBUF_SIMPLE)
        op.has_view = True
        if op.view.len == 0:
            return None
        op.submit()
        try:
            return await op.future
        except BaseException:
            op.abandon()
            raise

    async def sock_sendto(self, sock, data, address):
        """Sends a datagram to address; returns the bytes sent (io_uring SENDMSG)."""
        self.check_closed()
        self.check_socket(sock)
        cdef SendMsgOp op = self.bind_op(SendMsgOp.__new__(SendMsgOp), sock)
        PyObject_GetBuffer(data, &op.view, PyBUF_SIMPLE)
        op.has_view = True
        op.iov.iov_base = op.view.buf
        op.iov.iov_len = op.view.len
        op.msg.msg_name = &op.address
        op.msg.msg_namelen = sockaddr_from_python(sock.family, address, &op.address)
        op.msg.msg_iov = &op.iov
        op.msg.msg_iovlen = 1
        self._ring.sqe_for(op, IORING_OP_SENDMSG, self.sock_fd(sock),
                           &op.msg, 1, 0).msg_flags = MSG_NOSIGNAL
        try:
            return await op.future
        except BaseException:
            op.abandon()
            raise

    async def sock_accept(self, sock):
        """Accepts a connection: (conn, address), conn non-blocking (io_uring ACCEPT)."""
        self.check_closed()
        self.check_socket(sock)
        if self.leftover_count:
            item = self.take_leftover(sock)
            if item is not None:
                return item
        cdef AcceptOp op = self.bind_op(AcceptOp.__new__(AcceptOp), sock)
        op.address_length = sizeof(op.address)
        self._ring.sqe_for(op, IORING_OP_ACCEPT, self.sock_fd(sock), &op.address,
                           0, <uint64_t>&op.address_length
                           ).accept_flags = SOCK_NONBLOCK | SOCK_CLOEXEC
        try:
            return await op.future
        except BaseException:
            op.abandon()
            raise

    async def _sock_connect_resolved(self, sock, address):
        """Connects to an already-resolved address (io_uring CONNECT)."""
        self.check_closed()
        cdef ConnectOp op = self.bind_op(ConnectOp.__new__(ConnectOp), sock)
        op.python_address = address
        cdef socklen_t length = sockaddr_from_python(sock.family, address, &op.address)
        self._ring.sqe_for(op, IORING_OP_CONNECT, self.sock_fd(sock), &op.address, 0, length)
        # Start connecting now, as connect() would: callers may accept() on
        # the other side before this loop iterates again.
        self._ring.submit_now()
        try:
            return await op.future
        except BaseException:
            op.abandon()
            raise

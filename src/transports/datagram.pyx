# UDP (and Unix datagram) transport: a RECVMSG kept armed on the socket and
# one SENDMSG per datagram, on the ring. Behaves as asyncio's
# _SelectorDatagramTransport: send and receive errors go to error_received().

cdef enum:
    DATAGRAM_MAX_SIZE = 256 * 1024      # asyncio's max_size for recvfrom()


class DatagramTransportClass(aio_transports._FlowControlMixin,
                             aio_transports.DatagramTransport):
    """What a DatagramTransport reports as its __class__ (see StreamTransportClass)."""

DatagramTransportClass.__name__ = DatagramTransportClass.__qualname__ = 'DatagramTransport'


cdef class DatagramRecv(Operation):
    cdef DatagramTransport transport
    cdef msghdr msg
    cdef iovec iov
    cdef sockaddr_storage address

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        return self.transport.on_recv(res)


cdef class DatagramSend(Operation):
    cdef DatagramTransport transport
    cdef bytes data
    cdef msghdr msg
    cdef iovec iov
    cdef sockaddr_storage address

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        return self.transport.on_sent(self, res)


cdef class DatagramTransport(SocketTransportBase):
    """asyncio.DatagramTransport on io_uring."""

    cdef DatagramRecv recv_op
    cdef char* buffer
    cdef object address             # the connected remote address, or None
    cdef bint connected             # the socket has a peer: no address per send
    cdef set sends                  # DatagramSends in flight
    cdef bint paused

    def __cinit__(self):
        self.sends = set()

    def __dealloc__(self):
        if self.buffer != NULL:
            PyMem_Free(self.buffer)

    @staticmethod
    cdef DatagramTransport create(Loop loop, object sock, object protocol,
                                  object address, object waiter, object extra):
        cdef DatagramTransport self = DatagramTransport.__new__(DatagramTransport)
        self.init_base(loop, sock, protocol, extra, None)
        self.address = address
        self.connected = bool(self.extra['peername'])
        self.buffer = <char*>PyMem_Realloc(NULL, DATAGRAM_MAX_SIZE)
        if self.buffer == NULL:
            raise MemoryError()
        self.recv_op = DatagramRecv.__new__(DatagramRecv)
        self.recv_op.transport = self
        loop.soon(protocol.connection_made, (self,))
        loop.soon(self._start_reading, ())
        if waiter is not None:
            loop.soon(set_result_unless_cancelled, (waiter, None))
        return self

    def _start_reading(self):
        if not self.paused and not self.closing:
            self.arm_recv()

    # -- receiving ---------------------------------------------------------

    cdef int arm_recv(self) except -1:
        cdef DatagramRecv op = self.recv_op
        if op.user_data or self.fd < 0 or self.fd_release_pending:
            return 0
        op.iov.iov_base = self.buffer
        op.iov.iov_len = DATAGRAM_MAX_SIZE
        op.msg.msg_name = &op.address
        op.msg.msg_namelen = sizeof(op.address)
        op.msg.msg_iov = &op.iov
        op.msg.msg_iovlen = 1
        op.msg.msg_control = NULL
        op.msg.msg_controllen = 0
        io_uring_prep_recvmsg(self.loop._ring.sqe_for(op), self.fd, &op.msg, 0)
        return 0

    cdef int on_recv(self, int32_t res) except -1:
        cdef object data, sender
        if self.closing or self.paused or res == -ECANCELED:
            if not self.closing and not self.paused:
                self.arm_recv()
            self.release_if_idle()
            return 0
        if res < 0:
            self.arm_recv()
            self.protocol.error_received(errno_error(-res))
            return 0
        data = PyBytes_FromStringAndSize(self.buffer, res)
        sender = sockaddr_to_python(<sockaddr*>&self.recv_op.address,
                                    self.recv_op.msg.msg_namelen)
        self.arm_recv()
        try:
            self.protocol.datagram_received(data, sender)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self.loop.call_exception_handler({
                'message': 'Exception in protocol.datagram_received()',
                'exception': exc,
                'transport': self,
                'protocol': self.protocol,
            })
        return 0

    def pause_reading(self):
        if self.closing or self.paused:
            return
        self.paused = True
        if self.recv_op.user_data:
            self.loop._ring.cancel(self.recv_op)

    def resume_reading(self):
        if self.closing or not self.paused:
            return
        self.paused = False
        self.arm_recv()

    def is_reading(self):
        return not self.paused and not self.closing

    # -- sending -----------------------------------------------------------

    def sendto(self, data, addr=None):
        cdef DatagramSend op
        if type(data) is not bytes:
            if not isinstance(data, (bytearray, memoryview)):
                raise TypeError(f'data argument must be a bytes-like object, '
                                f'not {type(data).__name__!r}')
            data = bytes(data)      # the caller may change it after sendto()
        if not data:
            return
        if self.address:
            if addr not in (None, self.address):
                raise ValueError(f'Invalid address: must be None or {self.address}')
            addr = self.address
        if self.conn_lost or self.fd < 0:
            if self.conn_lost >= LOG_THRESHOLD_FOR_CONNLOST_WRITES:
                logger.warning('socket.send() raised exception.')
            self.conn_lost += 1
            return
        op = DatagramSend.__new__(DatagramSend)
        op.data = <bytes>data
        op.iov.iov_base = PyBytes_AS_STRING(op.data)
        op.iov.iov_len = len(op.data)
        op.msg.msg_iov = &op.iov
        op.msg.msg_iovlen = 1
        if not self.connected:
            try:
                if addr is None:
                    raise TypeError('a destination address is required')
                op.msg.msg_namelen = sockaddr_from_python(self.sock.family, addr, &op.address)
            except OSError as exc:
                self.protocol.error_received(exc)
                return
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self.fatal_error(exc, 'Fatal write error on datagram transport')
                return
            op.msg.msg_name = &op.address
        op.transport = self
        io_uring_prep_sendmsg(self.loop._ring.sqe_for(op), self.fd, &op.msg, MSG_NOSIGNAL)
        self.sends.add(op)
        self.buffer_size += len(op.data)
        self.maybe_pause_protocol()

    cdef int on_sent(self, DatagramSend op, int32_t res) except -1:
        self.sends.discard(op)
        op.transport = None
        if self.conn_lost:
            self.release_if_idle()
            return 0
        self.buffer_size -= len(op.data)
        if res < 0 and res != -ECANCELED:
            self.protocol.error_received(errno_error(-res))
        self.maybe_resume_protocol()
        if self.closing and not self.sends:
            self._call_connection_lost(None)
        return 0

    # -- closing -----------------------------------------------------------

    def close(self):
        if self.closing:
            return
        self.closing = True
        if self.recv_op.user_data:
            self.loop._ring.cancel(self.recv_op)
        if not self.sends:
            self.conn_lost += 1
            self.loop.soon(self._call_connection_lost, (None,))

    cdef bint requests_in_flight(self):
        return self.recv_op.user_data != 0 or len(self.sends) != 0

    cdef int cancel_requests(self) except -1:
        cdef DatagramSend op
        if self.recv_op.user_data:
            self.loop._ring.cancel(self.recv_op)
        for op in self.sends:
            self.loop._ring.cancel(op)
        return 0

    cdef int released(self) except -1:
        self.recv_op.transport = None
        return 0

    @property
    def __class__(self):
        return DatagramTransportClass

    def __repr__(self):
        state = 'closed' if self.sock is None else ('closing' if self.closing else 'open')
        return f'<DatagramTransport {state} fd={self.fd}>'

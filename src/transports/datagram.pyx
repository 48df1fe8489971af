# UDP (and Unix datagram) transport: a RECVMSG kept armed on the socket;
# sendto() on an idle transport sends at once (as asyncio's), datagrams the
# socket did not take go out one SENDMSG at a time on the ring. Behaves as
# asyncio's _SelectorDatagramTransport: send and receive errors go to
# error_received().

from asyncio import transports as aio_transports
from sys import version_info as PY_VERSION

cdef enum:
    DATAGRAM_MAX_SIZE = 256 * 1024      # asyncio's max_size for recvfrom()

# Since Python 3.13 sendto(b'') sends an empty datagram, and the write
# buffer size counts 8 header bytes per queued datagram.
cdef bint SENDS_EMPTY_DATAGRAMS = PY_VERSION >= (3, 13)
cdef Py_ssize_t DATAGRAM_HEADER_SIZE = 8 if PY_VERSION >= (3, 13) else 0


class DatagramTransportClass(aio_transports._FlowControlMixin,
                             aio_transports.DatagramTransport):
    """What a DatagramTransport reports as its __class__ (see StreamTransportClass)."""


DatagramTransportClass.__name__ = DatagramTransportClass.__qualname__ = 'DatagramTransport'


cdef class DatagramTransport(TransportBase):
    """asyncio.DatagramTransport on io_uring. Its queue holds (data,
    encoded address or None) pairs."""

    error_noun = 'datagram'

    cdef msghdr recv_msg
    cdef iovec recv_iov
    cdef sockaddr_storage recv_address
    cdef msghdr send_msg                # the queue's head
    cdef iovec send_iov
    cdef sockaddr_storage send_address
    cdef object address                 # the connected remote address, or None
    cdef bint connected                 # the socket has a peer: no address per send

    @staticmethod
    cdef DatagramTransport create(Loop loop, object sock, object protocol,
                                  object address, object waiter, object extra):
        cdef DatagramTransport self = DatagramTransport.__new__(DatagramTransport)
        self.init_base(loop, sock, protocol, extra, None)
        self.init_socket()
        self.address = address
        self.connected = bool(self.extra['peername'])
        self.allocate_buffer(DATAGRAM_MAX_SIZE)
        self.reader = self.new_request(READ_REQUEST)
        self.writer = self.new_request(WRITE_REQUEST)
        self.announce(self._start_reading, waiter, False)
        return self

    # -- receiving ---------------------------------------------------------

    cdef int submit_read(self) except -1:
        self.recv_iov.iov_base = self.own_buffer
        self.recv_iov.iov_len = DATAGRAM_MAX_SIZE
        memset(&self.recv_msg, 0, sizeof(msghdr))
        self.recv_msg.msg_name = &self.recv_address
        self.recv_msg.msg_namelen = sizeof(sockaddr_storage)
        self.recv_msg.msg_iov = &self.recv_iov
        self.recv_msg.msg_iovlen = 1
        io_uring_prep_recvmsg(self.loop._ring.sqe_for(self.reader), self.fd, &self.recv_msg, 0)
        return 0

    cdef int on_read(self, int32_t res, uint32_t flags) except -1:
        cdef object item
        if res == -ECANCELED or res == -EINTR or res == -EAGAIN:
            return self.keep_receiving()
        if self.closing:
            return 0
        if res < 0:
            self.arm_reader()
            self.protocol.error_received(errno_error(-res))
            return 0
        item = (PyBytes_FromStringAndSize(self.own_buffer, res),
                sockaddr_to_python(<sockaddr*>&self.recv_address, self.recv_msg.msg_namelen))
        return self.receive(item)

    cdef int deliver(self, object item) except -1:
        return self.call_protocol(self.protocol.datagram_received, <tuple>item,
                                  'Exception in protocol.datagram_received()')

    # -- sending -----------------------------------------------------------

    cdef int check_write(self) except -1:
        raise NotImplementedError      # datagrams go out with sendto()

    def sendto(self, data, addr=None):
        cdef sockaddr_storage storage
        cdef socklen_t length
        cdef object encoded = None
        cdef bint was_idle
        if type(data) is not bytes:
            if not isinstance(data, (bytearray, memoryview)):
                raise TypeError(f'data argument must be a bytes-like object, '
                                f'not {type(data).__name__!r}')
            data = bytes(data)      # the caller may change it after sendto()
        if not data and not SENDS_EMPTY_DATAGRAMS:
            return
        if self.address:
            if addr not in (None, self.address):
                raise ValueError(f'Invalid address: must be None or {self.address}')
            addr = self.address
        if (self.conn_lost and self.address) or self.fd < 0:
            # As asyncio: an unconnected transport still tries (and reports
            # the error) until its socket is released.
            self.write_lost()
            return
        if not self.connected:
            try:
                if addr is None:
                    raise TypeError('a destination address is required')
                length = sockaddr_from_python(self.file.family, addr, &storage)
            except OSError as exc:
                self.protocol.error_received(exc)
                return
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self.fatal_error(exc, 'Fatal write error on datagram transport')
                return
            encoded = PyBytes_FromStringAndSize(<char*>&storage, length)
        was_idle = not self.queue
        self.queue.append((data, encoded))
        self.buffer_size += len(<bytes>data) + DATAGRAM_HEADER_SIZE
        self.queued(was_idle)

    cdef int point_at_head(self) except -1:
        """Points send_msg at the first queued datagram."""
        cdef bytes data, encoded
        data, encoded = self.queue[0]
        memset(&self.send_msg, 0, sizeof(msghdr))
        self.send_iov.iov_base = PyBytes_AS_STRING(data)
        self.send_iov.iov_len = len(data)
        self.send_msg.msg_iov = &self.send_iov
        self.send_msg.msg_iovlen = 1
        if encoded is not None:
            memcpy(&self.send_address, PyBytes_AS_STRING(encoded), len(encoded))
            self.send_msg.msg_name = &self.send_address
            self.send_msg.msg_namelen = <socklen_t>len(encoded)
        return 0

    cdef int sent_head(self, int err) except -1:
        """The first queued datagram went out (or failed with err)."""
        data, _ = self.queue.pop(0)
        self.buffer_size -= len(<bytes>data) + DATAGRAM_HEADER_SIZE
        if err:
            self.protocol.error_received(errno_error(err))
        return 0

    cdef int send_now(self) except -1:
        cdef ssize_t n
        cdef int err
        self.point_at_head()
        n = sendmsg_now(self.fd, &self.send_msg, MSG_NOSIGNAL | MSG_DONTWAIT)
        err = c_errno if n < 0 else 0
        if err == EAGAIN or err == EINTR:
            return 0
        return self.sent_head(err)

    cdef int submit_write(self) except -1:
        self.point_at_head()
        io_uring_prep_sendmsg(self.loop._ring.sqe_for(self.writer), self.fd,
                              &self.send_msg, MSG_NOSIGNAL)
        return 0

    cdef int on_write(self, int32_t res) except -1:
        if self.lost_scheduled:
            return 0
        if res == -EAGAIN or res == -EINTR or res == -ECANCELED:
            return self.loop._transports.want_flush(self)
        self.sent_head(-res if res < 0 else 0)
        self.maybe_resume_protocol()
        return self.write_next()

    @property
    def __class__(self):
        return DatagramTransportClass

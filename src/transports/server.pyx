# Listening sockets of asyncio.Server objects: one multishot ACCEPT per
# socket; each accepted connection gets its protocol and a StreamTransport
# straight from the CQE (TLS connections go through asyncio's handshake),
# in a contextvars context of its own, copied from the one the server
# started serving in (as asyncio's per-connection task).

from socket import socket as PySocket


cdef class AcceptMultishot(Operation):
    """Accepts connections on one listening socket until stopped."""

    cdef Loop loop
    cdef object sock
    cdef int fd
    cdef int family, type, proto
    cdef object protocol_factory
    cdef object sslcontext
    cdef object server
    cdef object ssl_handshake_timeout
    cdef object ssl_shutdown_timeout
    cdef bint active
    cdef object retry_handle
    cdef object context             # current when serving started

    cdef int arm(self) except -1:
        if not self.active or self.user_data:
            return 0
        io_uring_prep_multishot_accept(self.loop._ring.sqe_for(self), self.fd, NULL, NULL,
                                       SOCK_NONBLOCK | SOCK_CLOEXEC)
        return 0

    def _rearm(self):
        self.retry_handle = None
        self.arm()

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        cdef bint final = not (flags & IORING_CQE_F_MORE)
        if res >= 0:
            if not self.active:
                close_fd(res)
            else:
                self.accepted(res)
            if final:
                self.arm()
            return 0
        if not self.active:
            return 0
        if res == -ECANCELED:
            # Not stop()'s cancel (that clears active first): the kernel ended
            # the accept; the server goes on accepting.
            if final:
                self.arm()
            return 0
        if res == -EMFILE or res == -ENFILE or res == -ENOBUFS or res == -ENOMEM:
            self.loop.call_exception_handler({
                'message': 'socket.accept() out of system resource',
                'exception': errno_error(-res),
                'socket': TransportSocket(self.sock),
            })
            if final and self.retry_handle is None:
                self.retry_handle = self.loop.call_later(
                    aio_constants.ACCEPT_RETRY_DELAY, self._rearm)
            return 0
        if final:
            self.arm()      # ECONNABORTED and friends: keep accepting
        return 0

    cdef int accepted(self, int fd) except -1:
        cdef object conn, protocol = None, transport = None
        cdef object context
        try:
            conn = PySocket(self.family, self.type, self.proto, fd)
            conn.setblocking(False)
        except BaseException:
            close_fd(fd)
            raise
        context = PyContext_Copy(self.context)
        if self.sslcontext is not None:
            self.loop.create_task(self.loop._accept_tls_connection(
                self.protocol_factory, conn, self.sslcontext, self.server,
                self.ssl_handshake_timeout, self.ssl_shutdown_timeout, context),
                context=context)
            return 0
        PyContext_Enter(context)
        try:
            protocol = self.protocol_factory()
            transport = StreamTransport.create(self.loop, conn, protocol, None,
                                               None, self.server, context)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            if transport is None:
                conn.close()
            if self.loop._debug:
                report = {
                    'message': 'Error on transport creation for incoming connection',
                    'exception': exc,
                }
                if protocol is not None:
                    report['protocol'] = protocol
                if transport is not None:
                    report['transport'] = transport
                self.loop.call_exception_handler(report)
        finally:
            PyContext_Exit(context)
        return 0

    cdef int stop(self) except -1:
        self.active = False
        if self.retry_handle is not None:
            self.retry_handle.cancel()
            self.retry_handle = None
        if self.user_data:
            self.loop._ring.cancel(self)
            # Complete the cancel now, so closing the socket really closes it
            # (refused connections) and its fd number can be reused.
            self.loop._ring.submit_and_flush()
        return 0

# The loop's transports component: it makes every kind of transport, keeps
# socket transports by fd (so add_reader() can refuse an fd one owns),
# flushes their queued writes right before the loop enters the kernel, and
# lends stream transports the loop's provided buffer ring.

from os import pidfd_open as os_pidfd_open
from weakref import WeakValueDictionary


cdef class FlushTarget:

    cdef int flush(self) except -1:
        return 0


cdef class Transports:

    cdef int open(self, Loop loop) except -1:
        self.loop = loop
        self.by_fd = WeakValueDictionary()
        self.flush_targets = []
        self.accepting = {}
        return 0

    cdef int register(self, int fd, object transport) except -1:
        self.by_fd[fd] = transport
        return 0

    def get(self, fd):
        """The transport that owns fd, or None."""
        return self.by_fd.get(fd)

    # -- writes -----------------------------------------------------------------

    cdef int want_flush(self, FlushTarget target) except -1:
        if not target.flush_registered:
            target.flush_registered = True
            self.flush_targets.append(target)
        return 0

    cdef int flush(self) except -1:
        cdef list targets = self.flush_targets
        cdef FlushTarget target
        if not targets:
            return 0
        self.flush_targets = []
        for target in targets:
            target.flush_registered = False
            try:
                target.flush()
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self.loop.call_exception_handler({
                    'message': 'Exception while flushing writes',
                    'exception': exc,
                })
        return 0

    # -- receive buffers ----------------------------------------------------------

    cdef ProvidedBufferRing buffer_ring(self):
        """The loop's provided buffer ring, set up on first use (from the
        thread running the loop); None when the kernel refuses it."""
        if not self.pbuf_tried:
            self.pbuf_tried = True
            self.pbuf = ProvidedBufferRing.create(self.loop._ring)
        return self.pbuf

    def use_buffer_ring(self, bint enabled):
        """Tests: False makes new stream transports receive with single-shot
        RECVs into their own buffers (the path for kernels without buffer rings)."""
        if not enabled:
            self.pbuf_tried = True
            self.pbuf = None
        elif self.pbuf is None:
            self.pbuf_tried = False

    # -- making transports ------------------------------------------------------

    def stream(self, sock, protocol, waiter=None, extra=None, server=None, context=None):
        """A stream transport on a connected socket (_make_socket_transport);
        its protocol's callbacks run in context (default: the current one)."""
        return StreamTransport.create(self.loop, sock, protocol, waiter, extra, server, context)

    def datagram(self, sock, protocol, address=None, waiter=None, extra=None):
        """A datagram transport (_make_datagram_transport)."""
        return DatagramTransport.create(self.loop, sock, protocol, address, waiter, extra)

    def read_pipe(self, pipe, protocol, waiter=None, extra=None):
        """A read pipe transport (_make_read_pipe_transport)."""
        return ReadPipeTransport.create(self.loop, pipe, protocol, waiter, extra)

    def write_pipe(self, pipe, protocol, waiter=None, extra=None):
        """A write pipe transport (_make_write_pipe_transport)."""
        return WritePipeTransport.create(self.loop, pipe, protocol, waiter, extra)

    def serve(self, protocol_factory, sock, sslcontext, server,
              ssl_handshake_timeout, ssl_shutdown_timeout, context=None):
        """Accepts connections on a listening socket with a multishot ACCEPT
        (_start_serving); once per socket. Each connection runs in a copy of
        context (default: the current one)."""
        cdef AcceptMultishot op
        fd = sock.fileno()
        if fd in self.accepting:
            return
        op = AcceptMultishot.__new__(AcceptMultishot)
        op.loop = self.loop
        op.sock = sock
        op.fd = fd
        op.family = sock.family
        op.type = sock.type
        op.proto = sock.proto
        op.protocol_factory = protocol_factory
        op.sslcontext = sslcontext
        op.server = server
        op.ssl_handshake_timeout = ssl_handshake_timeout
        op.ssl_shutdown_timeout = ssl_shutdown_timeout
        op.context = PyContext_CopyCurrent() if context is None else context
        op.active = True
        op.arm()
        self.accepting[fd] = op

    def stop_serving(self, sock):
        """Stops accepting on sock (its accept is cancelled at once)."""
        op = self.accepting.pop(sock.fileno(), None)
        if op is not None:
            (<AcceptMultishot>op).stop()

    def watch_child(self, int pid, callback, *args):
        """Calls callback(*args, returncode) once child pid has exited (a
        POLL_ADD on its pidfd)."""
        cdef ChildExit op = ChildExit.__new__(ChildExit)
        op.loop = self.loop
        op.pid = pid
        op.callback = callback
        op.args = args
        op.context = PyContext_CopyCurrent()
        op.pidfd = os_pidfd_open(pid)
        op.arm()
        return op

    @staticmethod
    def is_native(transport):
        """Whether loop.sendfile() can splice into transport's socket."""
        return type(transport) is StreamTransport

    # -- closing ------------------------------------------------------------------

    cdef int close(self) except -1:
        self.flush_targets = []
        return 0

    cdef int release_buffers(self, bint kernel_may_write) except -1:
        """After the ring closed: close the fds transports still held for
        requests that never completed, and unmap the buffer ring unless the
        kernel may still write into it."""
        cdef TransportBase transport
        for transport in list(self.by_fd.values()):
            transport.release_held_fd()
        if self.pbuf is not None:
            if not kernel_may_write:
                self.pbuf.release()
            self.pbuf = None
        return 0

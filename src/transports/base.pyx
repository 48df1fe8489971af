# What every socket transport of the loop shares, as asyncio's
# _SelectorTransport: extra info, protocol switching, write flow control
# (pause_writing/resume_writing), fatal errors, and connection_lost() once,
# with the socket closed only after its last request completed.

from asyncio import base_events as aio_base_events
from asyncio import constants as aio_constants
from asyncio import futures as aio_futures
from asyncio import protocols as aio_protocols
from asyncio import transports as aio_transports
from asyncio import trsock as aio_trsock
import warnings
from asyncio.log import logger

cdef object set_result_unless_cancelled = aio_futures._set_result_unless_cancelled
cdef object TransportSocket = aio_trsock.TransportSocket
cdef int LOG_THRESHOLD_FOR_CONNLOST_WRITES = aio_constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES
# Since Python 3.13 a Server keeps its client transports (for close_clients()
# and abort_clients()): _attach(transport) and _detach(transport).
cdef bint SERVER_TRACKS_CLIENTS = aio_base_events.Server._attach.__code__.co_argcount > 1


cdef class SocketTransportBase(FlushTarget):
    """Base of the stream and datagram transports."""

    cdef Loop loop
    cdef object sock
    cdef int fd
    cdef object protocol
    cdef dict extra
    cdef object server
    cdef Py_ssize_t buffer_size     # bytes written and not yet sent
    cdef Py_ssize_t high_water
    cdef Py_ssize_t low_water
    cdef bint protocol_paused       # pause_writing() was called
    cdef bint closing
    cdef int conn_lost
    cdef bint fd_release_pending    # close the socket once no request is in flight
    cdef dict __dict__              # tests and applications set attributes (mocks)
    cdef object __weakref__

    def __cinit__(self):
        self.fd = -1
        self.high_water = 64 * 1024
        self.low_water = 16 * 1024

    def __init__(self, *args, **kwargs):
        raise TypeError("transports are created by the loop")

    cdef int init_base(self, Loop loop, object sock, object protocol,
                       object extra, object server) except -1:
        self.loop = loop
        self.sock = sock
        self.fd = sock.fileno()
        self.extra = {} if extra is None else dict(extra)
        self.extra['socket'] = TransportSocket(sock)
        try:
            self.extra['sockname'] = sock.getsockname()
        except OSError:
            self.extra['sockname'] = None
        if 'peername' not in self.extra:
            try:
                self.extra['peername'] = sock.getpeername()
            except OSError:
                self.extra['peername'] = None
        self.server = server
        self.set_protocol(protocol)
        loop._transports.register(self.fd, self)
        if server is not None:
            if SERVER_TRACKS_CLIENTS:
                server._attach(self)
            else:
                server._attach()
        return 0

    # -- requests: defined by each kind of transport -------------------------

    cdef bint requests_in_flight(self):
        return False

    cdef int cancel_requests(self) except -1:
        return 0

    cdef int drop_writes(self) except -1:
        """Forgets every write not yet sent (abort, fatal error)."""
        self.buffer_size = 0
        return 0

    # -- write flow control ----------------------------------------------------

    cdef int maybe_pause_protocol(self) except -1:
        if self.buffer_size <= self.high_water or self.protocol_paused:
            return 0
        self.protocol_paused = True
        try:
            self.protocol.pause_writing()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self.loop.call_exception_handler({
                'message': 'protocol.pause_writing() failed',
                'exception': exc,
                'transport': self,
                'protocol': self.protocol,
            })
        return 0

    cdef int maybe_resume_protocol(self) except -1:
        if self.protocol_paused and self.buffer_size <= self.low_water:
            self.protocol_paused = False
            try:
                self.protocol.resume_writing()
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self.loop.call_exception_handler({
                    'message': 'protocol.resume_writing() failed',
                    'exception': exc,
                    'transport': self,
                    'protocol': self.protocol,
                })
        return 0

    def get_write_buffer_size(self):
        return self.buffer_size

    def get_write_buffer_limits(self):
        return (self.low_water, self.high_water)

    def set_write_buffer_limits(self, high=None, low=None):
        if high is None:
            high = 64 * 1024 if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f'high ({high!r}) must be >= low ({low!r}) must be >= 0')
        self.high_water = high
        self.low_water = low
        self.maybe_pause_protocol()

    # -- closing -----------------------------------------------------------------

    def is_closing(self):
        return self.closing

    def abort(self):
        self.force_close(None)

    cdef int fatal_error(self, exc, str message) except -1:
        if isinstance(exc, OSError):
            if self.loop._debug:
                logger.debug("%r: %s", self, message, exc_info=True)
        else:
            self.loop.call_exception_handler({
                'message': message,
                'exception': exc,
                'transport': self,
                'protocol': self.protocol,
            })
        return self.force_close(exc)

    def _fatal_error(self, exc, message='Fatal error on transport'):
        self.fatal_error(exc, message)

    cdef int force_close(self, exc) except -1:
        if self.conn_lost:
            return 0
        if self.buffer_size:
            self.drop_writes()
        self.closing = True
        self.cancel_requests()
        self.conn_lost += 1
        self.loop.soon(self._call_connection_lost, (exc,))
        return 0

    def _force_close(self, exc):
        self.force_close(exc)

    def _call_connection_lost(self, exc):
        if not self.conn_lost:
            self.conn_lost = 1      # closed after the last write went out
        try:
            if self.protocol is not None:
                self.protocol.connection_lost(exc)
        finally:
            self.protocol = None
            self.fd_release_pending = True
            self.cancel_requests()
            self.release_if_idle()
            server = self.server
            if server is not None:
                self.server = None
                if SERVER_TRACKS_CLIENTS:
                    server._detach(self)
                else:
                    server._detach()

    cdef int release_if_idle(self) except -1:
        """Closes the socket once connection_lost() ran and no request on
        its fd is still in flight."""
        if self.fd_release_pending and self.sock is not None and not self.requests_in_flight():
            sock = self.sock
            self.sock = None
            self.fd = -1
            self.released()
            sock.close()
        return 0

    cdef int released(self) except -1:
        """No request can complete any more: break reference cycles."""
        return 0

    def __del__(self):
        if self.sock is not None and not self.fd_release_pending:
            warnings.warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            self.sock.close()
            self.sock = None

    # -- protocol and information ----------------------------------------------

    def set_protocol(self, protocol):
        self.protocol = protocol

    def get_protocol(self):
        return self.protocol

    def get_extra_info(self, name, default=None):
        return self.extra.get(name, default)

    @property
    def _loop(self):
        return self.loop

    @property
    def _sock(self):
        return self.sock

    @property
    def _sock_fd(self):
        return self.fd

    @property
    def _protocol(self):
        return self.protocol

    @property
    def _closing(self):
        return self.closing

    @property
    def _conn_lost(self):
        return self.conn_lost

    @property
    def _protocol_paused(self):
        return self.protocol_paused

    @property
    def _server(self):
        return self.server

    @property
    def _extra(self):
        return self.extra

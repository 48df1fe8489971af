"""aiouring.Loop: the native core (aiouring._ring) under asyncio's own
implementation of the rest of the AbstractEventLoop contract."""

import socket
import warnings
from asyncio import base_events, constants, events, sslproto, unix_events

from . import _ring

__all__ = ["Loop"]

_UnixLoop = unix_events._UnixSelectorEventLoop


class Loop(_ring.SocketLoop, _UnixLoop):
    """An asyncio event loop driven by io_uring.

    Scheduling, timers, waiting and the sock_* operations are native; every
    socket operation is an io_uring request. Servers, transports, pipes and
    subprocesses are asyncio's, driven by io_uring poll requests.
    """

    def __init__(self):
        try:
            self._init_core()
        except BaseException:
            self._closed = True     # nothing to close; keeps __del__ quiet
            raise
        self._accepting = {}        # listening fd -> its multishot accept
        _UnixLoop.__init__(self)

    def _make_self_pipe(self):
        self._internal_fds += 1     # the core made it and reads it through the ring

    def _close_self_pipe(self):
        self._internal_fds -= 1     # the core closes it after draining the ring

    @property
    def _ready(self):
        return self._ready_queue()

    @_ready.setter
    def _ready(self, value):
        self._set_ready_queue(value)

    def close(self):
        if self.is_running():
            raise RuntimeError("Cannot close a running event loop")
        if self.is_closed():
            return
        self._close_core()
        _UnixLoop.close(self)

    def add_reader(self, fd, callback, *args):
        """Calls callback(*args) whenever fd is readable (as asyncio does)."""
        self._ensure_fd_no_transport(fd)
        self._add_reader(fd, callback, *args)

    def remove_reader(self, fd):
        self._ensure_fd_no_transport(fd)
        return self._remove_reader(fd)

    def add_writer(self, fd, callback, *args):
        """Calls callback(*args) whenever fd is writable (as asyncio does)."""
        self._ensure_fd_no_transport(fd)
        self._add_writer(fd, callback, *args)

    def remove_writer(self, fd):
        self._ensure_fd_no_transport(fd)
        return self._remove_writer(fd)

    # -- transports and servers (native, completion-based) -----------------

    def _make_socket_transport(self, sock, protocol, waiter=None, *,
                               extra=None, server=None):
        return _ring.new_stream_transport(self, sock, protocol, waiter, extra, server)

    def _make_ssl_transport(
            self, rawsock, protocol, sslcontext, waiter=None,
            *, server_side=False, server_hostname=None,
            extra=None, server=None,
            ssl_handshake_timeout=constants.SSL_HANDSHAKE_TIMEOUT,
            ssl_shutdown_timeout=constants.SSL_SHUTDOWN_TIMEOUT,
    ):
        ssl_protocol = sslproto.SSLProtocol(
            self, protocol, sslcontext, waiter, server_side, server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout)
        _ring.new_stream_transport(self, rawsock, ssl_protocol, None, extra, server)
        return ssl_protocol._app_transport

    def _make_datagram_transport(self, sock, protocol,
                                 address=None, waiter=None, extra=None):
        return _ring.new_datagram_transport(self, sock, protocol, address, waiter, extra)

    def _make_read_pipe_transport(self, pipe, protocol, waiter=None, extra=None):
        return _ring.new_read_pipe_transport(self, pipe, protocol, waiter, extra)

    def _make_write_pipe_transport(self, pipe, protocol, waiter=None, extra=None):
        return _ring.new_write_pipe_transport(self, pipe, protocol, waiter, extra)

    async def _make_subprocess_transport(self, protocol, args, shell,
                                         stdin, stdout, stderr, bufsize,
                                         extra=None, **kwargs):
        """Subprocesses whose exit the ring watches (pidfd), unless the
        application installed a child watcher of its own."""
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)
            watcher = getattr(events.get_event_loop_policy(), "_watcher", None)
        if watcher is not None and not isinstance(
                watcher, (unix_events.ThreadedChildWatcher, unix_events.PidfdChildWatcher)):
            return await super()._make_subprocess_transport(
                protocol, args, shell, stdin, stdout, stderr, bufsize,
                extra=extra, **kwargs)
        waiter = self.create_future()
        transp = unix_events._UnixSubprocessTransport(
            self, protocol, args, shell, stdin, stdout, stderr, bufsize,
            waiter=waiter, extra=extra, **kwargs)
        _ring.watch_child(self, transp.get_pid(), transp._process_exited)
        try:
            await waiter
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException:
            transp.close()
            await transp._wait()
            raise
        return transp

    def _start_serving(self, protocol_factory, sock,
                       sslcontext=None, server=None, backlog=100,
                       ssl_handshake_timeout=constants.SSL_HANDSHAKE_TIMEOUT,
                       ssl_shutdown_timeout=constants.SSL_SHUTDOWN_TIMEOUT):
        fd = sock.fileno()
        if fd in self._accepting:
            return
        self._accepting[fd] = _ring.start_accepting(
            self, protocol_factory, sock, sslcontext, server,
            ssl_handshake_timeout, ssl_shutdown_timeout)

    def _stop_serving(self, sock):
        op = self._accepting.pop(sock.fileno(), None)
        if op is not None:
            _ring.stop_accepting(op)
        else:
            self._remove_reader(sock.fileno())
        sock.close()

    async def sock_connect(self, sock, address):
        """Connects sock to address, resolving host names as asyncio does."""
        base_events._check_ssl_socket(sock)
        if self._debug and sock.gettimeout() != 0:
            raise ValueError("the socket must be non-blocking")
        if sock.family == socket.AF_INET or (
                base_events._HAS_IPv6 and sock.family == socket.AF_INET6):
            resolved = await self._ensure_resolved(
                address, family=sock.family, type=sock.type, proto=sock.proto,
                loop=self)
            _, _, _, _, address = resolved[0]
        return await self._sock_connect_resolved(sock, address)

    def __repr__(self):
        return (f"<{type(self).__name__} running={self.is_running()} "
                f"closed={self.is_closed()} debug={self.get_debug()}>")

"""aiouring.Loop: the native core (aiouring._ring) under asyncio's own
implementation of the rest of the AbstractEventLoop contract."""

import socket
from asyncio import base_events, unix_events

from . import _ring

__all__ = ["Loop"]

_UnixLoop = unix_events._UnixSelectorEventLoop


class Loop(_ring.ChainLoop, _UnixLoop):
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
        _UnixLoop.__init__(self)

    def _make_self_pipe(self):
        # The core made it and reads it through the ring.
        self._internal_fds += 1

    def _close_self_pipe(self):
        # The core closes it after draining the ring.
        self._internal_fds -= 1

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
        self._close_chains()
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

"""aiouring.Loop: the native core (aiouring._ring) under asyncio's own
implementation of the rest of the AbstractEventLoop contract."""

import errno
import io
import os
import socket
import warnings
from asyncio import base_events, constants, events, exceptions, sslproto, unix_events

from . import _ring

__all__ = ["Loop"]

_SPLICE_CHUNK = 1 << 20         # bytes per linked file->pipe->socket pair

_UnixLoop = unix_events._UnixSelectorEventLoop


class Loop(_ring.ProgramLoop, _UnixLoop):
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

    @property
    def bpf(self):
        """This loop's chain programs: ``loop.bpf.register(bundle)`` adds a
        bundle built by ``python -m aiouring.bpf build``; ``program_names()``
        and ``run(name, *args)`` (see aiouring.bpf)."""
        from .bpf import LoopPrograms
        return LoopPrograms(self)

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

    async def _sendfile_native(self, transp, file, offset, count):
        """loop.sendfile() on a native transport: linked SPLICEs on the ring."""
        if not _ring.is_stream_transport(transp):
            return await super()._sendfile_native(transp, file, offset, count)
        try:
            fileno = file.fileno()
        except (AttributeError, io.UnsupportedOperation):
            raise exceptions.SendfileNotAvailableError("not a regular file")
        try:
            fsize = os.fstat(fileno).st_size
        except OSError:
            raise exceptions.SendfileNotAvailableError("not a regular file")
        remaining = (count if count else fsize) if offset < fsize else 0
        if count:
            remaining = min(remaining, max(0, fsize - offset))
        if remaining <= 0:
            return 0
        # As asyncio: no reading and no write() while the file goes out.
        resume_reading = transp.is_reading()
        transp.pause_reading()
        await transp._make_empty_waiter()
        pipe_r, pipe_w = os.pipe2(os.O_CLOEXEC)
        total = 0
        try:
            try:
                import fcntl
                fcntl.fcntl(pipe_w, fcntl.F_SETPIPE_SZ, _SPLICE_CHUNK)
                chunk = _SPLICE_CHUNK
            except OSError:
                chunk = 65536
            sock_fd = transp._sock_fd
            while remaining > 0:
                n = min(remaining, chunk)
                ops = _ring.splice_file_to_socket(self, fileno, offset + total,
                                                  pipe_w, pipe_r, sock_fd, n)
                moved_in, moved_out = await self._splice_results(ops)
                if moved_in < 0:
                    if total == 0 and moved_in in (-errno.EINVAL, -errno.ESPIPE):
                        raise exceptions.SendfileNotAvailableError("file cannot be spliced")
                    raise OSError(-moved_in, os.strerror(-moved_in))
                if moved_in == 0:
                    break                           # end of file
                if moved_out == -errno.ECANCELED:
                    moved_out = 0                   # a short first splice ends the link
                elif moved_out < 0:
                    raise _send_error(moved_out)
                total += moved_out                  # what reached the socket
                while moved_out < moved_in:         # the socket took less: the rest is in the pipe
                    op = _ring.splice_pipe_to_socket(self, pipe_r, sock_fd, moved_in - moved_out)
                    (res,) = await self._splice_results((op,))
                    if res <= 0:
                        raise _send_error(res)
                    moved_out += res
                    total += res
                remaining -= moved_in
            return total
        finally:
            os.close(pipe_r)
            os.close(pipe_w)
            if total > 0:
                file.seek(offset + total)
            transp._reset_empty_waiter()
            if resume_reading:
                transp.resume_reading()

    async def _splice_results(self, ops):
        try:
            return [await op.future for op in ops]
        except BaseException:
            for op in ops:
                _ring.cancel_operation(self, op)
            raise

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
        # asyncio's closes the socket (and since Python 3.13 removes the
        # path of a unix server it created).
        _UnixLoop._stop_serving(self, sock)

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


def _send_error(res):
    if res == 0:
        return ConnectionError("socket is not connected", errno.ENOTCONN)
    if res == -errno.ENOTCONN:
        return ConnectionError("socket is not connected", errno.ENOTCONN)
    return OSError(-res, os.strerror(-res))

"""aiouring.Loop: the native loop (aiouring._ring.Loop, which owns the ring
and its components) completed with asyncio.BaseEventLoop's implementation of
the rest of the AbstractEventLoop contract (run_until_complete, executors,
exception handlers, getaddrinfo, create_connection, create_server, ...).
There is no selector: everything below asks the core's components."""

import contextvars
import errno
import io
import os
import socket
import stat
import sys
import warnings
from asyncio import (base_events, constants, events, exceptions, sslproto, tasks,
                     unix_events)
from asyncio.log import logger

from . import _ring

__all__ = ["Loop"]

# Python 3.13+ removes the socket file of a unix server it created when the
# server closes, unless asked not to.
_UNIX_SERVERS_CLEAN_UP = sys.version_info >= (3, 13)


class Loop(_ring.Loop, base_events.BaseEventLoop):
    """An asyncio event loop driven by io_uring.

    Scheduling, timers and waiting are native; every socket, file, pipe and
    subprocess operation is an io_uring request.
    """

    def __init__(self):
        try:
            self._init_core()
        except BaseException:
            self._closed = True     # nothing to close; keeps __del__ quiet
            raise
        base_events.BaseEventLoop.__init__(self)
        self._unix_server_sockets = {}   # listening socket -> inode of its file

    @property
    def bpf(self):
        """This loop's chain programs: ``loop.bpf.register(bundle)`` adds a
        bundle built by ``python -m aiouring.bpf build``; ``program_names()``
        and ``run(name, *args)`` (see aiouring.bpf)."""
        from .bpf import LoopPrograms
        return LoopPrograms(self)

    def run_forever(self):
        # While it runs (in the main thread), signals end the ring's wait.
        self._start_signal_routing()
        try:
            super().run_forever()
        finally:
            self._stop_signal_routing()

    def close(self):
        if self.is_running():
            raise RuntimeError("Cannot close a running event loop")
        if self.is_closed():
            return
        self._close_core()
        base_events.BaseEventLoop.close(self)

    # -- fd watches -----------------------------------------------------------

    def _ensure_fd_no_transport(self, fd):
        fileno = fd
        if not isinstance(fileno, int):
            try:
                fileno = int(fileno.fileno())
            except (AttributeError, TypeError, ValueError):
                raise ValueError(f"Invalid file object: {fd!r}") from None
        transport = self._transports.get(fileno)
        if transport is not None and not transport.is_closing():
            raise RuntimeError(f"File descriptor {fd!r} is used by transport {transport!r}")

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
    # context: the contextvars.Context the protocol's callbacks run in (Python
    # 3.15's asyncio passes it); by default the one current at creation.

    def _make_socket_transport(self, sock, protocol, waiter=None, *,
                               extra=None, server=None, context=None):
        return self._transports.stream(sock, protocol, waiter, extra, server, context)

    def _make_ssl_transport(
            self, rawsock, protocol, sslcontext, waiter=None,
            *, server_side=False, server_hostname=None,
            extra=None, server=None,
            ssl_handshake_timeout=constants.SSL_HANDSHAKE_TIMEOUT,
            ssl_shutdown_timeout=constants.SSL_SHUTDOWN_TIMEOUT,
            context=None,
    ):
        ssl_protocol = sslproto.SSLProtocol(
            self, protocol, sslcontext, waiter, server_side, server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout)
        self._transports.stream(rawsock, ssl_protocol, None, extra, server, context)
        return ssl_protocol._app_transport

    def _make_datagram_transport(self, sock, protocol,
                                 address=None, waiter=None, extra=None):
        return self._transports.datagram(sock, protocol, address, waiter, extra)

    def _make_read_pipe_transport(self, pipe, protocol, waiter=None, extra=None):
        return self._transports.read_pipe(pipe, protocol, waiter, extra)

    def _make_write_pipe_transport(self, pipe, protocol, waiter=None, extra=None):
        return self._transports.write_pipe(pipe, protocol, waiter, extra)

    async def _make_subprocess_transport(self, protocol, args, shell,
                                         stdin, stdout, stderr, bufsize,
                                         extra=None, **kwargs):
        """A subprocess whose exit the ring watches (a poll on its pidfd),
        unless the application installed a child watcher of its own (Python
        before 3.14), which then reports it."""
        watcher = _custom_child_watcher()
        waiter = self.create_future()

        def start():
            return unix_events._UnixSubprocessTransport(
                self, protocol, args, shell, stdin, stdout, stderr, bufsize,
                waiter=waiter, extra=extra, **kwargs)

        if watcher is None:
            transp = start()
            self._transports.watch_child(transp.get_pid(), transp._process_exited)
        else:
            with watcher as entered:
                # As asyncio: 3.11 asks what __enter__ gave, 3.12+ the watcher.
                active = entered if sys.version_info < (3, 12) else watcher
                if not active.is_active():
                    raise RuntimeError("asyncio.get_child_watcher() is not activated, "
                                       "subprocess support is not installed.")
                transp = start()
                active.add_child_handler(transp.get_pid(), self._child_exited, transp,
                                         contextvars.copy_context())
        try:
            await waiter
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException:
            transp.close()
            await transp._wait()
            raise
        return transp

    def _child_exited(self, pid, returncode, transp, context):
        # From the watcher's thread; reported in the transport creator's context.
        self.call_soon_threadsafe(transp._process_exited, returncode, context=context)

    async def _sendfile_native(self, transp, file, offset, count):
        """loop.sendfile() on a native transport: the splice pump moves the
        file to its socket (linked SPLICEs through a pipe)."""
        if not self._transports.is_native(transp):
            raise exceptions.SendfileNotAvailableError("not a native transport")
        fileno = _regular_fileno(file)
        # As asyncio: no reading and no write() while the file goes out.
        resume_reading = transp.is_reading()
        transp.pause_reading()
        await transp._make_empty_waiter()
        try:
            return await self._send_file(file, fileno, offset, count, transp._sock_fd)
        finally:
            transp._reset_empty_waiter()
            if resume_reading:
                transp.resume_reading()

    async def _sock_sendfile_native(self, sock, file, offset, count):
        """loop.sock_sendfile(): the splice pump straight to the socket."""
        return await self._send_file(file, _regular_fileno(file), offset, count,
                                     sock.fileno())

    async def _send_file(self, file, fileno, offset, count, out_fd):
        """Up to count bytes (0: to the end) of file from offset to out_fd
        through the splice pump; the file's position ends after what was
        sent, as with asyncio's sendfile."""
        total = max(0, os.fstat(fileno).st_size - offset)
        if count:
            total = min(total, count)
        if total == 0:
            file.seek(offset)
            return 0
        pump = self._files.splice_pump(fileno, offset, out_fd)
        try:
            return await _run_pump(pump, total)
        finally:
            if pump.sent > 0:
                file.seek(offset + pump.sent)

    def _start_serving(self, protocol_factory, sock,
                       sslcontext=None, server=None, backlog=100,
                       ssl_handshake_timeout=constants.SSL_HANDSHAKE_TIMEOUT,
                       ssl_shutdown_timeout=constants.SSL_SHUTDOWN_TIMEOUT, context=None):
        self._transports.serve(protocol_factory, sock, sslcontext, server,
                               ssl_handshake_timeout, ssl_shutdown_timeout, context)

    def _stop_serving(self, sock):
        self._transports.stop_serving(sock)
        inode = self._unix_server_sockets.pop(sock, None)
        path = sock.getsockname() if inode is not None else None
        sock.close()
        if path:
            _remove_socket_file(path, inode)

    async def _accept_tls_connection(self, protocol_factory, conn, sslcontext, server,
                                     ssl_handshake_timeout, ssl_shutdown_timeout,
                                     context=None):
        """A TLS connection a server accepted: its handshake, then the
        protocol gets it (errors are only reported in debug mode, as asyncio).
        It runs in the connection's context, which its transport keeps."""
        protocol = transport = None
        try:
            protocol = protocol_factory()
            waiter = self.create_future()
            transport = self._make_ssl_transport(
                conn, protocol, sslcontext, waiter=waiter, server_side=True,
                server=server, ssl_handshake_timeout=ssl_handshake_timeout,
                ssl_shutdown_timeout=ssl_shutdown_timeout, context=context)
            try:
                await waiter
            except BaseException:
                transport.close()
                waiter = None       # no cycle through the exception
                raise
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            if self._debug:
                context = {'message': 'Error on transport creation for incoming connection',
                           'exception': exc}
                if protocol is not None:
                    context['protocol'] = protocol
                if transport is not None:
                    context['transport'] = transport
                self.call_exception_handler(context)

    # -- sockets ----------------------------------------------------------------

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

    # -- unix sockets -----------------------------------------------------------

    async def create_unix_connection(
            self, protocol_factory, path=None, *, ssl=None, sock=None,
            server_hostname=None, ssl_handshake_timeout=None, ssl_shutdown_timeout=None):
        """A connection to the unix socket at path (or on sock)."""
        _check_tls_arguments(ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
        if ssl and server_hostname is None:
            raise ValueError('you have to pass server_hostname when using ssl')
        if not ssl and server_hostname is not None:
            raise ValueError('server_hostname is only meaningful with ssl')
        if path is not None:
            if sock is not None:
                raise ValueError('path and sock can not be specified at the same time')
            path = os.fspath(path)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0)
            try:
                sock.setblocking(False)
                await self.sock_connect(sock, path)
            except BaseException:
                sock.close()
                raise
        else:
            if sock is None:
                raise ValueError('no path and sock were specified')
            _check_unix_stream_socket(sock)
            sock.setblocking(False)
        return await self._create_connection_transport(
            sock, protocol_factory, ssl, server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout)

    async def create_unix_server(
            self, protocol_factory, path=None, *, sock=None, backlog=100, ssl=None,
            ssl_handshake_timeout=None, ssl_shutdown_timeout=None, start_serving=True,
            cleanup_socket=True):
        """A server listening on the unix socket at path (or on sock). A
        stale socket file at path is replaced; from Python 3.13 on, the file
        is removed when the server closes unless cleanup_socket is false."""
        if isinstance(ssl, bool):
            raise TypeError('ssl argument must be an SSLContext or None')
        _check_tls_arguments(ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
        if path is not None:
            if sock is not None:
                raise ValueError('path and sock can not be specified at the same time')
            path = os.fspath(path)
            sock = _bind_unix_socket(path)
        else:
            if sock is None:
                raise ValueError('path was not specified, and no sock specified')
            _check_unix_stream_socket(sock)
        if _UNIX_SERVERS_CLEAN_UP and cleanup_socket:
            name = sock.getsockname()
            if isinstance(name, str) and name and name[0] != '\0':
                try:
                    self._unix_server_sockets[sock] = os.stat(name).st_ino
                except FileNotFoundError:
                    pass
        sock.setblocking(False)
        server = base_events.Server(self, [sock], protocol_factory, ssl, backlog,
                                    ssl_handshake_timeout, ssl_shutdown_timeout)
        if start_serving:
            server._start_serving()
            await tasks.sleep(0)    # let the accept start, as asyncio does
        return server

    def __repr__(self):
        return (f"<{type(self).__name__} running={self.is_running()} "
                f"closed={self.is_closed()} debug={self.get_debug()}>")

    # -- introspection for tests and benchmarks ---------------------------------

    def _use_buffer_ring(self, enabled):
        self._transports.use_buffer_ring(enabled)

    def _link_stats(self):
        """Direct descriptors in use by linked chains."""
        return self._links.stats()

    def _program_stats(self):
        """Where chain programs ran, and the program ring's counters."""
        return self._programs.stats()


def _custom_child_watcher():
    """A child watcher the application installed itself, if Python still
    has them (before 3.14) and it is not asyncio's default."""
    if sys.version_info >= (3, 14):
        return None
    with warnings.catch_warnings():
        # The way asyncio's own loop asks for it (deprecated from 3.12 on).
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            watcher = events.get_child_watcher()
        except NotImplementedError:
            return None     # a policy without child watchers (not asyncio's Unix one)
    default_kinds = tuple(getattr(unix_events, name) for name in
                          ("ThreadedChildWatcher", "PidfdChildWatcher")
                          if hasattr(unix_events, name))
    if watcher is None or isinstance(watcher, default_kinds):
        return None
    return watcher


def _regular_fileno(file):
    try:
        fileno = file.fileno()
    except (AttributeError, io.UnsupportedOperation):
        raise exceptions.SendfileNotAvailableError("not a regular file")
    try:
        mode = os.fstat(fileno).st_mode
    except OSError:
        raise exceptions.SendfileNotAvailableError("not a regular file")
    if not stat.S_ISREG(mode):
        raise exceptions.SendfileNotAvailableError("not a regular file")
    return fileno


async def _run_pump(pump, count):
    """Runs a splice pump for sendfile: a file the kernel cannot splice is
    SendfileNotAvailableError (the caller falls back to reads and writes)."""
    try:
        sent = await pump.run(count)
    except OSError as exc:
        if pump.sent == 0 and exc.errno in (errno.EINVAL, errno.ESPIPE):
            raise exceptions.SendfileNotAvailableError("file cannot be spliced") from None
        if exc.errno == errno.ENOTCONN:
            raise ConnectionError("socket is not connected", errno.ENOTCONN) from None
        raise
    if pump.input_error:
        raise OSError(pump.input_error, os.strerror(pump.input_error))
    return sent


def _check_tls_arguments(ssl, handshake_timeout, shutdown_timeout):
    if not ssl:
        if handshake_timeout is not None:
            raise ValueError('ssl_handshake_timeout is only meaningful with ssl')
        if shutdown_timeout is not None:
            raise ValueError('ssl_shutdown_timeout is only meaningful with ssl')


def _check_unix_stream_socket(sock):
    if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
        raise ValueError(f'A UNIX Domain Stream Socket was expected, got {sock!r}')


def _bind_unix_socket(path):
    """A new unix stream socket bound to path; a stale socket file there
    (from a server that died) is replaced, anything else is an error."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if path and path[0] not in (0, '\x00'):
        try:
            if stat.S_ISSOCK(os.stat(path).st_mode):
                os.remove(path)
        except FileNotFoundError:
            pass
        except OSError as err:
            logger.error('Unable to check or remove stale UNIX socket %r: %r', path, err)
    try:
        sock.bind(path)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise OSError(errno.EADDRINUSE, f'Address {path!r} is already in use') from None
        raise
    except BaseException:
        sock.close()
        raise
    return sock


def _remove_socket_file(path, inode):
    """Removes a closed unix server's socket file, if it is still its own."""
    try:
        if os.stat(path).st_ino == inode:
            os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as err:
        logger.error('Unable to clean up listening UNIX socket %r: %r', path, err)

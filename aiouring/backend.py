"""The one seam between async files and what performs their I/O.

aiouring.open, aiouring.fs, aiouring.os and aiouring.tempfile never touch a
loop or the ring themselves: they ask ``current()`` for the backend of the
running loop and await its methods, whose arguments and errors are the os
module's (``offset`` -1 means the descriptor's own position, as read(2) and
write(2) use it).

- RingBackend, on an aiouring loop: every call is an io_uring request (or
  one linked chain); directory listings and calls without an opcode run in
  the loop's executor.
- ThreadBackend, on any other loop (asyncio's, uvloop's, ...): every call
  is the os function run in the loop's executor, as aiofiles does.

A thread cannot be stopped mid-call, so on ThreadBackend a cancelled call
goes on to its end: a descriptor it opened is closed, and the next call on
the same descriptor (close() included) waits for it, so a cancelled write
never lands after a later one or on a reused descriptor number.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import mmap
import os
import stat
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar, cast

from . import ops
from ._ring import (AT_EMPTY_PATH, AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_FOLLOW,
                    AT_SYMLINK_NOFOLLOW)
from .loop import Loop

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, StrOrBytesPath, WriteableBuffer

__all__ = ["current", "Backend", "RingBackend", "ThreadBackend"]

_T = TypeVar("_T")
_P = ParamSpec("_P")

_ALIGN = 4096
# read_file: files up to this size are read by one chain (one wake-up).
SMALL_FILE = 64 * 1024


def _dir_fd(dir_fd: int | None) -> int:
    return AT_FDCWD if dir_fd is None else dir_fd


def _aligned(size: int) -> int:
    return max(_ALIGN, (size + _ALIGN - 1) & ~(_ALIGN - 1))


class Backend(Protocol):
    """What RingBackend and ThreadBackend both offer: the os module's
    arguments and errors, each call an awaitable. Results that only say
    "done" (0 or None, by backend) are typed object."""

    @property
    def kind(self) -> str: ...
    @property
    def loop(self) -> asyncio.AbstractEventLoop: ...
    @property
    def executor(self) -> Executor | None: ...

    def call(self, func: Callable[_P, _T], *args: _P.args,
             **kwargs: _P.kwargs) -> asyncio.Future[_T]: ...
    def open(self, path: StrOrBytesPath, flags: int, mode: int = 0o666,
             dir_fd: int | None = None) -> Awaitable[int]: ...
    # owned: the descriptor belongs to an aiouring file object (see FileRequests).
    def read(self, fd: int, n: int, offset: int = -1, *,
             owned: bool = False) -> Awaitable[bytes]: ...
    def readinto(self, fd: int, buffer: WriteableBuffer, offset: int = -1, *,
                 owned: bool = False) -> Awaitable[int]: ...
    def write(self, fd: int, data: ReadableBuffer, offset: int = -1, *,
              owned: bool = False) -> Awaitable[int]: ...
    def read_aligned(self, fd: int, size: int, offset: int, *,
                     owned: bool = False) -> Awaitable[bytes]: ...
    def close(self, fd: int, *, owned: bool = False) -> Awaitable[object]: ...
    def stat(self, path: StrOrBytesPath | int, dir_fd: int | None = None,
             follow_symlinks: bool = True) -> Awaitable[os.stat_result]: ...
    def fsync(self, fd: int, datasync: bool = False) -> Awaitable[object]: ...
    def fallocate(self, fd: int, mode: int, offset: int, length: int) -> Awaitable[object]: ...
    def fadvise(self, fd: int, offset: int, length: int, advice: int) -> Awaitable[object]: ...
    def ftruncate(self, fd: int, length: int) -> Awaitable[object]: ...
    def unlink(self, path: StrOrBytesPath, dir_fd: int | None = None,
               directory: bool = False) -> Awaitable[object]: ...
    def mkdir(self, path: StrOrBytesPath, mode: int = 0o777,
              dir_fd: int | None = None) -> Awaitable[object]: ...
    def rename(self, src: StrOrBytesPath, dst: StrOrBytesPath, src_dir_fd: int | None = None,
               dst_dir_fd: int | None = None) -> Awaitable[object]: ...
    def link(self, src: StrOrBytesPath, dst: StrOrBytesPath, src_dir_fd: int | None = None,
             dst_dir_fd: int | None = None,
             follow_symlinks: bool = True) -> Awaitable[object]: ...
    def symlink(self, src: StrOrBytesPath, dst: StrOrBytesPath,
                dir_fd: int | None = None) -> Awaitable[object]: ...
    def sendfile(self, out_fd: int, in_fd: int, offset: int | None,
                 count: int) -> Awaitable[int]: ...
    def read_file(self, path: str | bytes) -> Awaitable[bytes]: ...


class RingBackend:
    """File and path operations as io_uring requests on an aiouring loop."""

    kind = "ring"

    def __init__(self, loop: Loop, executor: Executor | None = None) -> None:
        self.loop = loop
        self.executor = executor
        # The hot paths are the loop's own methods: no extra frame per call.
        self.read = loop._files.read
        self.readinto = loop._files.readinto
        self.write = loop._files.write
        self.close = loop._files.close
        # RingBackend only: open + read of a small file for one wake-up, and
        # a close nobody waits for (see FileRequests.open_read, close_now).
        self.open_read = loop._files.open_read
        self.close_now = loop._files.close_now
        self.unchanged = loop._files.unchanged

    def call(self, func: Callable[_P, _T], *args: _P.args,
             **kwargs: _P.kwargs) -> asyncio.Future[_T]:
        """func(*args, **kwargs) in the executor (no io_uring opcode for it)."""
        return self.loop.run_in_executor(self.executor,
                                         functools.partial(func, *args, **kwargs))

    def open(self, path: StrOrBytesPath, flags: int, mode: int = 0o666,
             dir_fd: int | None = None) -> Awaitable[int]:
        return self.loop._files.openat(path, flags, mode, _dir_fd(dir_fd))

    async def read_aligned(self, fd: int, size: int, offset: int, owned: bool = False) -> bytes:
        # O_DIRECT wants aligned memory and sizes: read through a (fixed,
        # when the ring can register it) aligned buffer.
        bounce = ops.buffer(_aligned(size))
        n = await self.loop._files.readinto(fd, bounce, offset, owned=owned)
        return bytes(memoryview(bounce)[:min(n, size)])

    def stat(self, path: StrOrBytesPath | int, dir_fd: int | None = None,
             follow_symlinks: bool = True) -> Awaitable[os.stat_result]:
        if isinstance(path, int):
            return self.loop._files.statx(b"", path, AT_EMPTY_PATH, filename=path)
        return self.loop._files.statx(path, _dir_fd(dir_fd),
                                     0 if follow_symlinks else AT_SYMLINK_NOFOLLOW)

    def fsync(self, fd: int, datasync: bool = False) -> Awaitable[object]:
        return self.loop._files.fsync(fd, datasync)

    def fallocate(self, fd: int, mode: int, offset: int, length: int) -> Awaitable[object]:
        return self.loop._files.fallocate(fd, mode, offset, length)

    def fadvise(self, fd: int, offset: int, length: int, advice: int) -> Awaitable[object]:
        return self.loop._files.fadvise(fd, offset, length, advice)

    def ftruncate(self, fd: int, length: int) -> Awaitable[object]:
        if "FTRUNCATE" in _kernel_opcodes():
            return self.loop._files.ftruncate(fd, length)
        return self.call(os.ftruncate, fd, length)      # before Linux 6.9

    def unlink(self, path: StrOrBytesPath, dir_fd: int | None = None,
               directory: bool = False) -> Awaitable[object]:
        return self.loop._files.unlinkat(path, _dir_fd(dir_fd),
                                        AT_REMOVEDIR if directory else 0)

    def mkdir(self, path: StrOrBytesPath, mode: int = 0o777,
              dir_fd: int | None = None) -> Awaitable[object]:
        return self.loop._files.mkdirat(path, mode, _dir_fd(dir_fd))

    def rename(self, src: StrOrBytesPath, dst: StrOrBytesPath, src_dir_fd: int | None = None,
               dst_dir_fd: int | None = None) -> Awaitable[object]:
        return self.loop._files.renameat(src, dst, _dir_fd(src_dir_fd),
                                        _dir_fd(dst_dir_fd), 0)

    def link(self, src: StrOrBytesPath, dst: StrOrBytesPath, src_dir_fd: int | None = None,
             dst_dir_fd: int | None = None, follow_symlinks: bool = True) -> Awaitable[object]:
        return self.loop._files.linkat(src, dst, _dir_fd(src_dir_fd), _dir_fd(dst_dir_fd),
                                      AT_SYMLINK_FOLLOW if follow_symlinks else 0)

    def symlink(self, src: StrOrBytesPath, dst: StrOrBytesPath,
                dir_fd: int | None = None) -> Awaitable[object]:
        return self.loop._files.symlinkat(src, dst, _dir_fd(dir_fd))

    async def sendfile(self, out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
        """Up to count bytes of in_fd (from offset, or its position when
        None) to out_fd: the loop's splice pump (linked SPLICEs through a
        pipe, as loop.sendfile uses)."""
        pump = self.loop._files.splice_pump(in_fd, -1 if offset is None else offset, out_fd)
        return await pump.run(count)

    async def read_file(self, path: str | bytes) -> bytes:
        """The whole file. A regular file of up to SMALL_FILE bytes costs
        one wake-up: OPENAT, and from its completion a READ of the whole
        file (FileRequests.open_read); the close goes to the kernel without
        a wait. A larger file, or one the kernel could not read at once,
        goes on with ordinary reads."""
        fd, data, st = await self.open_read(path, os.O_RDONLY, 0, SMALL_FILE)
        try:
            if st is not None and stat.S_ISDIR(st[0]):
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
            if data is not None and st is not None and len(data) <= st[2]:
                return data         # shorter than asked for: all of it
            regular = st is not None and stat.S_ISREG(st[0])
            chunks = [data] if data else []
            offset = len(data) if data else 0
            while chunk := await self.loop._files.read(
                    fd, 4 << 20, offset if regular else -1, filename=path, owned=True):
                chunks.append(chunk)
                offset += len(chunk)
            return b"".join(chunks)
        finally:
            self.close_now(fd)


_opcodes: frozenset[str] | None = None


def _kernel_opcodes() -> frozenset[str]:
    global _opcodes
    if _opcodes is None:
        from .features import features
        _opcodes = frozenset(features()["opcodes"])
    return _opcodes


# -- the thread pool ---------------------------------------------------------

_QUEUED, _RUNNING, _DONE, _DROPPED = range(4)


class _Job:
    """One call in the executor, and what became of it once nobody waits."""

    __slots__ = ("lock", "state", "abandoned", "salvage", "finished", "result")

    def __init__(self, salvage: Callable[[Any], object] | None) -> None:
        self.lock = threading.Lock()
        self.state = _QUEUED
        self.abandoned = False
        self.salvage = salvage      # releases a result nobody waits for
        # A future of the loop, once one waits.
        self.finished: asyncio.Future[None] | None = None
        self.result: Any = None     # kept until the awaiting task has it

    def run(self, loop: asyncio.AbstractEventLoop, func: Callable[..., Any],
            args: tuple[Any, ...]) -> Any:
        with self.lock:
            if self.state == _DROPPED:
                return None
            self.state = _RUNNING
        result = None
        try:
            result = func(*args)
            return result
        finally:
            with self.lock:
                self.state = _DONE
                self.result = result
                abandoned, finished = self.abandoned, self.finished
            if abandoned and self.salvage is not None and result is not None:
                self.salvage(result)
            if finished is not None:
                try:
                    loop.call_soon_threadsafe(_settle_future, finished)
                except RuntimeError:        # the loop is closed
                    pass

    def abandon(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None] | None:
        """The awaiting task was cancelled: a queued call will not run; a
        running one gets a future that says when it is over."""
        with self.lock:
            if self.state == _QUEUED:
                self.state = _DROPPED
                return None
            if self.state == _RUNNING:
                self.abandoned = True
                self.finished = loop.create_future()
                return self.finished
            # Done, but the task was cancelled before it took the result.
            result, self.result = self.result, None
        if self.salvage is not None and result is not None:
            self.salvage(result)
        return None


def _settle_future(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class ThreadBackend:
    """The same operations as RingBackend, each the os function in the
    loop's executor (or the one given): for loops without a ring."""

    kind = "thread"

    def __init__(self, loop: asyncio.AbstractEventLoop, executor: Executor | None = None) -> None:
        self.loop = loop
        self.executor = executor
        # fd -> futures of cancelled calls still running
        self._unfinished: dict[int, list[asyncio.Future[None]]] = {}
        # fd -> calls on it that someone still awaits (close() waits for them)
        self._running: dict[int, set[asyncio.Future[Any]]] = {}

    def call(self, func: Callable[_P, _T], *args: _P.args,
             **kwargs: _P.kwargs) -> asyncio.Future[_T]:
        """func(*args, **kwargs) in the executor."""
        return self.loop.run_in_executor(self.executor,
                                         functools.partial(func, *args, **kwargs))

    async def _run(self, func: Callable[..., _T], *args: Any, fd: int | None = None,
                   salvage: Callable[[_T], object] | None = None,
                   positional: bool = False) -> _T:
        """func(*args) in the executor. positional: a pread/pwrite on fd,
        which ends soon (unlike a read of a pipe), so close() waits for it."""
        if fd is not None and fd in self._unfinished:
            await self._settle(fd)
        job = _Job(salvage)
        future = self.loop.run_in_executor(self.executor, job.run, self.loop, func, args)
        if positional and fd is not None:
            self._running.setdefault(fd, set()).add(future)
        try:
            return cast(_T, await future)
        except asyncio.CancelledError:
            finished = job.abandon(self.loop)
            if finished is not None and fd is not None:
                self._unfinished.setdefault(fd, []).append(finished)
            raise
        finally:
            if positional and fd is not None:
                running = self._running[fd]
                running.discard(future)
                if not running:
                    del self._running[fd]

    async def _settle(self, fd: int) -> None:
        """Waits for the cancelled calls on fd that are still running."""
        pending = self._unfinished[fd]
        while pending:
            await asyncio.shield(pending[0])
            pending.pop(0)
        del self._unfinished[fd]

    def open(self, path: StrOrBytesPath, flags: int, mode: int = 0o666,
             dir_fd: int | None = None) -> Awaitable[int]:
        return self._run(functools.partial(os.open, dir_fd=dir_fd), path, flags, mode,
                         salvage=os.close)

    def read(self, fd: int, n: int, offset: int = -1, owned: bool = False) -> Awaitable[bytes]:
        if n < 0:
            raise ValueError("negative read size")
        if offset >= 0:
            return self._run(os.pread, fd, n, offset, fd=fd, positional=True)
        return self._run(os.read, fd, n, fd=fd)

    def readinto(self, fd: int, buffer: WriteableBuffer, offset: int = -1,
                 owned: bool = False) -> Awaitable[int]:
        if offset >= 0:
            return self._run(os.preadv, fd, [buffer], offset, fd=fd, positional=True)
        return self._run(os.readv, fd, [buffer], fd=fd)

    def write(self, fd: int, data: ReadableBuffer, offset: int = -1,
              owned: bool = False) -> Awaitable[int]:
        return self._run(_write_all, fd, data, offset, fd=fd, positional=offset >= 0)

    def read_aligned(self, fd: int, size: int, offset: int,
                     owned: bool = False) -> Awaitable[bytes]:
        return self._run(_read_aligned, fd, size, offset, fd=fd, positional=offset >= 0)

    def stat(self, path: StrOrBytesPath | int, dir_fd: int | None = None,
             follow_symlinks: bool = True) -> Awaitable[os.stat_result]:
        if isinstance(path, int):
            return self._run(os.stat, path, fd=path)
        return self._run(functools.partial(os.stat, dir_fd=dir_fd,
                                           follow_symlinks=follow_symlinks), path)

    def fsync(self, fd: int, datasync: bool = False) -> Awaitable[object]:
        return self._run(os.fdatasync if datasync else os.fsync, fd, fd=fd)

    def fallocate(self, fd: int, mode: int, offset: int, length: int) -> Awaitable[object]:
        return self._run(_fallocate, fd, mode, offset, length, fd=fd)

    def fadvise(self, fd: int, offset: int, length: int, advice: int) -> Awaitable[object]:
        return self._run(os.posix_fadvise, fd, offset, length, advice, fd=fd)

    def ftruncate(self, fd: int, length: int) -> Awaitable[object]:
        return self._run(os.ftruncate, fd, length, fd=fd)

    async def close(self, fd: int, owned: bool = False) -> None:
        if fd in self._running:
            # Positional calls still running on fd finish first (none may
            # meet the number reused by a later open); a close that was
            # asked for happens, even if its caller is cancelled meanwhile.
            await asyncio.shield(self._close_after_calls(fd))
            return
        if fd in self._unfinished:
            await self._settle(fd)
        # Not cancellable half-way: a close that was asked for happens.
        await asyncio.shield(self.loop.run_in_executor(self.executor, os.close, fd))

    async def _close_after_calls(self, fd: int) -> None:
        await asyncio.wait(set(self._running[fd]))
        if fd in self._unfinished:
            await self._settle(fd)
        await self.loop.run_in_executor(self.executor, os.close, fd)

    def unlink(self, path: StrOrBytesPath, dir_fd: int | None = None,
               directory: bool = False) -> Awaitable[object]:
        return self._run(functools.partial(os.rmdir if directory else os.unlink,
                                           dir_fd=dir_fd), path)

    def mkdir(self, path: StrOrBytesPath, mode: int = 0o777,
              dir_fd: int | None = None) -> Awaitable[object]:
        return self._run(functools.partial(os.mkdir, dir_fd=dir_fd), path, mode)

    def rename(self, src: StrOrBytesPath, dst: StrOrBytesPath, src_dir_fd: int | None = None,
               dst_dir_fd: int | None = None) -> Awaitable[object]:
        return self._run(functools.partial(os.rename, src_dir_fd=src_dir_fd,
                                           dst_dir_fd=dst_dir_fd), src, dst)

    def link(self, src: StrOrBytesPath, dst: StrOrBytesPath, src_dir_fd: int | None = None,
             dst_dir_fd: int | None = None, follow_symlinks: bool = True) -> Awaitable[object]:
        return self._run(functools.partial(os.link, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd,
                                           follow_symlinks=follow_symlinks), src, dst)

    def symlink(self, src: StrOrBytesPath, dst: StrOrBytesPath,
                dir_fd: int | None = None) -> Awaitable[object]:
        return self._run(functools.partial(os.symlink, dir_fd=dir_fd), src, dst)

    def sendfile(self, out_fd: int, in_fd: int, offset: int | None,
                 count: int) -> Awaitable[int]:
        return self._run(_sendfile_all, out_fd, in_fd, offset, count, fd=in_fd)

    def read_file(self, path: str | bytes) -> Awaitable[bytes]:
        return self._run(_read_whole_file, path)


def _write_all(fd: int, data: ReadableBuffer, offset: int) -> int:
    """As a ring WRITE: resubmitted after a partial write until every byte
    is out; an error after some bytes reports those bytes."""
    view = memoryview(data)
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    done = 0
    while done < len(view):
        try:
            if offset >= 0:
                n = os.pwrite(fd, view[done:], offset + done)
            else:
                n = os.write(fd, view[done:])
        except OSError:
            if done:
                return done
            raise
        if n == 0:
            break
        done += n
    return done


def _read_aligned(fd: int, size: int, offset: int) -> bytes:
    bounce = mmap.mmap(-1, _aligned(size))      # page-aligned, as O_DIRECT wants
    try:
        if offset >= 0:
            n = os.preadv(fd, [bounce], offset)
        else:
            n = os.readv(fd, [bounce])
        return bounce[:min(n, size)]
    finally:
        bounce.close()


def _sendfile_all(out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
    sent = 0
    while sent < count:
        try:
            n = os.sendfile(out_fd, in_fd, None if offset is None else offset + sent,
                            count - sent)
        except OSError:
            if sent:
                break
            raise
        if n == 0:
            break
        sent += n
    return sent


def _read_whole_file(path: str | bytes) -> bytes:
    with open(path, "rb") as file:
        return file.read()


_libc_fallocate: Any = None     # libc's fallocate, through ctypes, once needed


def _fallocate(fd: int, mode: int, offset: int, length: int) -> None:
    """fallocate(2): os has posix_fallocate (mode 0) only."""
    global _libc_fallocate
    if mode == 0:
        return os.posix_fallocate(fd, offset, length)
    if _libc_fallocate is None:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        _libc_fallocate = libc.fallocate
        _libc_fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    if _libc_fallocate(fd, mode, offset, length) != 0:
        import ctypes
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return None


# -- choosing one --------------------------------------------------------------

# A loop's backend is kept on the loop itself: a backend holds its loop, so
# a table keyed by loops (even weakly) would keep every loop alive for good.
_BACKEND_ATTRIBUTE = "_aiouring_file_backend"


def current(loop: asyncio.AbstractEventLoop | None = None,
            executor: Executor | None = None) -> Backend:
    """The backend for loop (default: the running loop): RingBackend on an
    aiouring loop, ThreadBackend on any other. ``executor`` is where calls
    without an io_uring request (or every call, on ThreadBackend) run;
    None is the loop's default executor."""
    if loop is None:
        loop = asyncio.get_running_loop()
    if executor is None:
        known: Backend | None = getattr(loop, _BACKEND_ATTRIBUTE, None)
        if known is not None:
            return known
    if isinstance(loop, Loop):
        backend: Backend = RingBackend(loop, executor)
    else:
        backend = ThreadBackend(loop, executor)
    if executor is None:
        try:
            setattr(loop, _BACKEND_ATTRIBUTE, backend)
        except AttributeError:
            pass            # a loop without attributes of its own: one per call
    return backend

"""aiouring.open(): async file objects with aiofiles' API and the semantics
of the built-in open(), on any asyncio loop: io_uring requests on aiouring's
loop, the loop's executor on the others (aiouring.backend).

Layers mirror the io module: AsyncFileIO (raw, unbuffered: buffering=0;
aiouring.rawfile), AsyncBufferedFile (BufferedReader/Writer/Random;
aiouring.buffered), AsyncTextIOWrapper (text; aiouring.text). Where each
keeps the file position, and what a cancelled call leaves behind, is told in
aiouring.rawfile.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import io
import os
import stat
import sys
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Generator
from concurrent.futures import Executor
from typing import (TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar, cast,
                    overload)

from . import backend as backends
from .buffered import AsyncBufferedFile
from .loop import Loop
from .rawfile import AsyncFileIO, FileName
from .text import AsyncTextIOWrapper

if TYPE_CHECKING:
    from _typeshed import FileDescriptorOrPath, OpenBinaryMode, OpenTextMode

__all__ = ["open", "running_loop", "AsyncFileIO", "AsyncBufferedFile",
           "AsyncTextIOWrapper"]

DEFAULT_BUFFER_SIZE = io.DEFAULT_BUFFER_SIZE
# A read-only buffered open() of a regular file up to this size reads it
# whole along with the open (RingBackend.open_read).
PREFETCH_MAX = 64 * 1024

# Any file object aiouring.open() makes, by mode and buffering.
AsyncFile = AsyncFileIO | AsyncBufferedFile | AsyncTextIOWrapper
# open()'s opener: called as opener(path, flags), returns a descriptor.
Opener = Callable[[Any, int], int]



def running_loop() -> Loop:
    """The running aiouring loop; RuntimeError if the running loop is not
    one (for what only a ring can do: chains, chain programs)."""
    loop = asyncio.get_running_loop()
    if not isinstance(loop, Loop):
        raise RuntimeError(
            "this needs a running aiouring loop (use aiouring.run(), or "
            "aiouring.install() before asyncio.run()); the running loop is "
            f"{type(loop).__module__}.{type(loop).__name__}")
    return loop


def _mode_flags(mode: str) -> tuple[int, bool, bool, bool, bool]:
    """(flags, readable, writable, appending, binary) for a mode string,
    validated as the built-in open() validates it."""
    if not isinstance(mode, str):
        raise TypeError(f"invalid mode: {mode!r}")
    return _parse_mode(mode)


@functools.lru_cache(maxsize=64)    # a program uses a handful of modes
def _parse_mode(mode: str) -> tuple[int, bool, bool, bool, bool]:
    modes = set(mode)
    if modes - set("axrwb+t") or len(mode) > len(modes):
        raise ValueError(f"invalid mode: {mode!r}")
    creating, reading, writing = "x" in modes, "r" in modes, "w" in modes
    appending, updating = "a" in modes, "+" in modes
    text, binary = "t" in modes, "b" in modes
    if text and binary:
        raise ValueError("can't have text and binary mode at once")
    if creating + reading + writing + appending > 1:
        raise ValueError("must have exactly one of create/read/write/append mode")
    if not (creating or reading or writing or appending):
        raise ValueError("Must have exactly one of create/read/write/append "
                         "mode and at most one plus")
    if creating:
        flags = os.O_EXCL | os.O_CREAT
    elif reading:
        flags = 0
    elif writing:
        flags = os.O_CREAT | os.O_TRUNC
    else:
        flags = os.O_APPEND | os.O_CREAT
    readable = reading or updating
    writable = not reading or updating
    if updating:
        flags |= os.O_RDWR
    elif writable:
        flags |= os.O_WRONLY
    return flags, readable, writable, appending, binary


def _raw_mode(readable: bool, writable: bool, appending: bool, creating: bool,
              truncating: bool = False) -> str:
    """The mode io.FileIO reports for these flags (truncating: opened with
    'w'; Python 3.15's FileIO says 'wb+' rather than 'rb+' for 'w+')."""
    if creating:
        return "xb+" if readable else "xb"
    if appending:
        return "ab+" if readable else "ab"
    if readable and writable:
        return "wb+" if truncating and _FILEIO_SAYS_WB_PLUS else "rb+"
    return "rb" if readable else "wb"


_FILEIO_SAYS_WB_PLUS = sys.version_info >= (3, 15)


def _check_open_arguments(
        file: FileDescriptorOrPath, mode: str, buffering: int, encoding: str | None,
        errors: str | None, newline: str | None,
) -> tuple[str | bytes | int, int, bool, bool, bool, bool]:
    """Validates as the built-in open() does; returns (file, flags, readable,
    writable, appending, binary)."""
    if not isinstance(file, int):
        file = os.fspath(file)
    if not isinstance(file, (str, bytes, int)):
        raise TypeError(f"invalid file: {file!r}")
    if not isinstance(buffering, int):
        raise TypeError("an integer is required")
    flags, readable, writable, appending, binary = _mode_flags(mode)
    if binary and encoding is not None:
        raise ValueError("binary mode doesn't take an encoding argument")
    if binary and errors is not None:
        raise ValueError("binary mode doesn't take an errors argument")
    if binary and newline is not None:
        raise ValueError("binary mode doesn't take a newline argument")
    if binary and buffering == 1:
        warnings.warn("line buffering (buffering=1) isn't supported in binary "
                      "mode, the default buffer size will be used",
                      RuntimeWarning, 4)
    if newline not in (None, "", "\n", "\r", "\r\n"):
        raise ValueError(f"illegal newline value: {newline}")
    if buffering == 0 and not binary:
        raise ValueError("can't have unbuffered text I/O")
    return file, flags, readable, writable, appending, binary


async def _open(file: FileDescriptorOrPath, mode: str, buffering: int, encoding: str | None,
                errors: str | None, newline: str | None, closefd: bool,
                opener: Opener | None, flags: int, loop: asyncio.AbstractEventLoop | None,
                executor: Executor | None) -> AsyncFile:
    file, open_flags, readable, writable, appending, binary = _check_open_arguments(
        file, mode, buffering, encoding, errors, newline)
    backend = backends.current(loop, executor)
    open_flags |= flags
    if isinstance(file, int):
        if file < 0:
            raise ValueError("negative file descriptor")
        fd = file
    else:
        if not closefd:
            raise ValueError("Cannot use closefd=False with file name")
        if (opener is None and open_flags == os.O_RDONLY and buffering
                and isinstance(backend, backends.RingBackend)):
            # Read-only and buffered: the file's first bytes come with the
            # open (one wake-up) and wait in the read buffer.
            fd, data, st = await backend.open_read(file, open_flags, 0o666, PREFETCH_MAX)
            return wrap_descriptor(backend, fd, file, mode, buffering, encoding, errors,
                                   newline, shared=False, prefetched=(data, st))
        if opener is None:
            fd = await backend.open(file, open_flags, 0o666)
        else:
            fd = opener(file, open_flags | os.O_CLOEXEC)
            if not isinstance(fd, int):
                raise TypeError("expected integer from opener")
            if fd < 0:
                raise ValueError(f"opener returned {fd}")
    return wrap_descriptor(backend, fd, file, mode, buffering, encoding, errors,
                           newline, closefd=closefd, shared=isinstance(file, int),
                           direct=bool(open_flags & getattr(os, "O_DIRECT", 0)))


def wrap_descriptor(backend: backends.Backend, fd: int, name: FileName, mode: str,
                    buffering: int = -1, encoding: str | None = None,
                    errors: str | None = None, newline: str | None = None, *,
                    closefd: bool = True, shared: bool = True,
                    direct: bool = False,
                    prefetched: tuple[bytes | None, tuple[int, ...] | None] | None = None,
                    ) -> AsyncFile:
    """The file object of aiouring.open(fd, mode, ...) over an open
    descriptor; shared=False when this object alone uses its position.
    prefetched: (data, stat) of RingBackend.open_read, data read at offset
    0 just after the open (it becomes the read buffer), stat fstat's
    (st_mode, st_blksize, st_size, st_mtime_ns, st_ctime_ns)."""
    _, readable, writable, appending, binary = _mode_flags(mode)
    data = st_tuple = None
    if prefetched is not None:
        data, st_tuple = prefetched
    try:
        if st_tuple is None:
            st = os.fstat(fd)   # of an open descriptor: no disk access
            st_mode, st_blksize = st.st_mode, st.st_blksize
        else:
            st_mode, st_blksize = st_tuple[0], st_tuple[1]
        if stat.S_ISDIR(st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), name)
        regular = stat.S_ISREG(st_mode)
        seekable = regular or _can_seek(fd)     # a regular file always can
        if appending and seekable:
            os.lseek(fd, 0, os.SEEK_END)
        blksize = st_blksize if st_blksize > 1 else DEFAULT_BUFFER_SIZE
        raw = AsyncFileIO(backend, fd, name,
                          _raw_mode(readable, writable, appending, "x" in mode,
                                    "w" in mode),
                          readable=readable, writable=writable, appending=appending,
                          closefd=closefd, seekable=seekable,
                          regular=regular, blksize=blksize,
                          direct=direct, shared=shared,
                          position=None if prefetched is None else 0)
    except BaseException:
        if closefd:
            os.close(fd)
        raise
    line_buffering = False
    # A regular file is never a terminal: no ioctl for it.
    if buffering == 1 or (buffering < 0 and not regular and raw._isatty()):
        buffering, line_buffering = -1, True
    if buffering < 0:
        buffering = max(blksize, DEFAULT_BUFFER_SIZE)
    if buffering == 0:
        return raw
    buffered = AsyncBufferedFile(raw, buffering)
    if data is not None and st_tuple is not None:
        buffered._hold_prefetched(data, st_tuple[2:])
    if binary:
        return buffered
    text = AsyncTextIOWrapper(buffered, encoding, errors, newline, line_buffering)
    text.mode = mode
    return text


def _can_seek(fd: int) -> bool:
    try:
        os.lseek(fd, 0, os.SEEK_CUR)
        return True
    except OSError:
        return False


class _Closable(Protocol):
    async def close(self) -> None: ...


_Closing = TypeVar("_Closing", bound=_Closable)


class OpenContext(Generic[_Closing]):
    """What aiouring.open() returns: awaitable, and an async context manager
    that closes the file on exit (as aiofiles.open())."""

    __slots__ = ("_coro", "_file", "_started", "_on_exit")

    def __init__(self, coro: Coroutine[Any, Any, _Closing],
                 on_exit: Callable[[_Closing], Awaitable[object]] | None = None) -> None:
        self._coro = coro
        self._file: _Closing | None = None
        self._started = False
        self._on_exit = on_exit     # called with the file after closing it

    def __await__(self) -> Generator[Any, None, _Closing]:
        self._started = True
        return self._coro.__await__()

    async def __aenter__(self) -> _Closing:
        self._started = True
        self._file = await self._coro
        return self._file

    async def __aexit__(self, *exc_info: object) -> None:
        # Set by __aenter__ (without it, this fails as it always did).
        file, self._file = cast(_Closing, self._file), None
        await file.close()

        if self._on_exit is not None:
            await self._on_exit(file)

    def close(self) -> None:
        self._coro.close()

    def __del__(self) -> None:
        if not self._started:
            self._coro.close()      # never awaited: no "never awaited" warning


@overload
def open(file: FileDescriptorOrPath, mode: OpenTextMode = "r", buffering: int = -1,
         encoding: str | None = None, errors: str | None = None, newline: str | None = None,
         closefd: bool = True, opener: Opener | None = None, *,
         loop: asyncio.AbstractEventLoop | None = None, executor: Executor | None = None,
         flags: int = 0) -> OpenContext[AsyncTextIOWrapper]: ...
@overload
def open(file: FileDescriptorOrPath, mode: OpenBinaryMode, buffering: Literal[0],
         encoding: None = None, errors: None = None, newline: None = None,
         closefd: bool = True, opener: Opener | None = None, *,
         loop: asyncio.AbstractEventLoop | None = None, executor: Executor | None = None,
         flags: int = 0) -> OpenContext[AsyncFileIO]: ...
@overload
def open(file: FileDescriptorOrPath, mode: OpenBinaryMode, buffering: Literal[-1, 1] = -1,
         encoding: None = None, errors: None = None, newline: None = None,
         closefd: bool = True, opener: Opener | None = None, *,
         loop: asyncio.AbstractEventLoop | None = None, executor: Executor | None = None,
         flags: int = 0) -> OpenContext[AsyncBufferedFile]: ...
@overload
def open(file: FileDescriptorOrPath, mode: OpenBinaryMode, buffering: int = -1,
         encoding: None = None, errors: None = None, newline: None = None,
         closefd: bool = True, opener: Opener | None = None, *,
         loop: asyncio.AbstractEventLoop | None = None, executor: Executor | None = None,
         flags: int = 0) -> OpenContext[AsyncFileIO | AsyncBufferedFile]: ...
@overload
def open(file: FileDescriptorOrPath, mode: str, buffering: int = -1,
         encoding: str | None = None, errors: str | None = None, newline: str | None = None,
         closefd: bool = True, opener: Opener | None = None, *,
         loop: asyncio.AbstractEventLoop | None = None, executor: Executor | None = None,
         flags: int = 0) -> OpenContext[AsyncFile]: ...
def open(file: FileDescriptorOrPath, mode: str = "r", buffering: int = -1,
         encoding: str | None = None, errors: str | None = None, newline: str | None = None,
         closefd: bool = True, opener: Opener | None = None, *,
         loop: asyncio.AbstractEventLoop | None = None, executor: Executor | None = None,
         flags: int = 0) -> OpenContext[Any]:
    """Opens file as the built-in open() does and returns an async file
    object: ``f = await aiouring.open(...)`` or ``async with
    aiouring.open(...) as f``. On an aiouring loop each call is an io_uring
    request (OPENAT, READ, WRITE, ...); on any other loop each runs in the
    loop's executor (or ``executor``), as with aiofiles.

    Arguments and errors are the built-in open()'s; ``loop`` and
    ``executor`` are aiofiles.open()'s. ``flags`` adds open(2) flags, e.g.
    os.O_DIRECT (then read/write aligned sizes at aligned offsets;
    unbuffered reads go through an aligned buffer, registered with the ring
    where there is one). An opener, if given, is called synchronously on the
    loop's thread."""
    return OpenContext(_open(file, mode, buffering, encoding, errors, newline,
                             closefd, opener, flags, loop, executor))

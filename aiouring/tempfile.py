"""aiofiles.tempfile's namespace on aiouring: temporary files and directories
as async objects, on any loop. Files are created by an open request
(O_TMPFILE for TemporaryFile where the file system has it, O_EXCL with a
random name otherwise) and are aiouring file objects like aiouring.open()'s;
each call, like the stdlib's, returns an awaitable async context manager."""

from __future__ import annotations

import asyncio
import errno
import io
import os
import shutil
import tempfile as _stdlib
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar, cast, overload

from . import backend as _backend
from .buffered import AsyncBufferedFile
from .files import AsyncFile, OpenContext, _mode_flags, wrap_descriptor
from .rawfile import AsyncFileIO, FileName
from .text import AsyncTextIOWrapper

if TYPE_CHECKING:
    from _typeshed import OpenBinaryMode, OpenTextMode, ReadableBuffer, StrOrBytesPath

    from .backend import Backend

__all__ = ["TemporaryFile", "NamedTemporaryFile", "SpooledTemporaryFile",
           "TemporaryDirectory"]

_FILE_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW

_T = TypeVar("_T")
_Loop = asyncio.AbstractEventLoop


async def _parameters(backend: Backend, prefix: str | bytes | None, suffix: str | bytes | None,
                      dir: StrOrBytesPath | None) -> tuple[Any, Any, Any]:
    """(prefix, suffix, dir) with the stdlib's defaults, all str or all bytes
    (which one is known at run time only: hence Any)."""
    as_bytes = any(isinstance(part, bytes) for part in (prefix, suffix, dir))
    if dir is None:
        # The first call probes directories by writing to them: executor.
        tempdir = _stdlib.tempdir
        directory: str | bytes = tempdir if tempdir else await backend.call(_stdlib.gettempdir)
    else:
        directory = os.fspath(dir)
    prefix = _stdlib.gettempprefix() if prefix is None else prefix
    suffix = "" if suffix is None else suffix
    if as_bytes:
        prefix, suffix, directory = (os.fsencode(part) for part in (prefix, suffix, directory))
    return prefix, suffix, directory


def _random_name(prefix: Any, suffix: Any) -> Any:
    token = os.urandom(6).hex()
    return prefix + (token.encode() if isinstance(prefix, bytes) else token) + suffix


async def _create(make: Callable[[Any], Awaitable[_T]], prefix: Any, suffix: Any,
                  dir: Any) -> tuple[Any, _T]:
    """make(path) under a fresh random name, retried while the name is taken."""
    for _ in range(os.TMP_MAX):
        path = os.path.join(dir, _random_name(prefix, suffix))
        try:
            return path, await make(path)
        except FileExistsError:
            continue
    raise FileExistsError(f"no usable temporary name found in {dir!r}")


async def _named_file(backend: Backend, prefix: Any, suffix: Any,
                      dir: Any) -> tuple[Any, int]:
    return await _create(lambda path: backend.open(path, _FILE_FLAGS, 0o600),
                         prefix, suffix, dir)


def _file_object(backend: Backend, fd: int, name: FileName, mode: str, buffering: int,
                 encoding: str | None, newline: str | None, errors: str | None) -> AsyncFile:
    try:
        return wrap_descriptor(backend, fd, name, mode, buffering, encoding, errors,
                               newline, shared=False)
    except BaseException:
        os.close(fd)
        raise


async def _temporary_file(mode: str, buffering: int, encoding: str | None, newline: str | None,
                          errors: str | None, suffix: str | bytes | None,
                          prefix: str | bytes | None, dir: StrOrBytesPath | None,
                          loop: _Loop | None, executor: Executor | None) -> AsyncFile:
    backend = _backend.current(loop, executor)
    prefix, suffix, dir = await _parameters(backend, prefix, suffix, dir)
    try:
        # No name at all: nothing to unlink, nothing left behind on a crash.
        fd = await backend.open(dir, (_FILE_FLAGS | os.O_TMPFILE) & ~os.O_CREAT, 0o600)
        return _file_object(backend, fd, fd, mode, buffering, encoding, newline, errors)
    except OSError as exc:
        # EISDIR: a kernel without O_TMPFILE; EOPNOTSUPP: a file system without.
        if exc.errno not in (errno.EISDIR, errno.EOPNOTSUPP, errno.EINVAL):
            raise
    path, fd = await _named_file(backend, prefix, suffix, dir)
    await backend.unlink(path)
    return _file_object(backend, fd, fd, mode, buffering, encoding, newline, errors)


@overload
def TemporaryFile(mode: OpenBinaryMode = "w+b", buffering: Literal[-1, 1] = -1,
                  encoding: None = None, newline: None = None, suffix: str | bytes | None = None,
                  prefix: str | bytes | None = None, dir: StrOrBytesPath | None = None,
                  loop: _Loop | None = None, executor: Executor | None = None, *,
                  errors: None = None) -> OpenContext[AsyncBufferedFile]: ...
@overload
def TemporaryFile(mode: OpenTextMode, buffering: int = -1, encoding: str | None = None,
                  newline: str | None = None, suffix: str | bytes | None = None,
                  prefix: str | bytes | None = None, dir: StrOrBytesPath | None = None,
                  loop: _Loop | None = None, executor: Executor | None = None, *,
                  errors: str | None = None) -> OpenContext[AsyncTextIOWrapper]: ...
@overload
def TemporaryFile(mode: str = "w+b", buffering: int = -1, encoding: str | None = None,
                  newline: str | None = None, suffix: str | bytes | None = None,
                  prefix: str | bytes | None = None, dir: StrOrBytesPath | None = None,
                  loop: _Loop | None = None, executor: Executor | None = None, *,
                  errors: str | None = None) -> OpenContext[AsyncFile]: ...
def TemporaryFile(mode: str = "w+b", buffering: int = -1, encoding: str | None = None,
                  newline: str | None = None, suffix: str | bytes | None = None,
                  prefix: str | bytes | None = None, dir: StrOrBytesPath | None = None,
                  loop: _Loop | None = None, executor: Executor | None = None, *,
                  errors: str | None = None) -> OpenContext[Any]:
    """tempfile.TemporaryFile(): a file with no name, gone once closed.
    Its name is its descriptor, as the stdlib's."""
    return OpenContext(_temporary_file(mode, buffering, encoding, newline, errors,
                                       suffix, prefix, dir, loop, executor))


async def _named_temporary_file(mode: str, buffering: int, encoding: str | None,
                                newline: str | None, errors: str | None,
                                suffix: str | bytes | None, prefix: str | bytes | None,
                                dir: StrOrBytesPath | None, delete: bool, delete_on_close: bool,
                                loop: _Loop | None, executor: Executor | None) -> AsyncFile:
    backend = _backend.current(loop, executor)
    prefix, suffix, dir = await _parameters(backend, prefix, suffix, dir)
    path, fd = await _named_file(backend, prefix, suffix, dir)
    try:
        file = _file_object(backend, fd, path, mode, buffering, encoding, newline, errors)
    except BaseException:
        os.unlink(path)
        raise
    if delete and delete_on_close:
        _raw_of(file)._delete_on_close = path
    return file


def _raw_of(file: Any) -> AsyncFileIO:
    # Down the layers: text -> buffered -> raw.
    while not hasattr(file, "_delete_on_close"):
        file = file.buffer if hasattr(file, "buffer") else file.raw
    raw: AsyncFileIO = file
    return raw


async def _unlink_quietly(file: AsyncFile) -> None:
    try:
        # A named temporary file's name is its path.
        await _raw_of(file)._backend.unlink(cast("str | bytes", file.name))
    except FileNotFoundError:
        pass


@overload
def NamedTemporaryFile(mode: OpenBinaryMode = "w+b", buffering: Literal[-1, 1] = -1,
                       encoding: None = None, newline: None = None,
                       suffix: str | bytes | None = None, prefix: str | bytes | None = None,
                       dir: StrOrBytesPath | None = None, delete: bool = True,
                       delete_on_close: bool = True, loop: _Loop | None = None,
                       executor: Executor | None = None, *,
                       errors: None = None) -> OpenContext[AsyncBufferedFile]: ...
@overload
def NamedTemporaryFile(mode: OpenTextMode, buffering: int = -1, encoding: str | None = None,
                       newline: str | None = None, suffix: str | bytes | None = None,
                       prefix: str | bytes | None = None, dir: StrOrBytesPath | None = None,
                       delete: bool = True, delete_on_close: bool = True,
                       loop: _Loop | None = None, executor: Executor | None = None, *,
                       errors: str | None = None) -> OpenContext[AsyncTextIOWrapper]: ...
@overload
def NamedTemporaryFile(mode: str = "w+b", buffering: int = -1, encoding: str | None = None,
                       newline: str | None = None, suffix: str | bytes | None = None,
                       prefix: str | bytes | None = None, dir: StrOrBytesPath | None = None,
                       delete: bool = True, delete_on_close: bool = True,
                       loop: _Loop | None = None, executor: Executor | None = None, *,
                       errors: str | None = None) -> OpenContext[AsyncFile]: ...
def NamedTemporaryFile(mode: str = "w+b", buffering: int = -1, encoding: str | None = None,
                       newline: str | None = None, suffix: str | bytes | None = None,
                       prefix: str | bytes | None = None, dir: StrOrBytesPath | None = None,
                       delete: bool = True, delete_on_close: bool = True,
                       loop: _Loop | None = None, executor: Executor | None = None, *,
                       errors: str | None = None) -> OpenContext[Any]:
    """tempfile.NamedTemporaryFile(): a file with a random name in dir,
    removed when closed (delete=True), or only when the ``async with``
    block ends (delete_on_close=False, as Python 3.12's), or never
    (delete=False)."""
    on_exit = _unlink_quietly if delete and not delete_on_close else None
    return OpenContext(_named_temporary_file(mode, buffering, encoding, newline, errors,
                                             suffix, prefix, dir, delete, delete_on_close,
                                             loop, executor), on_exit)


# -- spooled ----------------------------------------------------------------------


class _MemoryBuffer:
    """An in-memory binary file with the async API of AsyncBufferedFile."""

    def __init__(self, mode: str) -> None:
        self._bytes = io.BytesIO()
        self.mode = mode
        self.name = None

    @property
    def closed(self) -> bool:
        return self._bytes.closed

    def readable(self) -> bool:
        return self._bytes.readable()

    def _is_writable(self) -> bool:
        return self._bytes.writable()

    def _is_seekable(self) -> bool:
        return self._bytes.seekable()

    def _isatty(self) -> bool:
        return False

    def _tell(self) -> int:
        return self._bytes.tell()

    def fileno(self) -> int:
        raise io.UnsupportedOperation("fileno")

    _descriptor = fileno

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        # read, read1, readinto, readline, readlines, peek, write, writelines,
        # seek, tell, truncate, flush, close: BytesIO's, as coroutines.
        method = getattr(self._bytes, name)

        async def call(*args: Any) -> Any:
            return method(*args)
        return call

    if TYPE_CHECKING:
        # What __getattr__ gives, as the text layer (text.BinaryBuffer) sees it.
        async def read(self, size: int | None = -1, /) -> bytes: ...
        async def read1(self, size: int | None = -1, /) -> bytes: ...
        async def readinto(self, buffer: Any, /) -> int: ...
        async def readline(self, size: int | None = -1, /) -> bytes: ...
        async def readlines(self, hint: int | None = -1, /) -> list[bytes]: ...
        async def write(self, data: ReadableBuffer, /) -> int: ...
        async def writelines(self, lines: Iterable[ReadableBuffer], /) -> None: ...
        async def flush(self) -> None: ...
        async def seek(self, offset: int, whence: int = os.SEEK_SET, /) -> int: ...
        async def tell(self) -> int: ...
        async def truncate(self, size: int | None = None, /) -> int: ...
        async def close(self) -> None: ...


class AsyncSpooledTemporaryFile:
    """tempfile.SpooledTemporaryFile(): kept in memory until it grows past
    max_size (or fileno() is asked for), then moved to a TemporaryFile at the
    same position. Text modes are aiouring's text layer over the bytes."""

    def __init__(self, max_size: int, mode: str, buffering: int, encoding: str | None,
                 newline: str | None, errors: str | None, suffix: str | bytes | None,
                 prefix: str | bytes | None, dir: StrOrBytesPath | None,
                 backend: Backend) -> None:
        self._max_size = max_size
        self._mode = mode
        self._arguments = (buffering, suffix, prefix, dir)
        self._backend = backend
        self._memory = _MemoryBuffer(mode)
        self._rolled = False
        # The file calls go to: the text layer, or the binary file (the
        # memory, then the one on disk): str or bytes by mode, hence Any.
        self._file: Any
        # The binary file: the memory, then the one on disk.
        self._binary: Any
        if "b" in mode:
            self._file = self._binary = self._memory
        else:
            self._binary = self._memory
            self._file = AsyncTextIOWrapper(self._memory, encoding, errors, newline)
            self._file.mode = mode

    async def rollover(self) -> None:
        """Moves the contents to a temporary file on disk."""
        if self._rolled:
            return
        buffering, suffix, prefix, dir = self._arguments
        disk = cast(AsyncBufferedFile | AsyncFileIO, await _temporary_file(
            "w+b", buffering, None, None, None, suffix, prefix, dir, self._backend.loop,
            self._backend.executor))
        memory = self._memory._bytes
        await disk.write(memory.getvalue())
        await disk.seek(memory.tell())
        memory.close()
        if self._file is self._memory:
            self._file = disk
        else:
            self._file._buffer = disk
        self._binary = disk
        self._rolled = True

    async def _check_size(self) -> None:
        if not self._rolled and self._max_size and self._memory._bytes.tell() > self._max_size:
            await self.rollover()

    async def write(self, data: str | ReadableBuffer) -> int:
        result: int = await self._file.write(data)
        await self._check_size()
        return result

    async def writelines(self, lines: Iterable[str] | Iterable[ReadableBuffer]) -> None:
        await self._file.writelines(lines)
        await self._check_size()

    async def truncate(self, size: int | None = None) -> int:
        if size is not None and self._max_size and size > self._max_size:
            await self.rollover()
        result: int = await self._file.truncate(size)
        return result

    async def fileno(self) -> int:
        await self.rollover()
        result: int = self._file.fileno()
        return result

    async def isatty(self) -> bool:
        return False if not self._rolled else bool(await self._file.isatty())

    def readable(self) -> bool:
        result: bool = self._binary.readable()
        return result

    async def writable(self) -> bool:
        return True

    async def seekable(self) -> bool:
        return True

    async def read(self, size: int | None = -1) -> str | bytes:
        result: str | bytes = await self._file.read(size)
        return result

    async def read1(self, size: int | None = -1) -> bytes:
        result: bytes = await self._binary_only("read1")(size)
        return result

    async def readinto(self, buffer: Any) -> int:
        result: int = await self._binary_only("readinto")(buffer)
        return result

    async def readline(self, size: int | None = -1) -> str | bytes:
        result: str | bytes = await self._file.readline(size)
        return result

    async def readlines(self, hint: int | None = -1) -> list[str] | list[bytes]:
        result: list[str] | list[bytes] = await self._file.readlines(hint)
        return result

    async def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        result: int = await self._file.seek(offset, whence)
        return result

    async def tell(self) -> int:
        result: int = await self._file.tell()
        return result

    async def flush(self) -> None:
        return await self._file.flush()     # type: ignore[no-any-return]

    async def close(self) -> None:
        await self._file.close()

    def _binary_only(self, name: str) -> Callable[..., Awaitable[Any]]:
        if self._file is not self._binary:
            raise AttributeError(f"a text file has no {name}()")
        method: Callable[..., Awaitable[Any]] = getattr(self._file, name)
        return method

    @property
    def closed(self) -> bool:
        return bool(self._file.closed)

    @property
    def mode(self) -> str:
        mode: str = self._file.mode if self._rolled else self._mode
        return mode

    @property
    def name(self) -> FileName | None:
        name: FileName | None = self._file.name if self._rolled else None
        return name

    @property
    def encoding(self) -> str | None:
        encoding: str | None = getattr(self._file, "encoding", None)
        return encoding

    @property
    def errors(self) -> str | None:
        errors: str | None = getattr(self._file, "errors", None)
        return errors

    @property
    def newlines(self) -> str | tuple[str, ...] | None:
        newlines: str | tuple[str, ...] | None = getattr(self._file, "newlines", None)
        return newlines

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> str | bytes:
        line: str | bytes = await self._file.readline()
        if not line:
            raise StopAsyncIteration
        return line

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


async def _spooled(max_size: int, mode: str, buffering: int, encoding: str | None,
                   newline: str | None, errors: str | None, suffix: str | bytes | None,
                   prefix: str | bytes | None, dir: StrOrBytesPath | None,
                   loop: _Loop | None, executor: Executor | None) -> AsyncSpooledTemporaryFile:
    backend = _backend.current(loop, executor)
    _mode_flags(mode)       # the built-in open()'s checks
    return AsyncSpooledTemporaryFile(max_size, mode, buffering, encoding, newline,
                                     errors, suffix, prefix, dir, backend)


def SpooledTemporaryFile(max_size: int = 0, mode: str = "w+b", buffering: int = -1,
                         encoding: str | None = None, newline: str | None = None,
                         suffix: str | bytes | None = None, prefix: str | bytes | None = None,
                         dir: StrOrBytesPath | None = None, loop: _Loop | None = None,
                         executor: Executor | None = None, *,
                         errors: str | None = None) -> OpenContext[AsyncSpooledTemporaryFile]:
    """tempfile.SpooledTemporaryFile(): in memory up to max_size bytes."""
    return OpenContext(_spooled(max_size, mode, buffering, encoding, newline, errors,
                                suffix, prefix, dir, loop, executor))


# -- directories --------------------------------------------------------------------


class AsyncTemporaryDirectory:
    """A temporary directory (tempfile.TemporaryDirectory()); cleanup()
    removes it and everything in it (in the executor: no io_uring request
    reads a directory)."""

    def __init__(self, name: str | bytes, backend: Backend,
                 ignore_cleanup_errors: bool = False) -> None:
        self.name: str | bytes | None = name       # None once removed
        self._backend = backend
        self._ignore_errors = ignore_cleanup_errors

    async def cleanup(self) -> None:
        if self.name is not None:
            name, self.name = self.name, None
            await self._backend.call(shutil.rmtree, name, ignore_errors=self._ignore_errors)

    close = cleanup

    def __repr__(self) -> str:
        return f"<aiouring.tempfile.AsyncTemporaryDirectory {self.name!r}>"


class _DirectoryContext(OpenContext[AsyncTemporaryDirectory]):
    """``async with`` gives the directory's name, as aiofiles' does."""

    __slots__ = ()

    # The name, not the object: an override of another type, on purpose.
    async def __aenter__(self) -> str | bytes:   # type: ignore[override]
        self._started = True
        self._file = await self._coro
        return cast("str | bytes", self._file.name)   # a new directory's: not None

    async def __aexit__(self, *exc_info: object) -> None:
        # Set by __aenter__ (without it, this fails as it always did).
        directory, self._file = cast(AsyncTemporaryDirectory, self._file), None
        await directory.cleanup()



async def _temporary_directory(suffix: str | bytes | None, prefix: str | bytes | None,
                               dir: StrOrBytesPath | None, loop: _Loop | None,
                               executor: Executor | None,
                               ignore_cleanup_errors: bool) -> AsyncTemporaryDirectory:
    backend = _backend.current(loop, executor)
    prefix, suffix, dir = await _parameters(backend, prefix, suffix, dir)
    path, _ = await _create(lambda path: backend.mkdir(path, 0o700),
                            prefix, suffix, dir)
    return AsyncTemporaryDirectory(os.path.abspath(path), backend, ignore_cleanup_errors)


def TemporaryDirectory(suffix: str | bytes | None = None, prefix: str | bytes | None = None,
                       dir: StrOrBytesPath | None = None, loop: _Loop | None = None,
                       executor: Executor | None = None, *,
                       ignore_cleanup_errors: bool = False) -> _DirectoryContext:
    """tempfile.TemporaryDirectory(): ``async with`` gives its name and
    removes it at the end; ``await`` gives an AsyncTemporaryDirectory."""
    return _DirectoryContext(_temporary_directory(suffix, prefix, dir, loop, executor,
                                                  ignore_cleanup_errors))

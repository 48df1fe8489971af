"""aiofiles.tempfile's namespace on aiouring: temporary files and directories
as async objects, on any loop. Files are created by an open request
(O_TMPFILE for TemporaryFile where the file system has it, O_EXCL with a
random name otherwise) and are aiouring file objects like aiouring.open()'s;
each call, like the stdlib's, returns an awaitable async context manager."""

import errno
import io
import os
import shutil
import tempfile as _stdlib

from . import backend as _backend
from .files import OpenContext, _mode_flags, wrap_descriptor
from .text import AsyncTextIOWrapper

__all__ = ["TemporaryFile", "NamedTemporaryFile", "SpooledTemporaryFile",
           "TemporaryDirectory"]

_FILE_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW


async def _parameters(backend, prefix, suffix, dir):
    """(prefix, suffix, dir) with the stdlib's defaults, all str or all bytes."""
    as_bytes = any(isinstance(part, bytes) for part in (prefix, suffix, dir))
    if dir is None:
        # The first call probes directories by writing to them: executor.
        dir = _stdlib.tempdir or await backend.call(_stdlib.gettempdir)
    dir = os.fspath(dir)
    prefix = _stdlib.gettempprefix() if prefix is None else prefix
    suffix = "" if suffix is None else suffix
    if as_bytes:
        prefix, suffix, dir = (os.fsencode(part) for part in (prefix, suffix, dir))
    return prefix, suffix, dir


def _random_name(prefix, suffix):
    token = os.urandom(6).hex()
    return prefix + (token.encode() if isinstance(prefix, bytes) else token) + suffix


async def _create(make, prefix, suffix, dir):
    """make(path) under a fresh random name, retried while the name is taken."""
    for _ in range(os.TMP_MAX):
        path = os.path.join(dir, _random_name(prefix, suffix))
        try:
            return path, await make(path)
        except FileExistsError:
            continue
    raise FileExistsError(f"no usable temporary name found in {dir!r}")


async def _named_file(backend, prefix, suffix, dir):
    return await _create(lambda path: backend.open(path, _FILE_FLAGS, 0o600),
                         prefix, suffix, dir)


def _file_object(backend, fd, name, mode, buffering, encoding, newline, errors):
    try:
        return wrap_descriptor(backend, fd, name, mode, buffering, encoding, errors,
                               newline, shared=False)
    except BaseException:
        os.close(fd)
        raise


async def _temporary_file(mode, buffering, encoding, newline, errors, suffix, prefix,
                          dir, loop, executor):
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


def TemporaryFile(mode="w+b", buffering=-1, encoding=None, newline=None, suffix=None,
                  prefix=None, dir=None, loop=None, executor=None, *, errors=None):
    """tempfile.TemporaryFile(): a file with no name, gone once closed.
    Its name is its descriptor, as the stdlib's."""
    return OpenContext(_temporary_file(mode, buffering, encoding, newline, errors,
                                       suffix, prefix, dir, loop, executor))


async def _named_temporary_file(mode, buffering, encoding, newline, errors, suffix,
                                prefix, dir, delete, delete_on_close, loop, executor):
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


def _raw_of(file):
    while not hasattr(file, "_delete_on_close"):
        file = file.buffer if hasattr(file, "buffer") else file.raw
    return file


async def _unlink_quietly(file):
    try:
        await _raw_of(file)._backend.unlink(file.name)
    except FileNotFoundError:
        pass


def NamedTemporaryFile(mode="w+b", buffering=-1, encoding=None, newline=None,
                       suffix=None, prefix=None, dir=None, delete=True,
                       delete_on_close=True, loop=None, executor=None, *, errors=None):
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

    def __init__(self, mode):
        self._bytes = io.BytesIO()
        self.mode = mode
        self.name = None

    closed = property(lambda self: self._bytes.closed)

    def readable(self):
        return self._bytes.readable()

    def _is_writable(self):
        return self._bytes.writable()

    def _is_seekable(self):
        return self._bytes.seekable()

    def _isatty(self):
        return False

    def _tell(self):
        return self._bytes.tell()

    def fileno(self):
        raise io.UnsupportedOperation("fileno")

    _descriptor = fileno

    def __getattr__(self, name):
        # read, read1, readinto, readline, readlines, peek, write, writelines,
        # seek, tell, truncate, flush, close: BytesIO's, as coroutines.
        method = getattr(self._bytes, name)

        async def call(*args):
            return method(*args)
        return call


class AsyncSpooledTemporaryFile:
    """tempfile.SpooledTemporaryFile(): kept in memory until it grows past
    max_size (or fileno() is asked for), then moved to a TemporaryFile at the
    same position. Text modes are aiouring's text layer over the bytes."""

    def __init__(self, max_size, mode, buffering, encoding, newline, errors,
                 suffix, prefix, dir, backend):
        self._max_size = max_size
        self._mode = mode
        self._arguments = (buffering, suffix, prefix, dir)
        self._backend = backend
        self._memory = _MemoryBuffer(mode)
        self._rolled = False
        if "b" in mode:
            self._file = self._binary = self._memory
        else:
            self._binary = self._memory
            self._file = AsyncTextIOWrapper(self._memory, encoding, errors, newline)
            self._file.mode = mode

    async def rollover(self):
        """Moves the contents to a temporary file on disk."""
        if self._rolled:
            return
        buffering, suffix, prefix, dir = self._arguments
        disk = await _temporary_file("w+b", buffering, None, None, None, suffix,
                                     prefix, dir, self._backend.loop, self._backend.executor)
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

    async def _check_size(self):
        if not self._rolled and self._max_size and self._memory._bytes.tell() > self._max_size:
            await self.rollover()

    async def write(self, data):
        result = await self._file.write(data)
        await self._check_size()
        return result

    async def writelines(self, lines):
        await self._file.writelines(lines)
        await self._check_size()

    async def truncate(self, size=None):
        if size is not None and self._max_size and size > self._max_size:
            await self.rollover()
        return await self._file.truncate(size)

    async def fileno(self):
        await self.rollover()
        return self._file.fileno()

    async def isatty(self):
        return False if not self._rolled else await self._file.isatty()

    def readable(self):
        return self._binary.readable()

    async def writable(self):
        return True

    async def seekable(self):
        return True

    async def read(self, size=-1):
        return await self._file.read(size)

    async def read1(self, size=-1):
        return await self._binary_only("read1")(size)

    async def readinto(self, buffer):
        return await self._binary_only("readinto")(buffer)

    async def readline(self, size=-1):
        return await self._file.readline(size)

    async def readlines(self, hint=-1):
        return await self._file.readlines(hint)

    async def seek(self, offset, whence=os.SEEK_SET):
        return await self._file.seek(offset, whence)

    async def tell(self):
        return await self._file.tell()

    async def flush(self):
        return await self._file.flush()

    async def close(self):
        await self._file.close()

    def _binary_only(self, name):
        if self._file is not self._binary:
            raise AttributeError(f"a text file has no {name}()")
        return getattr(self._file, name)

    closed = property(lambda self: self._file.closed)
    mode = property(lambda self: self._file.mode if self._rolled else self._mode)
    name = property(lambda self: self._file.name if self._rolled else None)
    encoding = property(lambda self: getattr(self._file, "encoding", None))
    errors = property(lambda self: getattr(self._file, "errors", None))
    newlines = property(lambda self: getattr(self._file, "newlines", None))

    def __aiter__(self):
        return self

    async def __anext__(self):
        line = await self._file.readline()
        if not line:
            raise StopAsyncIteration
        return line

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await self.close()


async def _spooled(max_size, mode, buffering, encoding, newline, errors, suffix,
                   prefix, dir, loop, executor):
    backend = _backend.current(loop, executor)
    _mode_flags(mode)       # the built-in open()'s checks
    return AsyncSpooledTemporaryFile(max_size, mode, buffering, encoding, newline,
                                     errors, suffix, prefix, dir, backend)


def SpooledTemporaryFile(max_size=0, mode="w+b", buffering=-1, encoding=None,
                         newline=None, suffix=None, prefix=None, dir=None, loop=None,
                         executor=None, *, errors=None):
    """tempfile.SpooledTemporaryFile(): in memory up to max_size bytes."""
    return OpenContext(_spooled(max_size, mode, buffering, encoding, newline, errors,
                                suffix, prefix, dir, loop, executor))


# -- directories --------------------------------------------------------------------


class AsyncTemporaryDirectory:
    """A temporary directory (tempfile.TemporaryDirectory()); cleanup()
    removes it and everything in it (in the executor: no io_uring request
    reads a directory)."""

    def __init__(self, name, backend, ignore_cleanup_errors=False):
        self.name = name
        self._backend = backend
        self._ignore_errors = ignore_cleanup_errors

    async def cleanup(self):
        if self.name is not None:
            name, self.name = self.name, None
            await self._backend.call(shutil.rmtree, name, ignore_errors=self._ignore_errors)

    close = cleanup

    def __repr__(self):
        return f"<aiouring.tempfile.AsyncTemporaryDirectory {self.name!r}>"


class _DirectoryContext(OpenContext):
    """``async with`` gives the directory's name, as aiofiles' does."""

    __slots__ = ()

    async def __aenter__(self):
        self._started = True
        self._file = await self._coro
        return self._file.name

    async def __aexit__(self, *exc_info):
        directory, self._file = self._file, None
        await directory.cleanup()


async def _temporary_directory(suffix, prefix, dir, loop, executor, ignore_cleanup_errors):
    backend = _backend.current(loop, executor)
    prefix, suffix, dir = await _parameters(backend, prefix, suffix, dir)
    path, _ = await _create(lambda path: backend.mkdir(path, 0o700),
                            prefix, suffix, dir)
    return AsyncTemporaryDirectory(os.path.abspath(path), backend, ignore_cleanup_errors)


def TemporaryDirectory(suffix=None, prefix=None, dir=None, loop=None, executor=None, *,
                       ignore_cleanup_errors=False):
    """tempfile.TemporaryDirectory(): ``async with`` gives its name and
    removes it at the end; ``await`` gives an AsyncTemporaryDirectory."""
    return _DirectoryContext(_temporary_directory(suffix, prefix, dir, loop, executor,
                                                  ignore_cleanup_errors))

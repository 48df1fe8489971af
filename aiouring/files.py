"""aiouring.open(): async file objects whose I/O is io_uring requests, with
aiofiles' API and the semantics of the built-in open().

Layers mirror the io module: AsyncFileIO (raw, unbuffered: buffering=0),
AsyncBufferedFile (BufferedReader/Writer/Random), AsyncTextIOWrapper (text).

File position: reads and writes are positional (pread/pwrite at the
object's own position), so a read or write whose task is cancelled leaves
the position where it was before the call. A cancelled read's bytes are
discarded; a cancelled write may or may not have reached the file, and
retrying it writes the same bytes at the same place. In append mode every
write goes to the end of the file, as with O_APPEND. The descriptor's own
offset (os.lseek) is only moved by seek().
"""

import asyncio
import errno
import io
import os
import stat
import warnings

from ._textio import AsyncTextIOWrapper
from .loop import Loop

__all__ = ["open", "running_loop", "AsyncFileIO", "AsyncBufferedFile",
           "AsyncTextIOWrapper"]

DEFAULT_BUFFER_SIZE = io.DEFAULT_BUFFER_SIZE
_builtin_open = open


def running_loop():
    """The running aiouring loop; RuntimeError if the running loop is not one."""
    loop = asyncio.get_running_loop()
    if not isinstance(loop, Loop):
        raise RuntimeError(
            "aiouring file operations need a running aiouring loop (use "
            "aiouring.run(), or aiouring.install() before asyncio.run()); "
            f"the running loop is {type(loop).__module__}.{type(loop).__name__}")
    return loop


def _mode_flags(mode):
    """(flags, readable, writable, appending, creating) for a mode string,
    validated as the built-in open() validates it."""
    if not isinstance(mode, str):
        raise TypeError("invalid mode: %r" % mode)
    modes = set(mode)
    if modes - set("axrwb+t") or len(mode) > len(modes):
        raise ValueError("invalid mode: %r" % mode)
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


def _raw_mode(readable, writable, appending, creating):
    if creating:
        return "xb+" if readable else "xb"
    if appending:
        return "ab+" if readable else "ab"
    if readable and writable:
        return "rb+"
    return "rb" if readable else "wb"


class AsyncFileIO:
    """The raw layer (like io.FileIO): every call is one io_uring request."""

    def __init__(self, loop, fd, name, mode, readable, writable, appending,
                 closefd, seekable, regular, blksize, direct=False):
        self._loop = loop
        self._fd = fd
        self.name = name
        self.mode = mode
        self._readable = readable
        self._writable = writable
        self._appending = appending
        self._closefd = closefd
        self._seekable = seekable
        self._regular = regular
        self._blksize = blksize
        self._pos = os.lseek(fd, 0, os.SEEK_CUR) if seekable else -1
        self._closed = False
        self._direct = direct

    # -- state ------------------------------------------------------------

    @property
    def closed(self):
        return self._closed

    @property
    def closefd(self):
        return self._closefd

    def fileno(self):
        self._check_closed()
        return self._fd

    def readable(self):
        self._check_closed()
        return self._readable

    def writable(self):
        self._check_closed()
        return self._writable

    def seekable(self):
        self._check_closed()
        return self._seekable

    def isatty(self):
        self._check_closed()
        return os.isatty(self._fd)

    def _check_closed(self):
        if self._closed:
            raise ValueError("I/O operation on closed file")

    def _check_readable(self):
        self._check_closed()
        if not self._readable:
            raise io.UnsupportedOperation("File not open for reading")

    def _check_writable(self):
        self._check_closed()
        if not self._writable:
            raise io.UnsupportedOperation("File not open for writing")

    def _offset(self):
        return self._pos if self._seekable else -1

    # -- I/O ---------------------------------------------------------------

    async def read(self, size=-1):
        self._check_readable()
        if size is None or size < 0:
            return await self.readall()
        if self._direct:
            return await self._read_direct(size)
        data = await self._loop._files.read(self._fd, size, self._offset(), self.name)
        if self._seekable:
            self._pos += len(data)
        return data

    async def _read_direct(self, size):
        # O_DIRECT wants aligned memory and sizes: read through a (fixed,
        # when the ring can register it) aligned buffer.
        from .ops import buffer
        aligned = max(4096, (size + 4095) & ~4095)
        bounce = buffer(aligned)
        n = await self._loop._files.readinto(self._fd, bounce, self._offset(), self.name)
        if self._seekable:
            self._pos += min(n, size)
        return bytes(memoryview(bounce)[:min(n, size)])

    async def readall(self):
        self._check_readable()
        chunks = []
        while True:
            want = DEFAULT_BUFFER_SIZE
            if self._regular and self._seekable:
                end = os.fstat(self._fd).st_size  # no disk access: the inode is in memory
                want = max(end - self._pos + 1, 1)
            chunk = await self.read(want)
            if chunk:
                chunks.append(chunk)
            # A short read of a regular file is its end.
            if not chunk or (self._regular and len(chunk) < want):
                break
        return b"".join(chunks)

    async def readinto(self, buffer):
        self._check_readable()
        n = await self._loop._files.readinto(self._fd, buffer, self._offset(), self.name)
        if self._seekable:
            self._pos += n
        return n

    async def write(self, data):
        self._check_writable()
        if self._appending:
            n = await self._loop._files.write(self._fd, data, -1, self.name)
            if self._seekable and n:        # as write(2): an empty write leaves it
                self._pos = os.lseek(self._fd, 0, os.SEEK_END)
            return n
        n = await self._loop._files.write(self._fd, data, self._offset(), self.name)
        if self._seekable:
            self._pos += n
        return n

    async def seek(self, offset, whence=os.SEEK_SET):
        self._check_closed()
        if isinstance(offset, float):
            raise TypeError("an integer is required")
        if whence == os.SEEK_CUR and self._seekable:
            # Positional I/O leaves the descriptor's offset behind: use ours.
            offset, whence = self._pos + offset, os.SEEK_SET
        self._pos = os.lseek(self._fd, offset, whence)  # no I/O: sets the offset
        return self._pos

    async def tell(self):
        return self._tell()

    def _tell(self):
        self._check_closed()
        if not self._seekable:
            return os.lseek(self._fd, 0, os.SEEK_CUR)   # raises ESPIPE, as FileIO
        return self._pos

    async def truncate(self, size=None):
        self._check_writable()
        if size is None:
            size = self._tell()
        if "FTRUNCATE" in _kernel_opcodes():
            await self._loop._files.ftruncate(self._fd, size)
        else:
            os.ftruncate(self._fd, size)
        return size

    async def flush(self):
        self._check_closed()

    async def close(self):
        if self._closed:
            return
        self._closed = True
        if self._closefd:
            await self._loop._files.close(self._fd)

    def __del__(self):
        if not getattr(self, "_closed", True) and self._closefd:
            warnings.warn(f"unclosed file {self!r}", ResourceWarning, source=self)
            self._closed = True
            try:
                os.close(self._fd)
            except OSError:
                pass

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await self.close()

    async def writelines(self, lines):
        for line in lines:
            await self.write(line)

    async def readline(self, size=-1):
        # As io.IOBase.readline on a raw file: a byte at a time.
        line = bytearray()
        while size is None or size < 0 or len(line) < size:
            byte = await self.read(1)
            if not byte:
                break
            line += byte
            if byte == b"\n":
                break
        return bytes(line)

    async def readlines(self, hint=-1):
        lines, total = [], 0
        while True:
            line = await self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint < total:
                return lines

    def __aiter__(self):
        self._check_closed()
        return self

    async def __anext__(self):
        line = await self.readline()
        if not line:
            raise StopAsyncIteration
        return line

    def __repr__(self):
        state = "closed" if self._closed else f"fd={self._fd}"
        return f"<aiouring.AsyncFileIO name={self.name!r} mode={self.mode!r} {state}>"


_opcodes = None


def _kernel_opcodes():
    global _opcodes
    if _opcodes is None:
        from .features import features
        _opcodes = frozenset(features()["opcodes"])
    return _opcodes


class AsyncBufferedFile:
    """The buffered layer (like io.BufferedReader/Writer/Random): a read
    buffer and a write buffer over an AsyncFileIO, never both non-empty."""

    def __init__(self, raw, buffer_size=DEFAULT_BUFFER_SIZE):
        if buffer_size <= 0:
            raise ValueError("invalid buffer size")
        self.raw = raw
        self.buffer_size = buffer_size
        self._rbuf = b""
        self._rpos = 0
        self._wbuf = bytearray()

    # -- state -------------------------------------------------------------

    name = property(lambda self: self.raw.name)
    closed = property(lambda self: self.raw.closed)

    @property
    def mode(self):
        return self.raw.mode

    def fileno(self):
        return self.raw.fileno()

    def readable(self):
        return self.raw.readable()

    def writable(self):
        return self.raw.writable()

    def seekable(self):
        return self.raw.seekable()

    def isatty(self):
        return self.raw.isatty()

    def _available(self):
        return len(self._rbuf) - self._rpos

    def _drop_read_buffer(self):
        # The raw position runs ahead of the logical one by what is unread.
        if self._available() and self.raw._seekable:
            self.raw._pos -= self._available()
        self._rbuf, self._rpos = b"", 0

    def _check_readable(self):
        self.raw._check_readable()

    # -- reading -----------------------------------------------------------

    async def _fill(self, size):
        """One raw read into the read buffer; False at end of file."""
        data = await self.raw.read(max(size, self.buffer_size))
        if self._available():
            self._rbuf = self._rbuf[self._rpos:] + data
        else:
            self._rbuf = data
        self._rpos = 0
        return bool(data)

    def _take(self, n):
        data = self._rbuf[self._rpos:self._rpos + n]
        self._rpos += len(data)
        return data

    async def read(self, size=-1):
        self._check_readable()
        await self.flush()
        if size is None or size < 0:
            rest = self._take(self._available())
            return rest + await self.raw.readall()
        if size <= self._available():
            return self._take(size)
        chunks = [self._take(self._available())]
        missing = size - len(chunks[0])
        while missing > 0:
            if missing >= self.buffer_size:
                data = await self.raw.read(missing)
            else:
                if not await self._fill(missing):
                    break
                data = self._take(missing)
            if not data:
                break
            chunks.append(data)
            missing -= len(data)
        return b"".join(chunks)

    async def read1(self, size=-1):
        self._check_readable()
        await self.flush()
        if size is None or size < 0:
            size = self.buffer_size
        if size == 0:
            return b""
        if not self._available():
            await self._fill(size)
        return self._take(size)

    async def readinto(self, buffer):
        view = memoryview(buffer).cast("B")
        data = await self.read(len(view))
        view[:len(data)] = data
        return len(data)

    async def readinto1(self, buffer):
        view = memoryview(buffer).cast("B")
        data = await self.read1(len(view))
        view[:len(data)] = data
        return len(data)

    async def peek(self, size=0):
        self._check_readable()
        await self.flush()
        if not self._available():
            await self._fill(size)
        return self._rbuf[self._rpos:]

    async def readline(self, size=-1):
        self._check_readable()
        await self.flush()
        if size is None:
            size = -1
        chunks, total = [], 0
        while size < 0 or total < size:
            if not self._available() and not await self._fill(0):
                break
            end = self._rbuf.find(b"\n", self._rpos) + 1 or len(self._rbuf)
            take = end - self._rpos
            if size >= 0:
                take = min(take, size - total)
            chunk = self._take(take)
            chunks.append(chunk)
            total += len(chunk)
            if chunk.endswith(b"\n"):
                break
        return b"".join(chunks)

    async def readlines(self, hint=-1):
        lines, total = [], 0
        while True:
            line = await self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint < total:   # as io: once past the hint
                return lines

    def __aiter__(self):
        self.raw._check_closed()
        return self

    async def __anext__(self):
        line = await self.readline()
        if not line:
            raise StopAsyncIteration
        return line

    # -- writing -----------------------------------------------------------

    async def write(self, data):
        self.raw._check_writable()
        if isinstance(data, str):
            raise TypeError("a bytes-like object is required, not 'str'")
        self._drop_read_buffer()
        n = memoryview(data).nbytes
        self._wbuf += data
        if len(self._wbuf) >= self.buffer_size:
            await self.flush()
        return n

    async def writelines(self, lines):
        for line in lines:
            await self.write(line)

    async def flush(self):
        if self._wbuf:
            self.raw._check_closed()
            pending, self._wbuf = self._wbuf, bytearray()
            try:
                written = await self.raw.write(pending)
            except BaseException:
                self._wbuf = pending + self._wbuf   # nothing is reported written
                raise
            if written < len(pending):
                self._wbuf = pending[written:] + self._wbuf
                raise OSError(errno.EIO, "short write", self.name)
        elif self.raw.closed:
            raise ValueError("flush of closed file")

    # -- position ------------------------------------------------------------

    def _tell(self):
        pos = self.raw._tell()
        if self.raw._seekable:
            return pos - self._available() + len(self._wbuf)
        return pos

    async def tell(self):
        return self._tell()

    async def seek(self, offset, whence=os.SEEK_SET):
        if whence not in (os.SEEK_SET, os.SEEK_CUR, os.SEEK_END):
            raise ValueError(f"whence value {whence} unsupported")
        self.raw._check_closed()
        if not self.raw._seekable:
            raise io.UnsupportedOperation("File or stream is not seekable.")
        await self.flush()
        if whence == os.SEEK_CUR:
            offset, whence = self._tell() + offset, os.SEEK_SET
        if whence == os.SEEK_SET and self._rbuf:
            start = self.raw._pos - len(self._rbuf)
            if start <= offset <= self.raw._pos:     # inside the read buffer
                self._rpos = offset - start
                return offset
        self._drop_read_buffer()
        return await self.raw.seek(offset, whence)

    async def truncate(self, size=None):
        self.raw._check_writable()
        await self.flush()
        if size is None:
            size = self._tell()
        self._drop_read_buffer()
        return await self.raw.truncate(size)

    # -- closing ---------------------------------------------------------------

    async def close(self):
        if self.raw.closed:
            return
        try:
            await self.flush()
        finally:
            await self.raw.close()

    def __del__(self):
        raw = getattr(self, "raw", None)
        if raw is not None and not raw.closed and self._wbuf:
            warnings.warn(f"unclosed file {self!r} lost {len(self._wbuf)} "
                          "buffered bytes", ResourceWarning, source=self)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await self.close()

    def __repr__(self):
        return f"<aiouring.AsyncBufferedFile name={self.name!r} mode={self.mode!r}>"


async def _open(file, mode, buffering, encoding, errors, newline, closefd,
                opener, flags):
    if not isinstance(file, int):
        file = os.fspath(file)
    if not isinstance(file, (str, bytes, int)):
        raise TypeError("invalid file: %r" % file)
    if not isinstance(buffering, int):
        raise TypeError("an integer is required")
    open_flags, readable, writable, appending, binary = _mode_flags(mode)
    if binary and encoding is not None:
        raise ValueError("binary mode doesn't take an encoding argument")
    if binary and errors is not None:
        raise ValueError("binary mode doesn't take an errors argument")
    if binary and newline is not None:
        raise ValueError("binary mode doesn't take a newline argument")
    if binary and buffering == 1:
        warnings.warn("line buffering (buffering=1) isn't supported in binary "
                      "mode, the default buffer size will be used",
                      RuntimeWarning, 3)
    if newline not in (None, "", "\n", "\r", "\r\n"):
        raise ValueError(f"illegal newline value: {newline}")
    if buffering == 0 and not binary:
        raise ValueError("can't have unbuffered text I/O")
    loop = running_loop()
    open_flags |= flags
    if isinstance(file, int):
        if file < 0:
            raise ValueError("negative file descriptor")
        fd = file
    else:
        if not closefd:
            raise ValueError("Cannot use closefd=False with file name")
        if opener is None:
            fd = await loop._files.openat(file, open_flags, 0o666)
        else:
            fd = opener(file, open_flags | os.O_CLOEXEC)
            if not isinstance(fd, int):
                raise TypeError("expected integer from opener")
            if fd < 0:
                raise ValueError(f"opener returned {fd}")
    try:
        st = os.fstat(fd)   # of an open descriptor: no disk access
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), file)
        regular = stat.S_ISREG(st.st_mode)
        try:
            os.lseek(fd, 0, os.SEEK_CUR)
            seekable = True
        except OSError:
            seekable = False
        if appending and seekable:
            os.lseek(fd, 0, os.SEEK_END)
        blksize = st.st_blksize if st.st_blksize > 1 else DEFAULT_BUFFER_SIZE
        raw = AsyncFileIO(loop, fd, file,
                          _raw_mode(readable, writable, appending, "x" in mode),
                          readable, writable, appending, closefd, seekable,
                          regular, blksize,
                          bool(open_flags & getattr(os, "O_DIRECT", 0)))
    except BaseException:
        if not isinstance(file, int) or closefd:
            os.close(fd)
        raise
    line_buffering = False
    if buffering == 1 or (buffering < 0 and raw.isatty()):
        buffering, line_buffering = -1, True
    if buffering < 0:
        buffering = max(blksize, DEFAULT_BUFFER_SIZE)
    if buffering == 0:
        return raw
    buffered = AsyncBufferedFile(raw, buffering)
    if binary:
        return buffered
    text = AsyncTextIOWrapper(buffered, encoding, errors, newline, line_buffering)
    text._mode = mode
    return text


class _OpenContext:
    """What aiouring.open() returns: awaitable, and an async context manager
    that closes the file on exit (as aiofiles.open())."""

    __slots__ = ("_coro", "_file", "_started")

    def __init__(self, coro):
        self._coro = coro
        self._file = None
        self._started = False

    def __await__(self):
        self._started = True
        return self._coro.__await__()

    async def __aenter__(self):
        self._started = True
        self._file = await self._coro
        return self._file

    async def __aexit__(self, *exc_info):
        await self._file.close()
        self._file = None

    def close(self):
        self._coro.close()

    def __del__(self):
        if not self._started:
            self._coro.close()      # never awaited: no "never awaited" warning


def open(file, mode="r", buffering=-1, encoding=None, errors=None, newline=None,
         closefd=True, opener=None, *, flags=0):
    """Opens file on the running aiouring loop (IORING_OP_OPENAT), as the
    built-in open() does, and returns an async file object: ``f = await
    aiouring.open(...)`` or ``async with aiouring.open(...) as f``.

    Arguments and errors are the built-in open()'s. ``flags`` adds open(2)
    flags, e.g. os.O_DIRECT (then read/write aligned sizes at aligned offsets;
    unbuffered reads go through an aligned, registered buffer). An opener, if
    given, is called synchronously on the loop's thread."""
    return _OpenContext(_open(file, mode, buffering, encoding, errors, newline,
                              closefd, opener, flags))

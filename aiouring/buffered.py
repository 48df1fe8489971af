"""AsyncBufferedFile: the buffered layer of aiouring.open() (binary modes
with buffering != 0, and under every text file), like io.BufferedReader,
BufferedWriter and BufferedRandom over an AsyncFileIO.

Reads fill a read buffer, writes collect in a write buffer, and the two are
never both non-empty. Where the raw file's position is shared (see
aiouring.rawfile), giving back unread bytes moves the descriptor's position,
as the built-in buffered files do.
"""

from __future__ import annotations

import errno
import io
import os
import sys
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Self, cast

from .backend import RingBackend
from .rawfile import AsyncFileIO, FileName

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

__all__ = ["AsyncBufferedFile"]

DEFAULT_BUFFER_SIZE = io.DEFAULT_BUFFER_SIZE
# Python 3.13's buffered writer sends a write of exactly its buffer's size
# straight to the file (3.11 and 3.12 buffer it).
_DIRECT_AT_BUFFER_SIZE = sys.version_info >= (3, 13)


class AsyncBufferedFile:
    """The buffered layer (like io.BufferedReader/Writer/Random): a read
    buffer and a write buffer over an AsyncFileIO, never both non-empty."""

    def __init__(self, raw: AsyncFileIO, buffer_size: int = DEFAULT_BUFFER_SIZE) -> None:
        if buffer_size <= 0:
            raise ValueError("invalid buffer size")
        self._raw: AsyncFileIO | None = raw
        self.buffer_size = buffer_size
        self._rbuf = b""
        self._rpos = 0
        self._wbuf = bytearray()
        # (st_size, st_mtime_ns, st_ctime_ns) when the read buffer holds
        # bytes read along with the open, not yet checked against the file.
        self._stamp: tuple[int, ...] | None = None

    # -- state -------------------------------------------------------------

    @property
    def raw(self) -> AsyncFileIO:
        if self._raw is None:
            raise ValueError("raw stream has been detached")
        return self._raw

    @property
    def name(self) -> FileName:
        return self.raw.name

    @property
    def closed(self) -> bool:
        return self.raw.closed

    @property
    def mode(self) -> str:
        return self.raw.mode

    def fileno(self) -> int:
        return self.raw.fileno()

    def _descriptor(self) -> int:
        return self.raw._descriptor()

    def readable(self) -> bool:
        return self.raw.readable()

    async def writable(self) -> bool:
        return self.raw._is_writable()

    async def seekable(self) -> bool:
        return self.raw._is_seekable()

    async def isatty(self) -> bool:
        return self.raw._isatty()

    def _is_writable(self) -> bool:
        return self.raw._is_writable()

    def _is_seekable(self) -> bool:
        return self.raw._is_seekable()

    def _isatty(self) -> bool:
        return self.raw._isatty()

    def _is_appending(self) -> bool:
        return self.raw._appending

    def detach(self) -> AsyncFileIO:
        """Returns the raw file and leaves this object unusable. Synchronous,
        as aiofiles' detach(): unflushed bytes would need a write, so call
        flush() first (ValueError otherwise, rather than lose them)."""
        if self._wbuf:
            raise ValueError(f"flush() before detach(): {len(self._wbuf)} bytes "
                             "are still buffered")
        self._drop_read_buffer()
        self._stamp = None
        raw, self._raw = self.raw, None
        return raw

    def _hold_prefetched(self, data: bytes, stamp: tuple[int, ...]) -> None:
        """Takes bytes read at offset 0 right after the open as the read
        buffer. They are checked against the file's size and times on first
        use, so a file changed since reads afresh."""
        self._rbuf, self._rpos, self._stamp = data, 0, stamp
        self.raw._pos += len(data)

    def _check_prefetched(self) -> bool:
        """Before the first use of prefetched bytes: drops them if the file
        changed since; True when they are the whole file (nothing is left
        to read)."""
        stamp, self._stamp = self._stamp, None
        assert stamp is not None
        raw = self.raw
        # Only RingBackend prefetches; fstat(2) needs no disk access.
        if not cast(RingBackend, raw._backend).unchanged(raw._fd, stamp):
            self._drop_read_buffer()
            return False
        return len(self._rbuf) == stamp[0]

    def _unread(self, data: bytes) -> None:
        """Puts bytes taken from the file back in front of the read buffer
        (a call that took them failed before returning them)."""
        if data:
            self._rbuf = data + self._rbuf[self._rpos:]
            self._rpos = 0

    def _available(self) -> int:
        return len(self._rbuf) - self._rpos

    def _drop_read_buffer(self) -> None:
        # The raw position runs ahead of the logical one by what is unread.
        if self._available() and self.raw._seekable:
            self.raw._rewind(self._available())
        self._rbuf, self._rpos = b"", 0

    def _check_readable(self) -> None:
        self.raw._check_readable()

    # -- reading -----------------------------------------------------------

    async def _fill(self, size: int) -> bool:
        """One raw read into the read buffer; False at end of file."""
        data = await self.raw.read(max(size, self.buffer_size))
        if self._available():
            self._rbuf = self._rbuf[self._rpos:] + data
        else:
            self._rbuf = data
        self._rpos = 0
        return bool(data)

    def _take(self, n: int) -> bytes:
        data = self._rbuf[self._rpos:self._rpos + n]
        self._rpos += len(data)
        return data

    async def read(self, size: int | None = -1) -> bytes:
        self._check_readable()
        if size == 0:
            return b""          # as the built-in: nothing flushed or moved
        if self._wbuf:
            await self.flush()
        at_end = self._stamp is not None and self._check_prefetched()
        if size is None or size < 0:
            rest = self._take(self._available())
            if at_end:
                return rest
            try:
                return rest + await self.raw.readall()
            except BaseException:
                self._unread(rest)
                raise
        if size <= self._available():
            return self._take(size)
        if not self._available() and size >= self.buffer_size:
            # Nothing buffered: a large read goes straight to the file, and
            # the bytes the kernel filled are handed out without a copy.
            data = await self.raw.read(size)
            if len(data) == size or not data:
                return data
            chunks = [data]
            missing = size - len(data)
        else:
            chunks = [self._take(self._available())]
            missing = size - len(chunks[0])
        try:
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
        except BaseException:
            self._unread(b"".join(chunks))  # read, so never lost: read next
            raise
        return b"".join(chunks)

    async def read1(self, size: int | None = -1) -> bytes:
        self._check_readable()
        if self._wbuf:
            await self.flush()
        if self._stamp is not None:
            self._check_prefetched()
        if size is None or size < 0:
            size = self.buffer_size
        if size == 0:
            return b""
        if not self._available():
            await self._fill(size)
        return self._take(size)

    async def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        size = len(view)
        if self._available() or size < self.buffer_size or self._stamp is not None:
            data = await self.read(size)
            view[:len(data)] = data
            return len(data)
        # Nothing buffered and a large buffer: the kernel reads straight
        # into it (the request holds the buffer until its completion).
        self._check_readable()
        if self._wbuf:
            await self.flush()
        total = 0
        try:
            while total < size:
                count = await self.raw.readinto(view[total:])
                if not count:
                    break
                total += count
        except BaseException:
            # What already arrived stays readable rather than lost.
            self._unread(bytes(view[:total]))
            raise
        return total

    async def readinto1(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = await self.read1(len(view))
        view[:len(data)] = data
        return len(data)

    async def peek(self, size: int = 0) -> bytes:
        self._check_readable()
        if self._wbuf:
            await self.flush()
        if self._stamp is not None:
            self._check_prefetched()
        if not self._available():
            await self._fill(size)
        return self._rbuf[self._rpos:]

    async def readline(self, size: int | None = -1) -> bytes:
        self._check_readable()
        if self._wbuf:
            await self.flush()
        if self._stamp is not None:
            self._check_prefetched()
        if size is None:
            size = -1
        chunks: list[bytes] = []
        total = 0
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

    async def readlines(self, hint: int | None = -1) -> list[bytes]:
        lines: list[bytes] = []
        total = 0
        while True:
            line = await self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint < total:   # as io: once past the hint
                return lines

    def __aiter__(self) -> Self:
        self.raw._check_closed()
        return self

    async def __anext__(self) -> bytes:
        line = await self.readline()
        if not line:
            raise StopAsyncIteration
        return line

    # -- writing -----------------------------------------------------------

    async def write(self, data: ReadableBuffer) -> int:
        self.raw._check_writable()
        if isinstance(data, str):
            raise TypeError("a bytes-like object is required, not 'str'")
        self._drop_read_buffer()
        n = memoryview(data).nbytes
        # As the built-in: what fits stays buffered; otherwise the buffer goes
        # out first and data of a buffer's size or more (more than a buffer's
        # size before Python 3.13) goes straight to the file. Who shares the
        # descriptor sees writes reach it at the same moments.
        direct = n >= self.buffer_size if _DIRECT_AT_BUFFER_SIZE else n > self.buffer_size
        if not direct and len(self._wbuf) + n <= self.buffer_size:
            self._wbuf += data
            return n
        await self.flush()
        if not direct:
            self._wbuf += data
            return n
        written = await self.raw.write(data)
        if written < n:
            self._wbuf += memoryview(data).cast("B")[written:]
        return n

    async def writelines(self, lines: Iterable[ReadableBuffer]) -> None:
        for line in lines:
            await self.write(line)

    async def flush(self) -> None:
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

    def _tell(self) -> int:
        pos = self.raw._tell()
        if self.raw._seekable:
            return pos - self._available() + len(self._wbuf)
        return pos

    async def tell(self) -> int:
        return self._tell()

    async def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence not in (os.SEEK_SET, os.SEEK_CUR, os.SEEK_END):
            raise ValueError(f"whence value {whence} unsupported")
        self.raw._check_closed()
        if not self.raw._seekable:
            raise io.UnsupportedOperation("File or stream is not seekable.")
        await self.flush()
        if whence == os.SEEK_CUR:
            offset, whence = self._tell() + offset, os.SEEK_SET
        if whence == os.SEEK_SET and self._rbuf:
            end = self.raw._tell()
            start = end - len(self._rbuf)
            if start <= offset <= end:              # inside the read buffer
                self._rpos = offset - start
                return offset
        self._drop_read_buffer()
        return await self.raw.seek(offset, whence)

    async def truncate(self, size: int | None = None) -> int:
        self.raw._check_writable()
        await self.flush()
        if size is None:
            size = self._tell()
        self._drop_read_buffer()
        return await self.raw.truncate(size)

    # -- closing ---------------------------------------------------------------

    async def close(self) -> None:
        if self.raw.closed:
            return
        try:
            if self._wbuf:
                await self.flush()
        finally:
            await self.raw.close()

    def __del__(self) -> None:
        raw = getattr(self, "_raw", None)
        if raw is not None and not raw.closed and self._wbuf:
            warnings.warn(f"unclosed file {self!r} lost {len(self._wbuf)} "
                          "buffered bytes", ResourceWarning, stacklevel=1, source=self)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<aiouring.AsyncBufferedFile name={self.name!r} mode={self.mode!r}>"

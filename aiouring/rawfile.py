"""AsyncFileIO: the raw, unbuffered layer of aiouring.open() (buffering=0),
like io.FileIO; each call is one request to the backend (aiouring.backend).

Where the file position lives:

- A file opened by name (not for appending) keeps its position in the
  object and reads and writes at it (pread/pwrite): a cancelled read leaves
  the position where it was, and a cancelled write leaves it too (the write
  may or may not have reached the file; retrying writes the same bytes at
  the same place).
- Everywhere else the position is shared with whoever else holds the
  descriptor, so reads and writes use the descriptor's own position (offset
  -1), exactly as the built-in open() does: a descriptor passed in (stdout,
  inherited or dup'ed ones), append mode, pipes and ttys, and a file whose
  descriptor was handed out by fileno() (from then on). A cancelled read or
  write there may have moved the position (its bytes read and lost, or
  written).
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Self

from .backend import RingBackend

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

    from .backend import Backend

__all__ = ["AsyncFileIO"]

# What a file object's name is: the path it was opened with, or the
# descriptor it was given (as the built-in open()).
FileName = str | bytes | int

DEFAULT_BUFFER_SIZE = io.DEFAULT_BUFFER_SIZE


class AsyncFileIO:
    """The raw layer (like io.FileIO): every call is one backend request."""

    def __init__(self, backend: Backend, fd: int, name: FileName, mode: str, *,
                 readable: bool, writable: bool, appending: bool, closefd: bool,
                 seekable: bool, regular: bool, blksize: int, direct: bool = False,
                 shared: bool = True, position: int | None = None) -> None:
        self._backend = backend
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
        self._direct = direct
        self._shared = shared or appending or not seekable
        # position: where a descriptor just opened stands (no lseek needed).
        if self._shared:
            self._pos = 0
        else:
            self._pos = os.lseek(fd, 0, os.SEEK_CUR) if position is None else position
        self._closed = False
        self._delete_on_close: str | bytes | None = None    # a temporary file's path

    # -- state ------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def closefd(self) -> bool:
        return self._closefd

    def fileno(self) -> int:
        """The descriptor. Handing it out shares the file position: from now
        on reads and writes use the descriptor's own position, so whatever
        is done through the descriptor (os.write, a child process) and
        through this object interleaves as with the built-in open()."""
        self._check_closed()
        if not self._shared:
            os.lseek(self._fd, self._pos, os.SEEK_SET)
            self._shared = True
        return self._fd

    def _descriptor(self) -> int:
        """The descriptor for a call that does not use the position."""
        self._check_closed()
        return self._fd

    def readable(self) -> bool:
        self._check_closed()
        return self._readable

    async def writable(self) -> bool:
        return self._is_writable()

    async def seekable(self) -> bool:
        return self._is_seekable()

    async def isatty(self) -> bool:
        return self._isatty()

    def _is_writable(self) -> bool:
        self._check_closed()
        return self._writable

    def _is_seekable(self) -> bool:
        self._check_closed()
        return self._seekable

    def _isatty(self) -> bool:
        self._check_closed()
        return os.isatty(self._fd)

    def _check_closed(self) -> None:
        if self._closed:
            raise ValueError("I/O operation on closed file")

    def _check_readable(self) -> None:
        self._check_closed()
        if not self._readable:
            raise io.UnsupportedOperation("File not open for reading")

    def _check_writable(self) -> None:
        self._check_closed()
        if not self._writable:
            raise io.UnsupportedOperation("File not open for writing")

    # -- I/O ---------------------------------------------------------------

    async def read(self, size: int | None = -1) -> bytes:
        self._check_readable()
        if size is None or size < 0:
            return await self.readall()
        if self._shared:
            if self._direct:
                return await self._backend.read_aligned(self._fd, size, -1)
            return await self._backend.read(self._fd, size, -1)
        # Not shared: the descriptor is this object's alone, so its
        # requests may wait for the loop's next enter (owned).
        if self._direct:
            data = await self._backend.read_aligned(self._fd, size, self._pos, owned=True)
        else:
            data = await self._backend.read(self._fd, size, self._pos, owned=True)
        self._pos += len(data)
        return data

    async def readall(self) -> bytes:
        self._check_readable()
        chunks = []
        try:
            while True:
                want = DEFAULT_BUFFER_SIZE
                if self._regular and self._seekable:
                    end = os.fstat(self._fd).st_size  # no disk access: the inode is in memory
                    want = max(end - self._tell() + 1, 1)
                chunk = await self.read(want)
                if chunk:
                    chunks.append(chunk)
                # A short read of a regular file is its end.
                if not chunk or (self._regular and len(chunk) < want):
                    break
        except BaseException:
            if chunks and self._seekable and not self._closed:
                self._rewind(sum(map(len, chunks)))     # read again next time
            raise
        return b"".join(chunks)

    async def readinto(self, buffer: WriteableBuffer) -> int:
        self._check_readable()
        if self._shared:
            return await self._backend.readinto(self._fd, buffer, -1)
        n = await self._backend.readinto(self._fd, buffer, self._pos, owned=True)
        self._pos += n
        return n

    async def write(self, data: ReadableBuffer) -> int:
        self._check_writable()
        if self._shared:
            return await self._backend.write(self._fd, data, -1)
        n = await self._backend.write(self._fd, data, self._pos, owned=True)
        self._pos += n
        return n

    async def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._check_closed()
        if isinstance(offset, float):
            raise TypeError("an integer is required")
        if whence == os.SEEK_CUR and not self._shared:
            # Positional I/O leaves the descriptor's offset behind: use ours.
            offset, whence = self._pos + offset, os.SEEK_SET
        pos = os.lseek(self._fd, offset, whence)    # no I/O: sets the offset
        if not self._shared:
            self._pos = pos
        return pos

    async def tell(self) -> int:
        return self._tell()

    def _tell(self) -> int:
        self._check_closed()
        if self._shared:
            return os.lseek(self._fd, 0, os.SEEK_CUR)   # ESPIPE on a pipe, as FileIO
        return self._pos

    def _rewind(self, count: int) -> None:
        """Moves the position back over count bytes read but not used."""
        if self._shared:
            os.lseek(self._fd, -count, os.SEEK_CUR)
        else:
            self._pos -= count

    async def truncate(self, size: int | None = None) -> int:
        self._check_writable()
        if size is None:
            size = self._tell()
        await self._backend.ftruncate(self._fd, size)
        return size

    async def flush(self) -> None:
        self._check_closed()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._closefd:
            if not self._writable and isinstance(self._backend, RingBackend):
                # Closing a read-only descriptor reports nothing worth a
                # wait: the close goes to the kernel now, behind every
                # request queued on it, and nobody waits for its result.
                self._backend.close_now(self._fd)
            else:
                await self._backend.close(self._fd, owned=not self._shared)
        if self._delete_on_close is not None:
            try:
                await self._backend.unlink(self._delete_on_close)
            except FileNotFoundError:
                pass

    def __del__(self) -> None:
        if not getattr(self, "_closed", True) and self._closefd:
            warnings.warn(f"unclosed file {self!r}", ResourceWarning, stacklevel=1,
                          source=self)

            self._closed = True
            try:
                os.close(self._fd)
                if self._delete_on_close is not None:   # as the stdlib's temporary files
                    os.unlink(self._delete_on_close)
            except OSError:
                pass

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def writelines(self, lines: Iterable[ReadableBuffer]) -> None:
        for line in lines:
            await self.write(line)

    async def readline(self, size: int | None = -1) -> bytes:
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

    async def readlines(self, hint: int | None = -1) -> list[bytes]:
        lines: list[bytes] = []
        total = 0
        while line := await self.readline():
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint < total:   # as io: once past the hint
                break
        return lines

    def __aiter__(self) -> Self:
        self._check_closed()
        return self

    async def __anext__(self) -> bytes:
        line = await self.readline()
        if not line:
            raise StopAsyncIteration
        return line

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"fd={self._fd}"
        return f"<aiouring.AsyncFileIO name={self.name!r} mode={self.mode!r} {state}>"

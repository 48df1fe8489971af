"""AsyncTextIOWrapper: the text layer of aiouring.open(), over an
AsyncBufferedFile (or anything with its async read1/read/write/flush/seek/
tell/truncate/close).

Decoding is a codecs incremental decoder, wrapped in io.IncrementalNewlineDecoder
when newline is None or '' (universal newlines). Text is decoded a chunk at
a time into a string that read(), readline() and iteration take from; the
bytes fed since the last restart point are kept so tell() can name a
character boundary (aiouring.textpos has the cookie scheme).

Where this differs from the built-in open(): tell() also answers during and
after iteration (the built-in refuses until the iteration ends); and a write
after reads goes where reading stands, not past the read-ahead (as a binary
'+' file does).
"""

from __future__ import annotations

import codecs
import collections
import io
import locale
import operator
import os
import sys
from collections.abc import Iterable
from types import EllipsisType
from typing import Protocol, Self, SupportsIndex, cast


import _multibytecodec

from . import textpos
from .textpos import Decoder

__all__ = ["AsyncTextIOWrapper"]

CHUNK_SIZE = 8192
_NEWLINES = (None, "", "\n", "\r", "\r\n")
# The CJK decoders take any state setstate() is given and can crash on one
# they did not produce (CPython's own open() does, on iso2022_jp after
# seek(3)): seek() lets through only states seen from them, per codec.
_SEEN_STATES: collections.defaultdict[str, set[int]] = collections.defaultdict(set)


class BinaryBuffer(Protocol):
    """What the text layer needs of the binary file under it (an
    AsyncBufferedFile, or a spooled temporary file's memory)."""

    @property
    def name(self) -> object: ...
    @property
    def closed(self) -> bool: ...
    def readable(self) -> bool: ...
    def fileno(self) -> int: ...
    def _descriptor(self) -> int: ...
    def _is_writable(self) -> bool: ...
    def _is_seekable(self) -> bool: ...
    def _isatty(self) -> bool: ...
    def _tell(self) -> int: ...
    async def read(self, size: int | None = -1, /) -> bytes: ...
    async def read1(self, size: int | None = -1, /) -> bytes: ...
    async def write(self, data: bytes, /) -> int: ...
    async def flush(self) -> None: ...
    async def seek(self, offset: int, whence: int = os.SEEK_SET, /) -> int: ...
    async def tell(self) -> int: ...
    async def truncate(self, size: int | None = None, /) -> int: ...
    async def close(self) -> None: ...


def _resolve_encoding(encoding: str | None) -> str:
    encoding = io.text_encoding(encoding, 4)
    if encoding == "locale":
        return "utf-8" if sys.flags.utf8_mode else locale.getencoding()
    return encoding


def _is_multibyte(codec: codecs.CodecInfo) -> bool:
    """Whether codec decodes with a CJK decoder (see _SEEN_STATES)."""
    return issubclass(cast(type, codec.incrementaldecoder),
                      _multibytecodec.MultibyteIncrementalDecoder)


def _size(size: SupportsIndex | None) -> int:
    if size is None:
        return -1
    try:
        return operator.index(size)
    except TypeError:
        raise TypeError("argument should be integer or None, "
                        f"not '{type(size).__name__}'") from None


class AsyncTextIOWrapper:
    """Text I/O over an async binary buffer, with the built-in
    TextIOWrapper's arguments and behaviour."""

    def __init__(self, buffer: BinaryBuffer, encoding: str | None = None,
                 errors: str | None = None, newline: str | None = None,
                 line_buffering: bool = False, write_through: bool = False) -> None:
        if newline is not None and not isinstance(newline, str):
            raise TypeError(f"illegal newline type: {type(newline).__name__}")
        if newline not in _NEWLINES:
            raise ValueError(f"illegal newline value: {newline!r}")
        encoding = _resolve_encoding(encoding)
        if not isinstance(encoding, str):
            raise TypeError(f"encoding must be str, not {type(encoding).__name__}")
        if errors is None:
            errors = "strict"
        elif not isinstance(errors, str):
            raise TypeError(f"errors must be str, not {type(errors).__name__}")
        self._codec = self._lookup(encoding)
        self._guarded = _is_multibyte(self._codec)
        self._buffer: BinaryBuffer | None = buffer
        self._encoding = encoding
        self._errors = errors
        self._set_newline(newline)
        self._line_buffering = bool(line_buffering)
        self._write_through = bool(write_through)
        self.mode: str | None = getattr(buffer, "mode", None)
        self._telling = buffer._is_seekable()
        self._decoder: Decoder | None = None
        self._encoder: codecs.IncrementalEncoder | None = None
        self._scratch: Decoder | None = None
        self._fresh_flags: int | None = None
        self._decoded = ""      # characters decoded since the restart point
        self._used = 0          # how many of them reads have returned
        # (decoder flags at the restart point, bytes fed since)
        self._snapshot: tuple[int, list[bytes]] | None = None
        if buffer.readable():
            self._decoder = self._make_decoder()
        if buffer._is_writable():
            self._encoder = self._codec.incrementalencoder(self._errors)
            if self._telling and buffer._tell() != 0:
                self._encoder.setstate(0)   # no BOM in the middle of a file

    @staticmethod
    def _lookup(encoding: str) -> codecs.CodecInfo:
        codec = codecs.lookup(encoding)
        if not codec._is_text_encoding:
            raise LookupError(f"{encoding!r} is not a text encoding; "
                              "use codecs.open() to handle arbitrary codecs")
        return codec

    def _set_newline(self, newline: str | None) -> None:
        self._newline = newline
        self._universal = newline is None or newline == ""
        self._translate_in = newline is None
        self._terminator = "\n" if newline is None else newline
        self._translate_out = newline not in ("", "\n") and (newline or os.linesep) != "\n"
        self._write_newline = newline or os.linesep

    def _make_decoder(self) -> Decoder:
        decoder = self._codec.incrementaldecoder(self._errors)
        if self._universal:
            return io.IncrementalNewlineDecoder(decoder, self._translate_in)
        return decoder


    # -- attributes ----------------------------------------------------------

    @property
    def buffer(self) -> BinaryBuffer:
        if self._buffer is None:
            raise ValueError("underlying buffer has been detached")
        return self._buffer

    @property
    def encoding(self) -> str:
        return self._encoding

    @property
    def errors(self) -> str:
        return self._errors

    @property
    def line_buffering(self) -> bool:
        return self._line_buffering

    @property
    def write_through(self) -> bool:
        return self._write_through

    @property
    def name(self) -> object:
        return self.buffer.name

    @property
    def closed(self) -> bool:
        return self.buffer.closed

    @property
    def newlines(self) -> str | tuple[str, ...] | None:
        """The newlines met so far (universal newline modes), as io says."""
        newlines: str | tuple[str, ...] | None = getattr(self._decoder, "newlines", None)
        return newlines

    def fileno(self) -> int:
        return self.buffer.fileno()

    def _descriptor(self) -> int:
        return self.buffer._descriptor()

    async def readable(self) -> bool:
        # A coroutine here (plain on binary files), as in aiofiles.
        return self.buffer.readable()

    async def writable(self) -> bool:
        return self.buffer._is_writable()

    async def seekable(self) -> bool:
        return self.buffer._is_seekable()

    async def isatty(self) -> bool:
        return self.buffer._isatty()

    def detach(self) -> BinaryBuffer:
        """Returns the binary buffer and leaves this object unusable. Text
        is handed to the buffer as it is written, so nothing is lost and
        nothing needs awaiting (the buffer keeps its own unflushed bytes)."""
        buffer = self.buffer
        self._buffer = None
        return buffer

    def _check_open(self) -> None:
        if self.buffer.closed:
            raise ValueError("I/O operation on closed file.")

    def _check_readable(self) -> Decoder:
        self._check_open()
        if self._decoder is None:
            raise io.UnsupportedOperation("not readable")
        return self._decoder

    def _check_writable(self) -> codecs.IncrementalEncoder:
        self._check_open()
        if self._encoder is None:
            raise io.UnsupportedOperation("not writable")
        return self._encoder

    def _check_seekable(self) -> None:
        self._check_open()
        if not self._telling:
            raise io.UnsupportedOperation("underlying stream is not seekable")

    # -- reading ---------------------------------------------------------------

    def _forget_reading(self) -> None:
        self._decoded, self._used, self._snapshot = "", 0, None

    async def _read_chunk(self) -> bool:
        """Decodes the next chunk of the buffer; False at the end of the file."""
        decoder = self._check_readable()
        if self._used == len(self._decoded):
            # Everything decoded has been read: here is a new restart point.
            self._decoded, self._used = "", 0
            if self._telling:
                pending, flags = decoder.getstate()
                self._snapshot = (self._seen(flags), [pending] if pending else [])
        data = await self.buffer.read1(CHUNK_SIZE)
        self._decoded += decoder.decode(data, final=not data)
        if data and self._snapshot is not None:
            self._snapshot[1].append(data)
        return bool(data)

    def _take(self, end: int) -> str:
        text = self._decoded[self._used:end]
        self._used = end
        return text

    async def read(self, size: SupportsIndex | None = -1) -> str:
        decoder = self._check_readable()
        size = _size(size)
        if size < 0:
            rest = self._take(len(self._decoded))
            text = rest + decoder.decode(await self.buffer.read(), final=True)
            self._forget_reading()
            return text
        while len(self._decoded) - self._used < size:
            if not await self._read_chunk():
                break
        return self._take(min(self._used + size, len(self._decoded)))

    def _line_end(self, text: str, start: int) -> int:
        """The index just past the first line ending in text[start:], or -1."""
        if not self._universal or self._translate_in:
            found = text.find(self._terminator, start)
            return -1 if found < 0 else found + len(self._terminator)
        # newline='': any of \r, \n, \r\n ends a line, untranslated. A '\r'
        # last in text is final: the newline decoder holds one back otherwise.
        lf = text.find("\n", start)
        cr = text.find("\r", start, lf if lf >= 0 else len(text))
        if cr >= 0:
            return cr + 2 if text.startswith("\n", cr + 1) else cr + 1
        return -1 if lf < 0 else lf + 1

    async def readline(self, size: SupportsIndex | None = -1) -> str:
        self._check_readable()
        size = _size(size)
        parts: list[str] = []
        total, at_end = 0, False
        while True:
            text, start = self._decoded, self._used
            stop = len(text) if size < 0 else min(len(text), start + size - total)
            end = self._line_end(text, start)
            if end >= 0:
                parts.append(self._take(min(end, stop)))
                break
            if at_end or (size >= 0 and total + stop - start >= size):
                parts.append(self._take(stop))
                break
            # No line end yet: keep what there is (but a '\r' that a '\n'
            # may follow) and decode on.
            keep = len(text)
            if self._terminator == "\r\n" and text.endswith("\r", start):
                keep -= 1
            total += keep - start
            parts.append(self._take(keep))
            at_end = not await self._read_chunk()
        return "".join(parts)

    async def readlines(self, hint: SupportsIndex | None = -1) -> list[str]:
        hint = _size(hint)
        lines: list[str] = []
        total = 0
        while line := await self.readline():
            lines.append(line)
            total += len(line)
            if 0 < hint < total:            # as io: once past the hint
                break
        return lines

    def __aiter__(self) -> Self:
        self._check_open()
        return self

    async def __anext__(self) -> str:
        line = await self.readline()
        if not line:
            raise StopAsyncIteration
        return line

    # -- writing -------------------------------------------------------------

    async def write(self, text: str) -> int:
        encoder = self._check_writable()
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        length = len(text)
        has_lf = "\n" in text
        if has_lf and self._translate_out:
            text = text.replace("\n", self._write_newline)
        if self._decoded or self._snapshot is not None:
            await self._move_to_reading_point()
        data = encoder.encode(text)
        await self.buffer.write(data)
        if self._line_buffering and (has_lf or "\r" in text):
            await self.buffer.flush()
        if self._decoder is not None:
            self._decoder.reset()
        return length

    async def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            await self.write(line)

    async def _move_to_reading_point(self) -> None:
        """Puts the buffer where reading stands, past what was read ahead."""
        if not self._telling:
            self._forget_reading()
            return
        position, _, skip = await self._reading_point()
        if skip and self._snapshot is not None:     # skip > 0 comes from a snapshot
            flags, chunks = self._snapshot
            data = b"".join(chunks)
            start = (await self.buffer.tell()) - len(data)
            end = textpos.final_offset(self._scratch_decoder(), flags, data,
                                       self._used, position - start)
            if end is None:
                raise io.UnsupportedOperation(
                    "can't write here: the read position is inside one "
                    f"{self._encoding} decoding step; seek() to a line start first")
            position = start + end
        self._forget_reading()
        await self.buffer.seek(position)
        self._position_encoder(position)

    # -- positions ------------------------------------------------------------

    def _scratch_decoder(self) -> Decoder:
        if self._scratch is None:
            self._scratch = self._make_decoder()
        return self._scratch

    def _seen(self, flags: int) -> int:
        if self._guarded:
            states = _SEEN_STATES[self._codec.name]
            if len(states) < 4096:
                states.add(flags >> 1 if self._universal else flags)
        return flags

    def _safe_flags(self, flags: int) -> int:
        """flags, or ValueError where a CJK decoder never produced them; a
        plain byte position (flags 0) there means the codec's start state."""
        if not self._guarded:
            return flags
        inner = flags >> 1 if self._universal else flags
        if inner in _SEEN_STATES[self._codec.name]:
            return flags
        if inner:
            raise ValueError("seek(): this cookie's decoder state did not come "
                             f"from tell() on a {self._codec.name} file")
        return self._start_flags() | flags

    def _start_flags(self) -> int:
        if self._fresh_flags is None:
            self._fresh_flags = self._seen(self._make_decoder().getstate()[1])
        return self._fresh_flags

    async def _reading_point(self) -> tuple[int, int, int]:
        """(byte position, decoder flags, characters to skip) of where
        reading stands."""
        position = await self.buffer.tell()
        if self._decoder is None:
            return position, 0, 0
        if self._snapshot is None:
            # Nothing read ahead: the decoder's state is the state here.
            pending, flags = self._decoder.getstate()
            return position - len(pending), self._seen(flags), 0
        flags, chunks = self._snapshot
        if len(chunks) > 1:
            chunks[:] = [b"".join(chunks)]
        data = chunks[0] if chunks else b""
        start = position - len(data)
        if self._used == 0:
            return start, flags, 0
        if self._used == len(self._decoded):
            pending, now = self._decoder.getstate()
            if not pending:
                return position, self._seen(now), 0
        offset, flags, skip = textpos.locate(
            self._scratch_decoder(), flags, data, self._used,
            len(data) / max(1, len(self._decoded)))
        return start + offset, self._seen(flags), skip

    async def tell(self) -> int:
        """An opaque cookie for seek(); the byte position wherever the
        decoder is in its plain state (see aiouring.textpos)."""
        self._check_seekable()
        await self.buffer.flush()      # as the built-in: what was written is out
        position, flags, skip = await self._reading_point()
        if self._decoder is None:
            return position
        return textpos.pack(position, flags, skip, self._start_flags())

    async def seek(self, cookie: SupportsIndex, whence: int = os.SEEK_SET) -> int:
        self._check_seekable()
        cookie = operator.index(cookie)
        if whence == os.SEEK_CUR:
            if cookie != 0:
                raise io.UnsupportedOperation("can't do nonzero cur-relative seeks")
            cookie = await self.tell()
        elif whence == os.SEEK_END:
            if cookie != 0:
                raise io.UnsupportedOperation("can't do nonzero end-relative seeks")
            await self.flush()
            position = await self.buffer.seek(0, os.SEEK_END)
            self._forget_reading()
            if self._decoder is not None:
                self._decoder.reset()
            self._position_encoder(position)
            return position
        elif whence != os.SEEK_SET:
            raise ValueError(f"invalid whence ({whence}, should be 0, 1 or 2)")
        if cookie < 0:
            raise ValueError(f"negative seek position {cookie}")
        await self.flush()
        position, flags, skip, restart = textpos.unpack(cookie, self._start_flags())
        await self.buffer.seek(position)
        self._forget_reading()
        self._position_encoder(cookie)
        if self._decoder is None:
            return cookie
        if restart:
            self._decoder.reset()
        else:
            self._decoder.setstate((b"", self._safe_flags(flags)))
        if skip:
            while len(self._decoded) < skip and await self._read_chunk():
                pass
            if len(self._decoded) < skip:
                raise OSError("can't restore logical file position")
            self._used = skip
        return cookie

    def _position_encoder(self, where: int) -> None:
        if self._encoder is None:
            return
        if where:
            self._encoder.setstate(0)   # a BOM belongs at the start of the file only
        else:
            self._encoder.reset()

    async def truncate(self, pos: int | None = None) -> int:
        await self.flush()
        if pos is None:
            pos = await self.tell()
        return await self.buffer.truncate(pos)

    # -- the rest ----------------------------------------------------------------

    async def flush(self) -> None:
        await self.buffer.flush()

    async def close(self) -> None:
        buffer = self.buffer
        if buffer.closed:
            return
        try:
            await buffer.flush()
        finally:
            await buffer.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def reconfigure(self, *, encoding: str | None = None, errors: str | None = None,
                          newline: str | None | EllipsisType = Ellipsis,
                          line_buffering: bool | None = None,
                          write_through: bool | None = None) -> None:
        """As TextIOWrapper.reconfigure(); the encoding and newline can only
        change before the first read."""
        if (self._decoded or self._snapshot is not None) and (
                encoding is not None or newline is not Ellipsis):
            raise io.UnsupportedOperation(
                "It is not possible to set the encoding or newline of stream "
                "after the first read")
        if newline is not Ellipsis and newline not in _NEWLINES:
            raise ValueError(f"illegal newline value: {newline!r}")
        await self.flush()
        if encoding is not None:
            encoding = _resolve_encoding(encoding)
            self._codec = self._lookup(encoding)
            self._guarded = _is_multibyte(self._codec)
            self._encoding = encoding
            self._errors = "strict" if errors is None else errors
        elif errors is not None:
            self._errors = errors
        if newline is not Ellipsis:
            self._set_newline(newline)
        if line_buffering is not None:
            self._line_buffering = bool(line_buffering)
        if write_through is not None:
            self._write_through = bool(write_through)
        if encoding is not None or errors is not None or newline is not Ellipsis:
            self._scratch = self._fresh_flags = None
            if self._decoder is not None:
                self._decoder = self._make_decoder()
            if self._encoder is not None:
                self._encoder = self._codec.incrementalencoder(self._errors)
                self._position_encoder(self._telling and self.buffer._tell())

    def __repr__(self) -> str:
        try:
            name = f" name={self.name!r}"
        except (AttributeError, ValueError):
            name = ""
        return (f"<aiouring.AsyncTextIOWrapper{name} mode={self.mode!r} "
                f"encoding={self._encoding!r}>")

"""aiouring.stdin, stdout, stderr and their _bytes forms, as aiofiles has
them: async access to sys.stdin/stdout/stderr (and their .buffer), looked up
at each call, so redirect_stdout() and test capture apply, and output
interleaves with print() as it would from the same thread.

Each call runs in a daemon thread of its stream's own (stdin; stdout and
stdout_bytes together; stderr and stderr_bytes together), so calls on one
stream happen in the order they were made, a read of stdin that waits
for input holds up neither the loop nor output, and it does not keep the
interpreter from exiting. A cancelled call that has not started does not
run; one that has cannot be stopped and finishes in its thread.
"""

from __future__ import annotations

import asyncio
import functools
import queue
import sys
import threading
from collections.abc import Callable, Iterable
from typing import IO, TYPE_CHECKING, Any, AnyStr, BinaryIO, Generic, Self, TextIO

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["stdin", "stdout", "stderr", "stdin_bytes", "stdout_bytes", "stderr_bytes"]

# A call for a stream's thread: (its loop, its future, func, args, kwargs).
_Call = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[..., Any],
              tuple[Any, ...], dict[str, Any]]


class _SerialWorker:
    """One daemon thread that runs the calls given to it, in order."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._calls: queue.SimpleQueue[_Call] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, func: Callable[..., Any], args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, daemon=True,
                                                name=f"aiouring-{self._name}")
                self._thread.start()
        self._calls.put((loop, future, func, args, kwargs))
        return future

    def _work(self) -> None:
        while True:
            loop, future, func, args, kwargs = self._calls.get()
            if future.cancelled():      # cancelled before its turn: skipped
                continue
            outcome: tuple[bool, Any]
            try:
                outcome = (True, func(*args, **kwargs))
            except BaseException as exc:
                outcome = (False, exc)
            try:
                loop.call_soon_threadsafe(_resolve, future, outcome)
            except RuntimeError:        # its loop is closed
                pass


def _resolve(future: asyncio.Future[Any], outcome: tuple[bool, Any]) -> None:
    if future.cancelled():
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


_workers = {name: _SerialWorker(name) for name in ("stdin", "stdout", "stderr")}


def _delegated(name: str) -> Callable[..., Any]:
    async def method(self: AsyncStandardStream[Any], *args: Any, **kwargs: Any) -> Any:
        return await self._worker.submit(getattr(self._stream(), name), args, kwargs)
    method.__name__ = name
    method.__doc__ = f"The stream's {name}(), in the stream's thread."
    return method


def _direct(name: str) -> Callable[..., Any]:
    def method(self: AsyncStandardStream[Any], *args: Any, **kwargs: Any) -> Any:
        return getattr(self._stream(), name)(*args, **kwargs)
    method.__name__ = name
    return method


def _attribute(name: str) -> property:
    return property(lambda self: getattr(self._stream(), name))


class AsyncStandardStream(Generic[AnyStr]):
    """The common part: what is looked up, and async iteration by lines."""

    def __init__(self, label: str, lookup: Callable[[], IO[AnyStr]],
                 worker: _SerialWorker) -> None:
        self._label = label
        self._lookup: Callable[[], IO[AnyStr]] = lookup
        self._worker = worker

    def _stream(self) -> IO[AnyStr]:
        return self._lookup()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> AnyStr:
        line = await self.readline()
        if not line:
            raise StopAsyncIteration
        return line

    def __repr__(self) -> str:
        return f"<aiouring {self._label}>"

    if TYPE_CHECKING:
        # Set below, from the stream's own methods (as the io module has them).
        async def close(self) -> None: ...
        async def flush(self) -> None: ...
        async def isatty(self) -> bool: ...
        async def read(self, size: int = -1, /) -> AnyStr: ...
        async def readline(self, size: int = -1, /) -> AnyStr: ...
        async def readlines(self, hint: int = -1, /) -> list[AnyStr]: ...
        async def seek(self, offset: int, whence: int = 0, /) -> int: ...
        async def seekable(self) -> bool: ...
        async def tell(self) -> int: ...
        async def truncate(self, size: int | None = None, /) -> int: ...
        async def writable(self) -> bool: ...
        async def write(self, data: AnyStr, /) -> int: ...
        async def writelines(self, lines: Iterable[AnyStr], /) -> None: ...
        def fileno(self) -> int: ...
        @property
        def closed(self) -> bool: ...
        @property
        def name(self) -> Any: ...
        @property
        def mode(self) -> str: ...


_ASYNC_COMMON = ("close", "flush", "isatty", "read", "readline", "readlines", "seek",
                 "seekable", "tell", "truncate", "writable", "write", "writelines")


class AsyncStandardText(AsyncStandardStream[str]):
    """sys.stdin/stdout/stderr, asynchronously."""

    if TYPE_CHECKING:
        async def readable(self) -> bool: ...
        def detach(self) -> BinaryIO: ...
        @property
        def buffer(self) -> BinaryIO: ...
        @property
        def encoding(self) -> str: ...
        @property
        def errors(self) -> str | None: ...
        @property
        def line_buffering(self) -> bool: ...
        @property
        def newlines(self) -> Any: ...


class AsyncStandardBytes(AsyncStandardStream[bytes]):
    """sys.stdin/stdout/stderr .buffer, asynchronously."""

    if TYPE_CHECKING:
        async def read1(self, size: int = -1, /) -> bytes: ...
        async def readinto(self, buffer: WriteableBuffer, /) -> int: ...
        def readable(self) -> bool: ...
        def detach(self) -> Any: ...
        @property
        def raw(self) -> Any: ...


for _name in _ASYNC_COMMON:
    setattr(AsyncStandardText, _name, _delegated(_name))
    setattr(AsyncStandardBytes, _name, _delegated(_name))
for _name in ("read1", "readinto"):
    setattr(AsyncStandardBytes, _name, _delegated(_name))
# As in aiofiles: readable() is a coroutine on text streams, plain on bytes.
# (setattr: the classes declare these for type checkers only.)
setattr(AsyncStandardText, "readable", _delegated("readable"))  # noqa: B010
setattr(AsyncStandardBytes, "readable", _direct("readable"))  # noqa: B010
for _name in ("detach", "fileno"):
    setattr(AsyncStandardText, _name, _direct(_name))
    setattr(AsyncStandardBytes, _name, _direct(_name))
for _name in ("buffer", "closed", "encoding", "errors", "line_buffering", "newlines",
              "name", "mode"):
    setattr(AsyncStandardText, _name, _attribute(_name))
for _name in ("closed", "raw", "name", "mode"):
    setattr(AsyncStandardBytes, _name, _attribute(_name))
del _name


def _text(name: str) -> Callable[[], TextIO]:
    return functools.partial(getattr, sys, name)


def _bytes(name: str) -> Callable[[], BinaryIO]:
    return lambda: getattr(sys, name).buffer



stdin = AsyncStandardText("sys.stdin", _text("stdin"), _workers["stdin"])
stdout = AsyncStandardText("sys.stdout", _text("stdout"), _workers["stdout"])
stderr = AsyncStandardText("sys.stderr", _text("stderr"), _workers["stderr"])
stdin_bytes = AsyncStandardBytes("sys.stdin.buffer", _bytes("stdin"), _workers["stdin"])
stdout_bytes = AsyncStandardBytes("sys.stdout.buffer", _bytes("stdout"), _workers["stdout"])
stderr_bytes = AsyncStandardBytes("sys.stderr.buffer", _bytes("stderr"), _workers["stderr"])

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

import asyncio
import functools
import queue
import sys
import threading

__all__ = ["stdin", "stdout", "stderr", "stdin_bytes", "stdout_bytes", "stderr_bytes"]


class _SerialWorker:
    """One daemon thread that runs the calls given to it, in order."""

    def __init__(self, name):
        self._name = name
        self._calls = queue.SimpleQueue()
        self._thread = None
        self._lock = threading.Lock()

    def submit(self, func, args, kwargs):
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, daemon=True,
                                                name=f"aiouring-{self._name}")
                self._thread.start()
        self._calls.put((loop, future, func, args, kwargs))
        return future

    def _work(self):
        while True:
            loop, future, func, args, kwargs = self._calls.get()
            if future.cancelled():      # cancelled before its turn: skipped
                continue
            try:
                outcome = (True, func(*args, **kwargs))
            except BaseException as exc:
                outcome = (False, exc)
            try:
                loop.call_soon_threadsafe(_resolve, future, outcome)
            except RuntimeError:        # its loop is closed
                pass


def _resolve(future, outcome):
    if future.cancelled():
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


_workers = {name: _SerialWorker(name) for name in ("stdin", "stdout", "stderr")}


def _delegated(name):
    async def method(self, *args, **kwargs):
        return await self._worker.submit(getattr(self._stream(), name), args, kwargs)
    method.__name__ = name
    method.__doc__ = f"The stream's {name}(), in the stream's thread."
    return method


def _direct(name):
    def method(self, *args, **kwargs):
        return getattr(self._stream(), name)(*args, **kwargs)
    method.__name__ = name
    return method


def _attribute(name):
    return property(lambda self: getattr(self._stream(), name))


class AsyncStandardStream:
    """The common part: what is looked up, and async iteration by lines."""

    def __init__(self, label, lookup, worker):
        self._label = label
        self._lookup = lookup
        self._worker = worker

    def _stream(self):
        return self._lookup()

    def __aiter__(self):
        return self

    async def __anext__(self):
        line = await self.readline()
        if not line:
            raise StopAsyncIteration
        return line

    def __repr__(self):
        return f"<aiouring {self._label}>"


_ASYNC_COMMON = ("close", "flush", "isatty", "read", "readline", "readlines", "seek",
                 "seekable", "tell", "truncate", "writable", "write", "writelines")


class AsyncStandardText(AsyncStandardStream):
    """sys.stdin/stdout/stderr, asynchronously."""


class AsyncStandardBytes(AsyncStandardStream):
    """sys.stdin/stdout/stderr .buffer, asynchronously."""


for _name in _ASYNC_COMMON:
    setattr(AsyncStandardText, _name, _delegated(_name))
    setattr(AsyncStandardBytes, _name, _delegated(_name))
for _name in ("read1", "readinto"):
    setattr(AsyncStandardBytes, _name, _delegated(_name))
# As in aiofiles: readable() is a coroutine on text streams, plain on bytes.
setattr(AsyncStandardText, "readable", _delegated("readable"))
setattr(AsyncStandardBytes, "readable", _direct("readable"))
for _name in ("detach", "fileno"):
    setattr(AsyncStandardText, _name, _direct(_name))
    setattr(AsyncStandardBytes, _name, _direct(_name))
for _name in ("buffer", "closed", "encoding", "errors", "line_buffering", "newlines",
              "name", "mode"):
    setattr(AsyncStandardText, _name, _attribute(_name))
for _name in ("closed", "raw", "name", "mode"):
    setattr(AsyncStandardBytes, _name, _attribute(_name))
del _name


def _text(name):
    return functools.partial(getattr, sys, name)


def _bytes(name):
    return lambda: getattr(sys, name).buffer


stdin = AsyncStandardText("sys.stdin", _text("stdin"), _workers["stdin"])
stdout = AsyncStandardText("sys.stdout", _text("stdout"), _workers["stdout"])
stderr = AsyncStandardText("sys.stderr", _text("stderr"), _workers["stderr"])
stdin_bytes = AsyncStandardBytes("sys.stdin.buffer", _bytes("stdin"), _workers["stdin"])
stdout_bytes = AsyncStandardBytes("sys.stdout.buffer", _bytes("stdout"), _workers["stdout"])
stderr_bytes = AsyncStandardBytes("sys.stderr.buffer", _bytes("stderr"), _workers["stderr"])

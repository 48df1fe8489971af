"""aiouring: a drop-in asyncio event loop driven by Linux io_uring.

    import asyncio, aiouring
    asyncio.run(main(), loop_factory=aiouring.new_event_loop)   # Python 3.12+
    aiouring.run(main())                       # the same, on Python 3.11 too
    with asyncio.Runner(loop_factory=aiouring.new_event_loop) as runner: ...

Async files have aiofiles' namespace (``import aiouring as aiofiles``):
open, os, ospath, tempfile, stdin/stdout/stderr(_bytes); on any loop.

PYTEST_DONT_REWRITE: the package ships a pytest plugin, so pytest would
rewrite its asserts and warn when aiouring was imported before pytest
started (from a .pth file or sitecustomize); a suite that turns warnings
into errors then stops at start-up. There is nothing here to rewrite.
"""

import asyncio
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Literal, NoReturn, TypeVar, overload

from . import fallback as _fallback
from . import fs, ops, os, ospath, tempfile
from .errors import (CANCELLED, ChainCancelledError, ChainError,
                     ChainTimeoutError, RingUnavailableError)
from .features import features
from .files import open, running_loop
from .fs import read_bytes, read_text, write_bytes, write_text
from .loop import Loop
from .stdio import stderr, stderr_bytes, stdin, stdin_bytes, stdout, stdout_bytes

__all__ = ["Loop", "RingUnavailableError", "features", "new_event_loop", "run",
           "open", "chain", "ops", "fs",
           "read_bytes", "read_text", "write_bytes", "write_text", "os", "ospath",
           "tempfile", "stdin", "stdout", "stderr", "stdin_bytes", "stdout_bytes",
           "stderr_bytes",
           "ChainError", "ChainTimeoutError", "ChainCancelledError", "CANCELLED"]

# asyncio's policies exist up to Python 3.15, and so do aiouring's.
if sys.version_info < (3, 16):
    from .policy import EventLoopPolicy, install
    __all__ += ["EventLoopPolicy", "install"]

__version__ = "0.1.0"

_T = TypeVar("_T")


# Typed as the aiouring loop unless a fallback is asked for by argument
# (AIOURING_FALLBACK is a deployment switch the types cannot see).
@overload
def new_event_loop(*, fallback: Literal[False] | None = None) -> Loop: ...
@overload
def new_event_loop(*, fallback: str) -> asyncio.AbstractEventLoop: ...
def new_event_loop(*, fallback: str | Literal[False] | None = None) -> asyncio.AbstractEventLoop:
    """Returns a new aiouring event loop: the loop factory to give
    asyncio.run(), asyncio.Runner, uvicorn (``--loop
    aiouring:new_event_loop``), anyio and pytest-asyncio.

    Raises RingUnavailableError (an OSError whose message says why and how
    to fix it) when this machine refuses io_uring, unless a fallback is
    asked for: ``fallback="uvloop"`` (uvloop's loop if installed, else
    asyncio's) or ``"asyncio"``; the default None reads the environment
    variable AIOURING_FALLBACK, and False never falls back. A fallback logs
    the reason once per process (logger "aiouring", level WARNING)."""
    kind = _fallback.choice(fallback)
    try:
        return Loop()
    except RingUnavailableError as exc:
        if kind is None:
            raise
        return _fallback.fallback_loop(kind, exc)


def run(main: Coroutine[Any, Any, _T], *,
        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
        debug: bool | None = None, fallback: str | Literal[False] | None = None,
        **run_kwargs: Any) -> _T:
    """Runs coroutine main on a new aiouring loop and closes the loop, as
    asyncio.run() does (Ctrl-C cancels main; asyncgens and the default
    executor are shut down). loop_factory replaces aiouring's own factory;
    fallback is new_event_loop()'s; other keywords go to asyncio.Runner."""
    if asyncio._get_running_loop() is not None:
        # Checked before a loop is made (asyncio.Runner checks it later).
        raise RuntimeError("aiouring.run() cannot be called from a running event loop")
    if loop_factory is None:
        _fallback.choice(fallback)
        loop_factory = lambda: new_event_loop(fallback=fallback)   # noqa: E731
    elif fallback is not None:
        raise TypeError("aiouring.run(): fallback applies to aiouring's own "
                        "loop factory, not to loop_factory")
    with asyncio.Runner(loop_factory=loop_factory, debug=debug, **run_kwargs) as runner:
        return runner.run(main)


def __getattr__(name: str) -> NoReturn:
    if name in ("install", "EventLoopPolicy"):
        raise AttributeError(
            f"aiouring.{name} went with asyncio's event loop policies in "
            "Python 3.16; use aiouring.run(main) or "
            "asyncio.run(main, loop_factory=aiouring.new_event_loop)")
    raise AttributeError(f"module 'aiouring' has no attribute {name!r}")


@overload
def chain(*steps: ops.Step, timeout: float | None = None,
          program: None = None) -> Coroutine[Any, Any, list[Any]]: ...
@overload
def chain(*steps: ops.Step, program: str, args: Sequence[int] = (),
          buffers: Sequence[Any] = (), files: Sequence[Any] = (), context: int = 0,
          max_steps: int | None = None, path: str | None = None) -> Awaitable[Any]: ...
def chain(*steps: ops.Step, timeout: float | None = None, program: str | None = None,
          args: Sequence[int] = (), buffers: Sequence[Any] = (), files: Sequence[Any] = (),
          context: int = 0, max_steps: int | None = None,
          path: str | None = None) -> Awaitable[Any]:
    """Submits steps (made by aiouring.ops) as one linked io_uring chain on
    the running aiouring loop; awaitable of the list of step results. See
    Loop.chain for failures, timeouts and cancellation.

    With program= (a chain program's name, see aiouring.bpf), the program is
    attached to the chain: every step's completion goes to it (tag
    CHAIN_LINKED_TAG(i)), and it ends the chain with its result or goes on
    with requests of its own; args, buffers, files, context, max_steps and
    path are aiouring.bpf.run()'s. Direct opens of the steps become the
    program's direct descriptors, in order. The awaitable gives the
    program's ChainResult; its .linked holds the steps' outcomes."""
    if program is None:
        if args or buffers or files or context or max_steps is not None or path is not None:
            raise TypeError("args, buffers, files, context, max_steps and path are "
                            "for a chain with a program (program=)")
        return running_loop().chain(*steps, timeout=timeout)
    if timeout is not None:
        raise TypeError("a chain with a program takes no timeout=: bound its steps with "
                        "ops.link_timeout(), and the program's requests with "
                        "chain_link_timeout()")
    from . import bpf
    running: Awaitable[Any] = bpf.start(program, *args, buffers=buffers, files=files,
                                        context=context, max_steps=max_steps, path=path,
                                        linked=steps)
    return running

"""aiouring: a drop-in asyncio event loop driven by Linux io_uring.

    import aiouring
    aiouring.run(main())            # like asyncio.run(), on an io_uring loop
    aiouring.install()              # make asyncio use aiouring everywhere

Async files have aiofiles' namespace (``import aiouring as aiofiles``):
open, os, ospath, tempfile, stdin/stdout/stderr(_bytes); on any loop.
"""

import asyncio

from . import fs, ops, os, ospath, tempfile
from .errors import (CANCELLED, ChainCancelledError, ChainError,
                     ChainTimeoutError, RingUnavailableError)
from .features import features
from .files import open, running_loop
from .fs import read_bytes, read_text, write_bytes, write_text
from .loop import Loop
from .stdio import stderr, stderr_bytes, stdin, stdin_bytes, stdout, stdout_bytes

__all__ = ["Loop", "EventLoopPolicy", "RingUnavailableError", "features",
           "install", "new_event_loop", "run", "open", "chain", "ops", "fs",
           "read_bytes", "read_text", "write_bytes", "write_text", "os", "ospath",
           "tempfile", "stdin", "stdout", "stderr", "stdin_bytes", "stdout_bytes",
           "stderr_bytes",
           "ChainError", "ChainTimeoutError", "ChainCancelledError", "CANCELLED"]

__version__ = "0.1.0"


def new_event_loop():
    """Returns a new aiouring event loop.

    Raises RingUnavailableError (an OSError) when io_uring cannot be used."""
    return Loop()


class EventLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """An event loop policy whose loops are aiouring loops."""

    def _loop_factory(self):
        return new_event_loop()


def install():
    """Makes asyncio create aiouring loops (sets EventLoopPolicy)."""
    asyncio.set_event_loop_policy(EventLoopPolicy())


def run(main, *, debug=None):
    """Runs coroutine main on a new aiouring loop, as asyncio.run() does,
    and closes the loop. Ctrl-C cancels main, as under asyncio.run()."""
    with asyncio.Runner(debug=debug, loop_factory=new_event_loop) as runner:
        return runner.run(main)


def chain(*steps, timeout=None):
    """Submits steps (made by aiouring.ops) as one linked io_uring chain on
    the running aiouring loop; awaitable of the list of step results. See
    Loop.chain for failures, timeouts and cancellation."""
    return running_loop().chain(*steps, timeout=timeout)

"""The opt-in fallback for machines that refuse io_uring.

Containers whose seccomp profile refuses io_uring_setup(2), and hosts with
``kernel.io_uring_disabled`` set, cannot run an aiouring loop. By default
that is an error (RingUnavailableError) so a service never runs on another
loop without its operator knowing. A service that must start everywhere
asks for a fallback, per call (``new_event_loop(fallback="uvloop")``) or
per process (``AIOURING_FALLBACK=uvloop``); it then gets uvloop's loop (if
uvloop is installed) or asyncio's, and the reason is logged once.
"""

import asyncio
import logging
import os
import threading
from typing import Literal

__all__ = ["ENV", "CHOICES", "choice", "fallback_loop"]

ENV = "AIOURING_FALLBACK"
# "uvloop" falls back to asyncio's loop when uvloop is not installed.
CHOICES = ("uvloop", "asyncio")

logger = logging.getLogger("aiouring")

_logged = False
_log_lock = threading.Lock()


def choice(fallback: str | Literal[False] | None) -> str | None:
    """The fallback to use: fallback itself, or AIOURING_FALLBACK when it is
    None. False (or an empty variable) means none. Raises ValueError for
    anything else, whether or not io_uring works here, so that a typo shows
    on the first machine rather than on the one that needs the fallback."""
    source = "fallback="
    if fallback is None:
        fallback = os.environ.get(ENV, "").strip()
        source = f"{ENV}="
    if fallback is False or fallback == "":
        return None
    if fallback not in CHOICES:
        raise ValueError(f"aiouring: {source}{fallback!r} is not a fallback; "
                         f"choose one of {', '.join(CHOICES)} (or leave it unset "
                         f"to raise RingUnavailableError)")
    return fallback


def _uvloop_loop() -> asyncio.AbstractEventLoop | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop()


def fallback_loop(kind: str, error: BaseException) -> asyncio.AbstractEventLoop:
    """A new loop of the chosen kind, standing in for an aiouring loop that
    could not be created because of error (a RingUnavailableError)."""
    loop = _uvloop_loop() if kind == "uvloop" else None
    if loop is None:
        # Not asyncio.new_event_loop(): with aiouring's policy installed
        # that would come straight back here.
        loop = asyncio.SelectorEventLoop()
    _log_once(kind, error, loop)
    return loop


def _log_once(kind: str, error: BaseException, loop: asyncio.AbstractEventLoop) -> None:
    global _logged
    with _log_lock:
        if _logged:
            return
        _logged = True
    name = f"{type(loop).__module__}.{type(loop).__qualname__}"
    logger.warning("io_uring is unavailable, so this process runs on %s "
                   "(fallback %r): %s", name, kind, error)

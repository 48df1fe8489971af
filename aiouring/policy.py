"""aiouring's event loop policy, for the Pythons that still have policies.

Python 3.14 deprecates asyncio's policy system and 3.16 removes it; loop
factories (``asyncio.run(main, loop_factory=aiouring.new_event_loop)``,
``asyncio.Runner``, ``aiouring.run``) replace it. Until then the policy and
``install()`` keep working without warnings: on 3.14 and 3.15 they are
built on asyncio's own non-deprecated internals rather than on the
deprecated public names, which warn on every access.
"""

import asyncio
import sys
from typing import Literal


__all__ = ["EventLoopPolicy", "install"]

if sys.version_info >= (3, 16):
    raise ImportError("asyncio has no event loop policies from Python 3.16 on; "
                      "use aiouring.run(main) or asyncio.run(main, "
                      "loop_factory=aiouring.new_event_loop)")

if sys.version_info >= (3, 14):
    _BasePolicy = asyncio.events._BaseDefaultEventLoopPolicy
    _set_policy = asyncio.events._set_event_loop_policy
else:
    _BasePolicy = asyncio.DefaultEventLoopPolicy
    _set_policy = asyncio.set_event_loop_policy


class EventLoopPolicy(_BasePolicy):
    """An asyncio event loop policy whose new loops are aiouring loops
    (Python 3.11 to 3.15). ``fallback`` is passed to new_event_loop()."""

    def __init__(self, *, fallback: str | Literal[False] | None = None) -> None:
        from .fallback import choice
        choice(fallback)            # a bad value fails here, not at first use
        super().__init__()
        self._fallback = fallback

    def _loop_factory(self) -> asyncio.AbstractEventLoop:
        from . import new_event_loop
        return new_event_loop(fallback=self._fallback)


def install(*, fallback: str | Literal[False] | None = None) -> None:
    """Makes asyncio create aiouring loops everywhere (sets EventLoopPolicy),
    on Python 3.11 to 3.15. Prefer a loop factory: aiouring.run(main) or
    asyncio.run(main, loop_factory=aiouring.new_event_loop)."""
    _set_policy(EventLoopPolicy(fallback=fallback))

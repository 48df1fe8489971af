"""Makes asyncio's default loop an aiouring loop in every Python process of a
library-suite venv, when AIOURING_LIBSUITE_LOOP=aiouring.

Imported at interpreter start-up through a .pth file the harness writes into
the venv, so the library's own loop creation (asyncio.run, asyncio.Runner,
asyncio.new_event_loop, pytest plugins) gets aiouring without any change to
its tests, and so do the subprocesses its tests start. A test that resets
the policy (set_event_loop_policy(None)) gets aiouring's again. Code that
names asyncio.SelectorEventLoop explicitly keeps asyncio's: the pytest
plugin counts such loops, so a test that never ran on aiouring shows.
"""

import os

ENV_VAR = "AIOURING_LIBSUITE_LOOP"


def selected_loop():
    """'aiouring' or 'asyncio' (the default: asyncio's own policy)."""
    return os.environ.get(ENV_VAR, "asyncio")


def install():
    if selected_loop() != "aiouring":
        return
    import asyncio.events as events

    import aiouring

    def init_event_loop_policy():
        # asyncio calls this whenever the policy is looked up while unset.
        with events._lock:
            if events._event_loop_policy is None:
                events._event_loop_policy = aiouring.EventLoopPolicy()

    events._init_event_loop_policy = init_event_loop_policy
    events.set_event_loop_policy(None)


install()

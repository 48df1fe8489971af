"""gunicorn worker classes that run each worker process on an aiouring loop.

    gunicorn app:make_app --worker-class aiouring.gunicorn.AiohttpWorker      # aiohttp
    gunicorn app:asgi_app --worker-class aiouring.gunicorn.UvicornWorker      # ASGI

AiohttpWorker is aiohttp's GunicornWebWorker with the loop made by
aiouring.new_event_loop() (no event loop policy is involved). UvicornWorker
is uvicorn's gunicorn worker (from the uvicorn-worker package, or the older
uvicorn.workers) with ``loop="aiouring:new_event_loop"``. Both honour
AIOURING_FALLBACK. Each class is built on first access, so using one needs
only its own framework installed.
"""

import asyncio
from collections.abc import Callable

__all__ = ["AiohttpWorker", "UvicornWorker"]   # noqa: F822 (made by __getattr__)


def _aiohttp_worker() -> type:
    from aiohttp.worker import GunicornWebWorker
    from gunicorn.workers.base import Worker

    from . import new_event_loop

    class AiohttpWorker(GunicornWebWorker):
        """aiohttp's gunicorn worker on an aiouring loop."""

        def init_process(self) -> None:
            # Made after the fork, in the worker: a loop does not survive one.
            self.loop = new_event_loop()
            asyncio.set_event_loop(self.loop)
            # GunicornWebWorker.init_process would make an asyncio loop.
            Worker.init_process(self)

    return AiohttpWorker


def _uvicorn_worker() -> type:
    try:
        from uvicorn_worker import UvicornWorker as Base
    except ImportError:
        from uvicorn.workers import UvicornWorker as Base

    class UvicornWorker(Base):  # type: ignore[misc]  # Base has no type information
        """uvicorn's gunicorn worker on an aiouring loop."""

        CONFIG_KWARGS = {**Base.CONFIG_KWARGS, "loop": "aiouring:new_event_loop"}

    return UvicornWorker


_BUILDERS: dict[str, Callable[[], type]] = {"AiohttpWorker": _aiohttp_worker,
                                            "UvicornWorker": _uvicorn_worker}


def __getattr__(name: str) -> type:
    try:
        build = _BUILDERS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    cls = build()
    cls.__module__ = __name__
    globals()[name] = cls
    return cls

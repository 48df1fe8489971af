"""pytest plugin: run pytest-asyncio's async tests on aiouring.

Installed with aiouring (entry point ``pytest11``) and off until asked for:

    pytest --aiouring                        # every async test on aiouring
    pytest --aiouring-loops=asyncio,aiouring # every async test on each loop

or in the ini file: ``aiouring_loops = aiouring`` (or a comma-separated list
of ``aiouring``, ``asyncio``, ``uvloop``). It uses pytest-asyncio's
``pytest_asyncio_loop_factories`` hook where the installed pytest-asyncio
has it (1.5+), and its ``event_loop_policy`` fixture before that.

It also loads the ``abenchmark`` fixture (aiouring.benchmarking.plugin):
benchmarks of async code, measured on each of those loops and compared.
"""

import asyncio
from collections.abc import Callable

import pytest

import aiouring

# The async benchmark fixture and its per-loop report.
pytest_plugins = ("aiouring.benchmarking.plugin",)


LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def _uvloop_factory() -> asyncio.AbstractEventLoop:
    import uvloop
    return uvloop.new_event_loop()


LOOP_FACTORIES: dict[str, LoopFactory] = {
    "aiouring": aiouring.new_event_loop,
    # asyncio's own default loop, whatever policy is installed.
    "asyncio": asyncio.SelectorEventLoop,
    "uvloop": _uvloop_factory,
}


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """The LOOP_FACTORIES name of a loop's kind (its class for other kinds).
    aiouring's Loop subclasses asyncio's, so it is asked about first."""
    if isinstance(loop, aiouring.Loop):
        return "aiouring"
    if type(loop).__module__.partition(".")[0] == "uvloop":
        return "uvloop"
    if isinstance(loop, asyncio.BaseEventLoop):
        return "asyncio"
    return f"{type(loop).__module__}.{type(loop).__qualname__}"


def selected_loop_name(item: pytest.Item) -> str | None:
    """The name of the loop factory pytest-asyncio runs an item with, None
    when it uses its default (no loops selected)."""
    callspec = getattr(item, "callspec", None)
    factory = callspec.params.get("_asyncio_loop_factory") if callspec else None
    if factory is None:
        return None
    for name, known in LOOP_FACTORIES.items():
        if factory is known:
            return name
    named: str | None = getattr(factory, "loop_name", None)
    return named


def has_loop_factories_hook() -> bool:
    try:
        from pytest_asyncio.plugin import PytestAsyncioSpecs
    except ImportError:
        return False
    return hasattr(PytestAsyncioSpecs, "pytest_asyncio_loop_factories")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("aiouring", "aiouring event loop")
    group.addoption("--aiouring", dest="aiouring_loops", action="store_const",
                    const="aiouring", help="run async tests on the aiouring loop")
    group.addoption("--aiouring-loops", dest="aiouring_loops", metavar="NAMES",
                    help="run every async test once per loop: comma-separated "
                         f"names from {', '.join(LOOP_FACTORIES)}")
    parser.addini("aiouring_loops", "loops to run async tests on (as --aiouring-loops)",
                  default="")


def selected_loops(config: pytest.Config) -> list[str]:
    """The loop names asked for on the command line or in the ini file."""
    value: str = config.getoption("aiouring_loops", None) or config.getini("aiouring_loops")
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in LOOP_FACTORIES]
    if unknown:
        raise pytest.UsageError(
            f"aiouring: unknown loop(s) {', '.join(unknown)}; "
            f"choose from {', '.join(LOOP_FACTORIES)}")
    return names


class LoopFactories:
    """Registered only when loops were asked for: pytest-asyncio treats any
    implementation of its hook as the authority on loop factories."""

    def __init__(self, names: list[str]) -> None:
        self.factories = {name: LOOP_FACTORIES[name] for name in names}

    @pytest.hookimpl(optionalhook=True)
    def pytest_asyncio_loop_factories(self, config: pytest.Config,
                                      item: pytest.Item) -> dict[str, LoopFactory]:
        return self.factories


def pytest_configure(config: pytest.Config) -> None:
    names = selected_loops(config)      # rejects unknown names at start-up
    if names and has_loop_factories_hook():
        config.pluginmanager.register(LoopFactories(names), "aiouring-loop-factories")


if not has_loop_factories_hook():
    class _FactoryPolicy(asyncio.DefaultEventLoopPolicy):
        def __init__(self, factory: LoopFactory) -> None:
            super().__init__()
            self._factory = factory

        def new_event_loop(self) -> asyncio.AbstractEventLoop:
            return self._factory()

    @pytest.fixture
    def event_loop_policy(request: pytest.FixtureRequest) -> asyncio.AbstractEventLoopPolicy:
        """Older pytest-asyncio: the policy fixture picks the loop (the
        first selected one)."""
        names = selected_loops(request.config)
        if not names:
            return asyncio.get_event_loop_policy()
        return _FactoryPolicy(LOOP_FACTORIES[names[0]])

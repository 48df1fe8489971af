"""The libraries whose own test suites the harness runs, and how.

Each suite comes from the library's released sdist on PyPI (the tests ship
in it); the library itself is installed from PyPI at the same version, with
the test requirements its maintainers declare in that sdist. Nothing of a
library's code is kept in this repository.
"""

import dataclasses
import os
import tomllib


@dataclasses.dataclass(frozen=True)
class Library:
    name: str                   # the PyPI name
    version: str
    exercises: str              # what its suite puts the loop through
    install: tuple              # requirements installed besides the test ones
    # "requirements:PATH" (a pip requirements file in the sdist) or
    # "group:NAME" (a PEP 735 dependency group of its pyproject.toml).
    test_requirements: str
    pytest_args: tuple = ()
    # Test files to run (default: the suite's own testpaths).
    paths: tuple = ()
    timeout: int = 30           # per test, the same on both loops
    # Directories of the sdist that would shadow the installed package.
    shadowing: tuple = ()
    # Drop anyio-backend parametrizations other than plain asyncio.
    asyncio_backend_only: bool = False
    # Requirements of the declared set that are the library itself.
    exclude: tuple = ()

    @property
    def sdist_dir(self):
        return f"{self.name}-{self.version}"


LIBRARIES = {
    lib.name: lib for lib in [
        Library(
            name="aiohttp", version="3.14.5",
            exercises="HTTP client and server, web sockets, TLS, streams, "
                      "connectors, file responses (sendfile), run_app and signals",
            install=("aiohttp==3.14.5",),
            test_requirements="requirements:requirements/test.txt",
            # Its pytest.ini adds xdist, coverage and doctests of the package;
            # keep only what selects and checks tests.
            pytest_args=("-o", "addopts=", "--strict-markers",
                         "-m", "not dev_mode and not autobahn and not internal"),
            shadowing=("aiohttp",),
            # The modules that drive real sockets, servers and the loop; the
            # rest (parsers, cookie jars, mocked transports: ~4,000 tests)
            # would only triple the time.
            paths=tuple(f"tests/test_{name}.py" for name in (
                "client_functional", "web_functional", "web_sendfile_functional",
                "client_ws_functional", "web_websocket_functional", "run_app",
                "proxy_functional", "web_server", "test_utils", "connector",
                "web_urldispatcher", "web_middleware", "client_middleware",
                "streams", "web_app")),
        ),
        Library(
            name="anyio", version="4.16.0",
            exercises="TCP/UDP/Unix sockets, TLS streams, subprocesses, signals, "
                      "threads, cancellation scopes, file I/O (asyncio backend)",
            install=("anyio==4.16.0",),
            test_requirements="group:test",
            timeout=20,                 # its own pyproject's
            shadowing=("src",),
            asyncio_backend_only=True,
        ),
        Library(
            name="uvicorn", version="0.54.0",
            exercises="an ASGI server: HTTP/1.1 (h11, httptools), web sockets, "
                      "TLS, lifespan, reload and worker processes, signals",
            install=("uvicorn[standard]==0.54.0",),
            test_requirements="group:dev",
            pytest_args=("-n", "0"),    # its addopts ask for 8 xdist workers
            shadowing=("uvicorn",),
            exclude=("uvicorn",),
        ),
    ]
}


def test_requirements(lib, source_dir):
    """The test requirements lib declares in its sdist, as pip arguments."""
    kind, _, where = lib.test_requirements.partition(":")
    if kind == "requirements":
        return ["-r", os.path.join(source_dir, where)]
    if kind == "group":
        with open(os.path.join(source_dir, "pyproject.toml"), "rb") as f:
            groups = tomllib.load(f).get("dependency-groups", {})
        return [req for req in dependency_group(groups, where)
                if requirement_name(req) not in lib.exclude]
    raise ValueError(f"{lib.name}: unknown test_requirements {lib.test_requirements!r}")


def dependency_group(groups, name, seen=()):
    """The requirements of a PEP 735 group, its included groups expanded."""
    if name in seen:
        raise ValueError(f"dependency group {name!r} includes itself")
    requirements = []
    for entry in groups[name]:
        if isinstance(entry, dict):
            requirements += dependency_group(groups, entry["include-group"], seen + (name,))
        else:
            requirements.append(" ".join(entry.split()))
    return requirements


def requirement_name(requirement):
    """'uvicorn[standard]>=1; python_version...' -> 'uvicorn'."""
    name = requirement.strip()
    for stop in "[<>=!~;@ ":
        name = name.split(stop, 1)[0]
    return name.lower().replace("_", "-")

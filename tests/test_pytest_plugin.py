"""aiouring's pytest plugin makes pytest-asyncio run async tests on it."""

import pytest

TEST_FILE = """
import asyncio
import aiouring

async def test_loop_kind():
    loop = asyncio.get_running_loop()
    print("LOOP", type(loop).__module__, type(loop).__name__)
"""


@pytest.fixture
def project(pytester):
    pytester.makepyfile(test_loop=TEST_FILE)
    pytester.makeini("[pytest]\nasyncio_mode = auto\n"
                     "asyncio_default_fixture_loop_scope = function\n")
    return pytester


def loops_seen(result):
    return [line[line.index("LOOP "):].split()[1:3]
            for line in result.outlines if "LOOP " in line]


def test_off_by_default(project):
    result = project.runpytest_subprocess("-s")
    result.assert_outcomes(passed=1)
    assert loops_seen(result) == [["asyncio.unix_events", "_UnixSelectorEventLoop"]]


def test_flag_runs_async_tests_on_aiouring(project):
    result = project.runpytest_subprocess("-s", "--aiouring")
    result.assert_outcomes(passed=1)
    assert loops_seen(result) == [["aiouring.loop", "Loop"]]


def test_several_loops_from_the_ini_file(project):
    project.makeini("[pytest]\nasyncio_mode = auto\n"
                    "asyncio_default_fixture_loop_scope = function\n"
                    "aiouring_loops = asyncio,aiouring\n")
    result = project.runpytest_subprocess("-s", "-v")
    result.assert_outcomes(passed=2)
    assert sorted(loop[1] for loop in loops_seen(result)) == [
        "Loop", "_UnixSelectorEventLoop"]
    result.stdout.fnmatch_lines(["*test_loop_kind?asyncio?*", "*test_loop_kind?aiouring?*"])


def test_unknown_loop_is_a_usage_error(project):
    result = project.runpytest_subprocess("--aiouring-loops=nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown loop(s) nope*"])


def test_flag_gives_no_deprecation_warnings(project):
    # The plugin uses pytest-asyncio's loop factories, not the deprecated
    # event_loop_policy fixture override.
    result = project.runpytest_subprocess("-s", "--aiouring", "-W", "error")
    result.assert_outcomes(passed=1)
    assert loops_seen(result) == [["aiouring.loop", "Loop"]]


# pytest-asyncio's own way, without aiouring's plugin: a loop factories hook
# in conftest.py, and loop_scope="module" to share one loop in a module.
CONFTEST_WITH_HOOK = """
import aiouring

def pytest_asyncio_loop_factories(config, item):
    return {"aiouring": aiouring.new_event_loop}
"""

MODULE_SCOPED_TESTS = """
import asyncio
import aiouring
import pytest
import pytest_asyncio

pytestmark = pytest.mark.asyncio(loop_scope="module")
loops = []

@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def server_port():
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()

async def test_first(server_port):
    loops.append(asyncio.get_running_loop())
    reader, writer = await asyncio.open_connection("127.0.0.1", server_port)
    assert await reader.read() == b""
    writer.close()

async def test_second(server_port):
    loops.append(asyncio.get_running_loop())
    assert loops[0] is loops[1]
    assert isinstance(loops[0], aiouring.Loop)
"""


def test_loop_factories_hook_and_module_loop_scope(pytester):
    pytester.makeconftest(CONFTEST_WITH_HOOK)
    pytester.makepyfile(test_shared=MODULE_SCOPED_TESTS)
    pytester.makeini("[pytest]\nasyncio_mode = strict\n"
                     "asyncio_default_fixture_loop_scope = function\n")
    result = pytester.runpytest_subprocess("-v", "-W", "error")
    result.assert_outcomes(passed=2)      # test_second checks the loop


def test_importing_aiouring_before_pytest_starts_warns_nothing(project, tmp_path):
    """An installed aiouring carries a pytest plugin, so pytest marks the
    package for assert rewriting; imported earlier (a .pth file,
    sitecustomize), that must not warn: suites that turn warnings into
    errors would stop at start-up. A distribution's metadata is laid out
    here as a wheel writes it."""
    import os
    import subprocess
    import sys

    import aiouring
    site = tmp_path / "site"
    info = site / "aiouring_early-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: aiouring-early\nVersion: 1.0\n")
    # pytest marks every package a plugin's distribution holds; the entry
    # point's own module is a stand-in (the checkout's plugin is loaded once).
    (info / "entry_points.txt").write_text("[pytest11]\naiouring_early = early_plugin\n")
    (info / "RECORD").write_text("aiouring/__init__.py,,\nearly_plugin.py,,\n")
    (site / "early_plugin.py").write_text("")
    (site / "aiouring_early.pth").write_text("import aiouring\n")
    checkout = os.path.dirname(os.path.dirname(aiouring.__file__))
    code = ("import site, sys, pytest; site.addsitedir(sys.argv[1]); "
            "assert 'aiouring' in sys.modules; "
            "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', "
            "'-W', 'error::pytest.PytestAssertRewriteWarning']))")
    done = subprocess.run([sys.executable, "-c", code, str(site)], cwd=project.path,
                          capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": checkout})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout

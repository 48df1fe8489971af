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

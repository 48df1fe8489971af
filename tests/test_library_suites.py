"""The library-suite harness (tools/library_suites) on small suites of its
own: the loop switch, the per-test records and loop counts, hang and crash
recovery, and the comparison the report is made of. The real libraries'
suites are the harness's job (python tools/library_suites), not the suite's.
"""

import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from library_suites import report, suite_run, workspace  # noqa: E402
from library_suites.libraries import (Library, dependency_group,  # noqa: E402
                                      requirement_name)

pytestmark = pytest.mark.timeout(120)

AIOURING = report.AIOURING_LOOP
SELECTOR = "asyncio.unix_events._UnixSelectorEventLoop"

SUITE = '''
import asyncio, os, signal, time

def test_asyncio_run():
    async def main():
        return type(asyncio.get_running_loop()).__module__
    assert asyncio.run(main()) in ("asyncio.unix_events", "aiouring.loop")

def test_fails_on_aiouring():
    async def main():
        return type(asyncio.get_running_loop()).__module__
    assert asyncio.run(main()) != "aiouring.loop"

def test_explicit_selector_loop():
    loop = asyncio.SelectorEventLoop()
    try:
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()

def test_no_loop():
    assert True

def test_waits_forever_on_the_loop():
    async def main():
        await asyncio.get_running_loop().create_future()
    asyncio.run(main())

def test_hangs_past_the_timeout():
    # SIGALRM blocked: pytest-timeout's signal never arrives.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    time.sleep(60)

def test_kills_its_process():
    os.kill(os.getpid(), signal.SIGKILL)

def test_after_the_crash():
    assert True
'''


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """The tiny suite run by the harness once on each loop."""
    root = tmp_path_factory.mktemp("tiny")
    source = root / "src"
    source.mkdir()
    (source / "test_tiny.py").write_text(SUITE)
    lib = Library(name="tiny", version="0", exercises="", install=(),
                  test_requirements="", timeout=2)
    bin_dir = os.path.dirname(sys.executable)
    ws = SimpleNamespace(lib=lib, source=str(source), pytest=os.path.join(bin_dir, "pytest"))
    out = root / "results"
    out.mkdir()
    return {loop: suite_run.run_suite(ws, loop, str(out), log=lambda *a: None, hang_grace=3,
                                      python_path=workspace.IN_VENV_PATH)
            for loop in ("asyncio", "aiouring")}


@pytest.mark.parametrize("loop", ["asyncio", "aiouring"])
def test_a_suite_runs_to_the_end_on_the_chosen_loop(tiny_runs, loop):
    run = tiny_runs[loop]
    tests = {nodeid.split("::")[1]: record for nodeid, record in run["tests"].items()}
    outcomes = {name: record["outcome"] for name, record in tests.items()}
    assert outcomes == {
        "test_asyncio_run": "passed",
        "test_fails_on_aiouring": "failed" if loop == "aiouring" else "passed",
        "test_explicit_selector_loop": "passed",
        "test_no_loop": "passed",
        # pytest-timeout's signal ends it on both loops: a loop idle in the
        # kernel returns to Python for the handler (or the plugin wakes it).
        "test_waits_forever_on_the_loop": "failed",
        "test_hangs_past_the_timeout": "hung",
        "test_kills_its_process": "crashed",
        "test_after_the_crash": "passed",
    }
    # What ran is recorded, not assumed: asyncio.run() follows the switch,
    # an explicit SelectorEventLoop does not.
    ran = tests["test_asyncio_run"]["loops_run"]
    assert list(ran) == [AIOURING if loop == "aiouring" else SELECTOR]
    assert list(tests["test_explicit_selector_loop"]["loops_run"]) == [SELECTOR]
    assert tests["test_explicit_selector_loop"]["loops_created"] == {SELECTOR: 1}
    assert tests["test_no_loop"]["loops_run"] == {}
    if loop == "aiouring":
        summary = tests["test_fails_on_aiouring"]["summary"]
        assert "assert 'aiouring.loop' != 'aiouring.loop'" in summary
    assert "Timeout" in tests["test_waits_forever_on_the_loop"]["summary"]
    assert "killed by SIGKILL" in tests["test_kills_its_process"]["summary"]
    # The hang and the crash each cost one restart.
    assert len(run["exit_codes"]) == 3
    assert run["exit_codes"][:2] == ["hung", -9]


def test_the_report_lists_what_fails_only_on_aiouring(tiny_runs):
    known = [("tiny", "*test_kills_its_process", "(d) by design")]
    comparison = report.compare("tiny", tiny_runs, known)
    only = {f["nodeid"].split("::")[1]: f for f in comparison["fail_only_on_aiouring"]}
    assert list(only) == ["test_fails_on_aiouring"]
    assert only["test_fails_on_aiouring"]["asyncio"] == "passed"
    assert only["test_fails_on_aiouring"]["known"] is None
    assert sorted(n.split("::")[1] for n in comparison["fail_on_both"]) == [
        "test_hangs_past_the_timeout", "test_kills_its_process",
        "test_waits_forever_on_the_loop"]
    assert comparison["aiouring_loop_use"] == {
        "aiouring": 3, "other loops only": 1, "no loop": 2}
    assert comparison["other_loops_in_aiouring_run"] == {SELECTOR: 1}
    text = report.markdown([dict(comparison, version="0")])
    assert "### Fail only on aiouring: 1 (1 not in known.txt)" in text
    assert "| tiny 0 | aiouring | 4 | 2 | 0 | 2 |" in text


def test_known_failures_match_by_library_and_pattern(tmp_path):
    known_file = tmp_path / "known.txt"
    known_file.write_text(textwrap.dedent("""\
        # comment
        lib::tests/test_x.py::test_a[*]  # (c) reaches into loop._selector
        other::tests/test_x.py::test_b  # (b) known difference
    """))
    known = report.load_known(str(known_file))
    assert report.known_reason(known, "lib", "tests/test_x.py::test_a[ipv4]") == \
        "(c) reaches into loop._selector"
    assert report.known_reason(known, "lib", "tests/test_x.py::test_b") is None
    assert report.known_reason(known, "other", "tests/test_x.py::test_b") == "(b) known difference"


def test_every_known_entry_names_a_library_and_a_reason():
    path = os.path.join(ROOT, "tools", "library_suites", "known.txt")
    from library_suites.libraries import LIBRARIES
    for library, pattern, reason in report.load_known(path):
        assert library in LIBRARIES, library
        assert pattern.startswith("tests/"), pattern
        assert reason[:3] in ("(a)", "(b)", "(c)", "(d)"), reason


@pytest.mark.parametrize("loop", ["asyncio", "aiouring"])
def test_the_venv_pth_switches_every_interpreter_of_the_venv(tmp_path, loop):
    """The .pth the harness writes into a library's venv: a process started
    there (a test's subprocess too) gets aiouring only when asked for."""
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    (site_dir / workspace.PTH_NAME).write_text(workspace.pth_text())
    code = ("import site, sys; site.addsitedir(sys.argv[1]); import asyncio; "
            "loop = asyncio.new_event_loop(); asyncio.set_event_loop_policy(None); "
            "again = asyncio.new_event_loop(); "
            "print(type(loop).__module__, type(again).__module__); loop.close(); again.close()")
    env = dict(os.environ, **{suite_run.ENV_VAR: loop})
    out = subprocess.run([sys.executable, "-c", code, str(site_dir)], env=env,
                         capture_output=True, text=True, check=True).stdout.split()
    expected = "aiouring.loop" if loop == "aiouring" else "asyncio.unix_events"
    assert out == [expected, expected]


def test_dependency_groups_expand_includes_and_names_normalize():
    groups = {"test": ["pytest >= 9", {"include-group": "extra"}],
              "extra": ["Trust_Me>=1; python_version >= '3.11'"]}
    assert dependency_group(groups, "test") == [
        "pytest >= 9", "Trust_Me>=1; python_version >= '3.11'"]
    assert requirement_name("uvicorn[standard]==0.54.0") == "uvicorn"
    assert requirement_name("Trust_Me>=1; python_version >= '3.11'") == "trust-me"
    with pytest.raises(ValueError, match="includes itself"):
        dependency_group({"a": [{"include-group": "a"}]}, "a")

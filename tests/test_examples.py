"""The README's examples (examples/*.py) run and print what they promise."""

import os
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"

EXPECTED = {
    "drop_in.py": "Loop 45",
    "echo_server.py": "hello over io_uring",
    "files.py": "first line\nsecond line\n23 bytes",
    "linked_chain.py": '64 bytes: """A linked chain',
    "chain_program.py": "1048576 bytes copied on the",
    "benchmark_coroutine.py": "round trips over TCP on asyncio, uvloop and aiouring\n",
}

# Further lines an example prints (after its first ones), by prefix.
ALSO_PRINTS = {
    "benchmark_coroutine.py": [
        "abenchmark: per-loop comparison",
        "examples/benchmark_coroutine.py::test_round_trips: time per call; vs asyncio",
        "asyncio ", "uvloop ", "aiouring ",
        "examples/benchmark_coroutine.py::test_first_reply_on_a_new_connection: time per call",
    ],
}


def test_every_example_is_checked():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


# The benchmark example runs pytest, which loads every installed plugin:
# hypothesis's costs seconds of start-up (a minute in the emulated 7.x
# guest) and nothing there uses it.
ENV = dict(os.environ, PYTEST_ADDOPTS="-p no:hypothesispytest")
TIMEOUT = {"benchmark_coroutine.py": 180}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name):
    done = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True,
                          text=True, timeout=TIMEOUT.get(name, 60), cwd=EXAMPLES.parent,
                          env=ENV)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.startswith(EXPECTED[name]), done.stdout
    lines = done.stdout.splitlines()
    for prefix in ALSO_PRINTS.get(name, ()):
        assert any(line.lstrip("-").lstrip().startswith(prefix) for line in lines), (
            prefix, done.stdout)

"""The README's examples (examples/*.py) run and print what they promise."""

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
}


def test_every_example_is_checked():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name):
    done = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True,
                          text=True, timeout=60, cwd=EXAMPLES.parent)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.startswith(EXPECTED[name]), done.stdout

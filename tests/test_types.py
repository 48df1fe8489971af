"""The types the package ships: aiouring/_ring.pyi against the compiled core
(mypy's stubtest), and what a type checker sees of the public API (mypy
--strict on tests/typing/reveal_api.py)."""

import os
import re
import subprocess
import sys

import pytest

# tools/go installs the checkers (requirements-check.txt) into the main .venv
# only: the other Pythons' lanes have no mypy, and these results do not
# depend on the Python version.
pytest.importorskip("mypy", reason="the type checkers are installed in the main .venv only")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TYPING = os.path.join(ROOT, "tests", "typing")
CONFIG = os.path.join(ROOT, "pyproject.toml")


def run_mypy(*args):
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_the_core_stub_matches_the_compiled_module():
    done = run_mypy("mypy.stubtest", "--mypy-config-file", CONFIG, "--ignore-disjoint-bases",
                    "--allowlist", os.path.join(TYPING, "ring-stubtest-allowlist.txt"),
                    "aiouring._ring")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_public_api_has_the_types_it_documents():
    path = os.path.join(TYPING, "reveal_api.py")
    done = run_mypy("mypy", "--config-file", CONFIG, "--strict", path)
    revealed = dict(re.findall(r"reveal_api\.py:(\d+): note: Revealed type is \"(.*)\"",
                               done.stdout))
    with open(path, encoding="utf-8") as f:
        expected = {str(n): line.rsplit("# ", 1)[1].strip()
                    for n, line in enumerate(f, 1) if line.lstrip().startswith("reveal_type(")}
    assert expected and set(revealed) == set(expected), done.stdout + done.stderr
    for line, want in expected.items():
        got = revealed[line]
        # A named tuple (os.stat_result) shows its fields, then its class.
        assert got == want or got.endswith(f"fallback={want}]"), (line, got, want)
    assert revealed[min(expected, key=int)] == "aiouring.loop.Loop"   # new_event_loop()
    # Revealing is a note: any error about the file fails.
    assert done.returncode == 0, done.stdout + done.stderr

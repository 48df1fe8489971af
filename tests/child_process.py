"""Runs a Python program in a child interpreter, for tests whose subject can
crash the process (memory corruption, SIGSEGV) or must get real signals."""

import subprocess
import sys
import textwrap


def run_python(program, directory, timeout=60):
    """Writes program (dedented) to directory/child.py and runs it there;
    (returncode, stdout, stderr). A hang past timeout raises TimeoutExpired."""
    script = directory / "child.py"
    script.write_text(textwrap.dedent(program))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=timeout, cwd=directory)
    return done.returncode, done.stdout, done.stderr

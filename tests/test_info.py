"""`python -m aiouring info` and the facts it reports about aiouring itself:
real argument parsing (help, version, unknown options refused), the build
options setup.py recorded for the extension this interpreter loads, printed
before the kernel's, and one version everywhere."""

import importlib.metadata
import json
import os
import re
import subprocess
import sys

import aiouring
from aiouring import info

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(aiouring.__file__)))


def cli(*args):
    return subprocess.run([sys.executable, "-m", "aiouring", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_help_names_the_info_command_and_its_options():
    top = cli("--help")
    assert top.returncode == 0
    assert "info" in top.stdout and "--version" in top.stdout
    sub = cli("info", "--help")
    assert sub.returncode == 0
    assert "--json" in sub.stdout and "--version" in sub.stdout
    assert "how this aiouring was built" in " ".join(sub.stdout.split())


def test_version_is_aiourings_own():
    for args in (["--version"], ["info", "--version"]):
        done = cli(*args)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"aiouring {aiouring.__version__}"


def test_unknown_options_and_commands_are_refused():
    for args, complaint in ((["info", "--bogus"], "unrecognized arguments: --bogus"),
                            (["--bogus", "info"], "unrecognized arguments: --bogus"),
                            (["info", "extra"], "unrecognized arguments: extra"),
                            (["nonsense"], "invalid choice"),
                            ([], "required")):
        done = cli(*args)
        assert done.returncode == 2, args
        assert done.stdout == ""
        assert complaint in done.stderr, (args, done.stderr)
        assert "usage: python -m aiouring" in done.stderr


def test_build_options_come_first_and_match_the_loaded_extension():
    build = info.build_options()
    assert build is not None, "setup.py records the build of every extension it makes"
    assert build["version"] == aiouring.__version__
    assert build["python"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert build["liburing_linkage"] in ("static", "shared")
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?", build["liburing"] or ""), build

    done = cli("info")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"aiouring        {aiouring.__version__} ")
    kernel_line = next(i for i, line in enumerate(lines) if line.startswith("kernel "))
    own = "\n".join(lines[:kernel_line])
    assert f"liburing      {build['liburing']}, linked " in own
    if build["kernel_path"]:
        assert "kernel path   built in" in own
    else:
        assert f"kernel path   not built: {build['kernel_path_missing']}" in own

    as_json = json.loads(cli("info", "--json").stdout)
    assert as_json["build"] == build
    assert as_json["aiouring_version"] == aiouring.__version__


def test_features_say_why_when_the_kernel_path_was_not_built():
    build = info.build_options()
    found = aiouring.features()
    if build["kernel_path"]:
        # Built in: whatever keeps chains loop-side here is about the kernel.
        assert "built without" not in (found["bpf_loop_reason"] or "")
    else:
        assert not found["bpf_loop"]
        assert build["kernel_path_missing"] in found["bpf_loop_reason"]


def test_one_version_for_code_and_metadata():
    # setup.cfg reads aiouring.__version__; the installed metadata must agree.
    assert importlib.metadata.version(info.DISTRIBUTION) == aiouring.__version__
    assert info.version_line() == f"aiouring {aiouring.__version__}"

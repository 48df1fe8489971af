"""A library's test workspace: its sdist from PyPI, unpacked, and a venv with
the library, its test requirements and this checkout's aiouring.

Everything lives under the work directory (build/library-suites by default)
and is reused while the library's version, its requirements and the
interpreter stay the same. aiouring is not installed into the venv: a .pth
file puts this checkout (built in place by tools/go build) on its path,
together with the harness's in-venv modules (in_venv/), and imports
libsuite_loop at start-up so every process of the venv can be switched to
aiouring by an environment variable.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile

from .libraries import test_requirements

HERE = os.path.dirname(os.path.abspath(__file__))
IN_VENV = os.path.join(HERE, "in_venv")
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
PTH_NAME = "aiouring_libsuite.pth"
IN_VENV_PATH = (REPO_ROOT, IN_VENV)
# The harness's own needs in every venv (per-test timeouts).
HARNESS_REQUIREMENTS = ("pytest-timeout",)


def log(*args):
    print("library_suites:", *args, file=sys.stderr, flush=True)


class Workspace:
    def __init__(self, lib, workdir):
        self.lib = lib
        self.root = os.path.join(workdir, lib.sdist_dir)
        self.downloads = os.path.join(workdir, "downloads")
        self.source = os.path.join(self.root, "src")
        self.venv = os.path.join(self.root, "venv")
        self.python = os.path.join(self.venv, "bin", "python")
        self.pytest = os.path.join(self.venv, "bin", "pytest")

    def prepare(self):
        """Download, unpack and install what is missing or out of date."""
        sdist = self._download()
        self._unpack(sdist)
        self._install()
        return self

    def _download(self):
        name = f"{self.lib.sdist_dir}.tar.gz"
        os.makedirs(self.downloads, exist_ok=True)
        for candidate in (name, name.replace("-", "_", 1)):
            path = os.path.join(self.downloads, candidate)
            if os.path.exists(path):
                return path
        log(f"downloading the {self.lib.name} {self.lib.version} sdist")
        subprocess.run([sys.executable, "-m", "pip", "download", "-q",
                        "--no-binary", ":all:", "--no-deps", "-d", self.downloads,
                        f"{self.lib.name}=={self.lib.version}"], check=True)
        for candidate in (name, name.replace("-", "_", 1)):
            path = os.path.join(self.downloads, candidate)
            if os.path.exists(path):
                return path
        raise RuntimeError(f"pip download left no {name} in {self.downloads}")

    def _unpack(self, sdist):
        marker = os.path.join(self.source, ".unpacked")
        if os.path.exists(marker):
            return
        shutil.rmtree(self.source, ignore_errors=True)
        staging = self.source + ".tmp"
        shutil.rmtree(staging, ignore_errors=True)
        with tarfile.open(sdist) as tar:
            tar.extractall(staging, filter="data")
        (top,) = os.listdir(staging)
        os.rename(os.path.join(staging, top), self.source)
        os.rmdir(staging)
        # The tests must import the installed library, not its sources.
        for name in self.lib.shadowing:
            shutil.rmtree(os.path.join(self.source, name), ignore_errors=True)
        open(marker, "w").close()

    def _requirements(self):
        return (list(self.lib.install) + test_requirements(self.lib, self.source)
                + list(HARNESS_REQUIREMENTS))

    def _install(self):
        stamp = os.path.join(self.venv, ".libsuite-installed")
        requirements = self._requirements()
        fingerprint = hashlib.sha256(repr(
            (requirements, sys.version, REPO_ROOT)).encode()).hexdigest()
        if _read(stamp) == fingerprint and os.path.exists(self.pytest):
            return
        shutil.rmtree(self.venv, ignore_errors=True)
        log(f"creating the {self.lib.name} venv and installing its test requirements")
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", self.venv], check=True)
        env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
        subprocess.run([self.python, "-m", "pip", "install", "-q", *requirements],
                       check=True, env=env, cwd=self.source)
        self._link_aiouring()
        with open(stamp, "w") as f:
            f.write(fingerprint)

    def _link_aiouring(self):
        site = subprocess.run(
            [self.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True).stdout.strip()
        with open(os.path.join(site, PTH_NAME), "w") as f:
            f.write(pth_text())

    def installed_versions(self):
        """pip freeze of the venv: what the suite really ran with."""
        return subprocess.run([self.python, "-m", "pip", "freeze", "--all"],
                              capture_output=True, text=True).stdout.split()


def pth_text():
    """The venv's .pth: this checkout and the in-venv modules on the path,
    and the loop switch imported at every interpreter start."""
    return "".join(path + "\n" for path in IN_VENV_PATH) + "import libsuite_loop\n"


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None

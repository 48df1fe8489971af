"""Build of aiouring's Cython core against liburing, and of the chain
dispatcher's BPF object (clang -target bpf) when clang and libbpf are there.

- liburing is linked statically when its archive links into a shared object
  (Debian's liburing-dev ships one), so wheels do not depend on the build
  machine's liburing.so; AIOURING_LIBURING=shared|static forces a choice.
- Without clang or libbpf's headers the build still succeeds, without the
  kernel path of chain programs (aiouring.features() then says why);
  AIOURING_NO_BPF=1 leaves it out on purpose.
- Without liburing's headers it stops at once, naming the package to install.
- How the build went (liburing version and linkage, the kernel path) is
  written to aiouring/_build_info.py, which `python -m aiouring info` prints.
- bpf/ (the dispatcher and the built-in programs, which
  `python -m aiouring.bpf build` compiles again with a user's programs) is
  shipped in the package as aiouring/bpf/source/; a checkout reads bpf/.

AIOURING_DEBUG=1 builds with line tracing and without optimisation;
AIOURING_SANITIZE=1 with AddressSanitizer and UndefinedBehaviorSanitizer.
"""
import glob
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py
from setuptools.errors import PlatformError

# ---------------------------------------------------------------------------
# The core's sources: everything the extension is built from is listed here.
CORE_MODULE = "aiouring._ring"
CORE_SOURCES = ["src/_ring.pyx", "src/programs/native_programs.c", "src/programs/program_ring.c"]
CYTHON_INCLUDE_PATH = ["src"]          # where cimport/include look for .pxd/.pxi
C_INCLUDE_DIRS = ["src", "bpf", "aiouring/bpf"]
# Rebuild when any header or included Cython file under these changes.
CORE_DEPENDS = sorted(
    path for pattern in ("src/**/*.h", "src/**/*.pxd", "src/**/*.pyx", "bpf/**/*.h")
    for path in glob.glob(pattern, recursive=True))
# ---------------------------------------------------------------------------

BPF_DIR = "bpf"                                 # the dispatcher and built-in programs
HEADER_DIR = "aiouring/bpf"                     # chain.h, the public header
BPF_SOURCE = f"{BPF_DIR}/dispatcher.bpf.c"
BPF_OBJECT = f"{HEADER_DIR}/dispatcher.bpf.o"
SHIPPED_SOURCE_DIR = "aiouring/bpf/source"      # bpf/'s place in an installed package
BUILD_INFO = "aiouring/_build_info.py"
BPF_ARCH = {"x86_64": "x86", "aarch64": "arm64", "ppc64le": "powerpc",
            "s390x": "s390", "riscv64": "riscv"}.get(platform.machine(), platform.machine())
DEBUG = os.environ.get("AIOURING_DEBUG") == "1"
# AIOURING_SANITIZE=1: the extension and its C helpers built with
# AddressSanitizer and UndefinedBehaviorSanitizer (tools/go test-asan runs
# the suite on it, with libasan preloaded into the interpreter).
SANITIZE = os.environ.get("AIOURING_SANITIZE") == "1"
SANITIZERS = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]

LIBURING_MISSING = """\
liburing's headers were not found (liburing.h): aiouring is built against liburing.
Install them and build again:
    Debian, Ubuntu:           apt-get install liburing-dev
    Fedora, RHEL, CentOS:     dnf install liburing-devel
    openSUSE:                 zypper install liburing-devel
    Arch Linux:               pacman -S liburing
    Alpine:                   apk add liburing-dev
(or point CFLAGS=-I... and LDFLAGS=-L... at a liburing of your own)."""

LIBURING_PROBE = """\
#include <liburing.h>
int aiouring_probe(void) { struct io_uring ring; return io_uring_queue_init(1, &ring, 0); }
"""


def bpf_sources():
    """Every file of bpf/ that is shipped (sources and headers, no objects)."""
    found = []
    for root, dirs, files in os.walk(BPF_DIR):
        dirs.sort()
        found += [os.path.join(root, f) for f in sorted(files) if not f.endswith(".o")]
    return found


def kernel_path_missing():
    """None when the kernel path of chain programs can be built, else why not."""
    if os.environ.get("AIOURING_NO_BPF") == "1":
        return "AIOURING_NO_BPF=1 at build time"
    if not shutil.which(os.environ.get("CLANG", "clang")):
        return "clang was not found at build time"
    for header in ("/usr/include/bpf/libbpf.h", "/usr/include/gelf.h"):
        if not os.path.exists(header):
            return f"{header} was missing at build time (libbpf-dev, libelf-dev)"
    return None


def pkg_config_version(package):
    try:
        done = subprocess.run(["pkg-config", "--modversion", package],
                              capture_output=True, text=True)
    except OSError:
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def header_version(relative, major, minor, include_dirs):
    """A library's version from the macros of its version header."""
    for directory in [*include_dirs, "/usr/local/include", "/usr/include"]:
        try:
            with open(os.path.join(directory, relative)) as f:
                text = f.read()
        except OSError:
            continue
        numbers = [re.search(rf"#define\s+{name}\s+(\d+)", text) for name in (major, minor)]
        if all(numbers):
            return ".".join(n.group(1) for n in numbers)
    return None


def write_build_info(path, extension, info):
    """Records info for extension (its file name) in the generated module,
    keeping the entries of extensions built for other interpreters in the
    same tree (an in-place build per Python version)."""
    import ast

    builds = {}
    try:
        with open(path) as f:
            tree = ast.parse(f.read())
        if tree.body[-1].targets[0].id == "BUILDS":
            builds = ast.literal_eval(tree.body[-1].value)
    except (OSError, SyntaxError, ValueError, IndexError, AttributeError):
        pass
    if not isinstance(builds, dict) or not all(isinstance(v, dict) for v in builds.values()):
        builds = {}
    builds[extension] = info
    lines = ['"""How aiouring\'s extension was built, per extension file: written by',
             'setup.py (not in git); python -m aiouring info prints it."""', "", "BUILDS = {"]
    for name, entry in sorted(builds.items()):
        lines.append(f"    {name!r}: {{")
        lines += [f"        {key!r}: {value!r}," for key, value in entry.items()]
        lines.append("    },")
    lines += ["}", ""]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines))


class BuildCore(build_ext):
    """Checks for liburing, decides how to link it and whether the kernel
    path is built, compiles the dispatcher to BPF, cythonizes, builds."""

    def run(self):
        from setuptools._distutils.ccompiler import new_compiler
        from setuptools._distutils.sysconfig import customize_compiler

        probe = new_compiler(force=True)
        customize_compiler(probe)
        include_dirs = list(self.include_dirs or [])
        with tempfile.TemporaryDirectory(prefix="aiouring-probe-") as scratch:
            objects = self.compile_liburing_probe(probe, include_dirs, scratch)
            if objects is None:
                raise PlatformError(LIBURING_MISSING)
            liburing_archive = self.static_liburing(probe, objects, scratch)
        missing = kernel_path_missing()
        info = {
            "version": self.distribution.get_version(),
            "liburing": (pkg_config_version("liburing") or header_version(
                "liburing/io_uring_version.h", "IO_URING_VERSION_MAJOR",
                "IO_URING_VERSION_MINOR", include_dirs)),
            "liburing_linkage": "static" if liburing_archive else "shared",
            "kernel_path": missing is None,
            "kernel_path_missing": missing,
            "libbpf": None,
            "debug": DEBUG,
            "sanitizers": SANITIZE,
            "python": sysconfig.get_python_version(),
            "platform": sysconfig.get_platform(),
        }
        libraries = [] if liburing_archive else ["uring"]
        macros = [("CYTHON_TRACE", "1"), ("CYTHON_TRACE_NOGIL", "1")] if DEBUG else []
        if missing is None:
            info["libbpf"] = pkg_config_version("libbpf") or header_version(
                "bpf/libbpf_version.h", "LIBBPF_MAJOR_VERSION", "LIBBPF_MINOR_VERSION",
                include_dirs)
            macros.append(("AIOURING_HAVE_LIBBPF", "1"))
            libraries += ["bpf", "elf", "z"]
            self.build_bpf()
        else:
            macros.append(("AIOURING_NO_BPF_REASON", '"{}"'.format(missing.replace('"', "'"))))
        for ext in self.extensions:
            ext.libraries += libraries
            ext.define_macros += macros
            if liburing_archive:
                # liburing's symbols stay private to the extension.
                ext.extra_objects.append(liburing_archive)
                ext.extra_link_args.append("-Wl,--exclude-libs,liburing.a")
        self.cythonize()
        super().run()
        extension = os.path.basename(self.get_ext_filename(CORE_MODULE))
        if self.inplace:
            write_build_info(BUILD_INFO, extension, info)
        else:
            write_build_info(os.path.join(self.build_lib, BUILD_INFO), extension, info)
            if missing is None:
                target = os.path.join(self.build_lib, BPF_OBJECT)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copyfile(BPF_OBJECT, target)

    def compile_liburing_probe(self, compiler, include_dirs, scratch):
        """The object files of a tiny liburing user, or None when liburing.h
        is missing (or unusable)."""
        source = os.path.join(scratch, "probe.c")
        with open(source, "w") as f:
            f.write(LIBURING_PROBE)
        try:
            with open(os.devnull, "w") as quiet, redirect_fds(quiet):
                return compiler.compile([source], output_dir=scratch, include_dirs=include_dirs,
                                        extra_postargs=["-fPIC"])
        except Exception:
            return None

    def static_liburing(self, compiler, objects, scratch):
        """The path of liburing.a when it is to be linked in, else None."""
        choice = os.environ.get("AIOURING_LIBURING", "auto")
        if choice not in ("auto", "static", "shared"):
            raise PlatformError(f"AIOURING_LIBURING={choice!r}: use static, shared or auto")
        if choice == "shared":
            return None
        archive = None
        try:
            done = subprocess.run([compiler.compiler_so[0], "-print-file-name=liburing.a"],
                                  capture_output=True, text=True)
            candidate = done.stdout.strip()
            if os.path.isabs(candidate) and os.path.exists(candidate):
                archive = candidate
        except OSError:
            pass
        if archive is not None:
            # Debian's archive is position-independent; others may not be.
            try:
                with open(os.devnull, "w") as quiet, redirect_fds(quiet):
                    compiler.link_shared_object(objects, os.path.join(scratch, "probe.so"),
                                                extra_postargs=[archive])
            except Exception:
                archive = None
        if archive is None and choice == "static":
            raise PlatformError("AIOURING_LIBURING=static, but no liburing.a links into "
                                "a shared object here")
        return archive

    def build_bpf(self):
        sources = [BPF_SOURCE, f"{HEADER_DIR}/chain.h", *bpf_sources()]
        if (os.path.exists(BPF_OBJECT) and not self.force and
                os.path.getmtime(BPF_OBJECT) >= max(map(os.path.getmtime, sources))):
            return
        multiarch = sysconfig.get_config_var("MULTIARCH") or ""
        command = [os.environ.get("CLANG", "clang"), "-g", "-O2", "-target", "bpf",
                   "-mcpu=v3", f"-D__TARGET_ARCH_{BPF_ARCH}", "-Wall",
                   "-Wno-unused-function", f"-I{BPF_DIR}", f"-I{HEADER_DIR}",
                   *([f"-I/usr/include/{multiarch}"] if multiarch else []),
                   "-c", BPF_SOURCE, "-o", BPF_OBJECT]
        print(" ".join(command))
        subprocess.run(command, check=True)

    def cythonize(self):
        from Cython.Build import cythonize

        directives = {"language_level": "3"}
        if DEBUG:
            directives.update(linetrace=True, binding=True)
        translated = cythonize(self.extensions, include_path=CYTHON_INCLUDE_PATH,
                               compiler_directives=directives,
                               build_dir="build/cython", force=self.force)
        # Keep setuptools' finalized Extension objects: only their sources change.
        for ext, done in zip(self.extensions, translated):
            ext.sources = done.sources


class redirect_fds:
    """Sends this process's stdout and stderr (file descriptors, so also a
    compiler's) to a file while a probe runs."""

    def __init__(self, target):
        self.target = target

    def __enter__(self):
        sys.stdout.flush()
        sys.stderr.flush()
        self.saved = [os.dup(1), os.dup(2)]
        for fd in (1, 2):
            os.dup2(self.target.fileno(), fd)

    def __exit__(self, *exc):
        for fd, saved in zip((1, 2), self.saved):
            os.dup2(saved, fd)
            os.close(saved)


class BuildPackage(build_py):
    """Ships bpf/ inside the package as aiouring/bpf/source/."""

    def run(self):
        super().run()
        for path in bpf_sources():
            target = os.path.join(self.build_lib, SHIPPED_SOURCE_DIR,
                                  os.path.relpath(path, BPF_DIR))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            self.copy_file(path, target)


setup(
    cmdclass={"build_ext": BuildCore, "build_py": BuildPackage},
    ext_modules=[
        Extension(
            CORE_MODULE,
            CORE_SOURCES,
            include_dirs=C_INCLUDE_DIRS,
            depends=CORE_DEPENDS,
            extra_compile_args=(["-O0", "-g"] if DEBUG else ["-O1", "-g"] if SANITIZE else ["-O2"])
                               + (SANITIZERS if SANITIZE else []),
            extra_link_args=SANITIZERS if SANITIZE else [],
        ),
    ],
)

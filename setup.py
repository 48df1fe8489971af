"""Build of aiouring's Cython core against the system's liburing, and of the
chain dispatcher's BPF object (clang -target bpf) when clang and libbpf are
there; without them the build still succeeds, without the kernel path of
chain programs (aiouring.features() then says why)."""
import os
import platform
import shutil
import subprocess
import sysconfig

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

DEBUG = os.environ.get("AIOURING_DEBUG") == "1"
# AIOURING_SANITIZE=1: the extension and its C helpers built with
# AddressSanitizer and UndefinedBehaviorSanitizer (tools/go test-asan runs
# the suite on it, with libasan preloaded into the interpreter).
SANITIZE = os.environ.get("AIOURING_SANITIZE") == "1"
SANITIZERS = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
# The chain programs and their dispatcher live in bpf/; the build copies
# them into the package (aiouring/bpf/source/) because
# `python -m aiouring.bpf build` compiles them again with a user's programs.
BPF_DIR = "bpf"
HEADER_DIR = "aiouring/bpf"                     # chain.h, the public header
PACKAGE_SOURCE_DIR = f"{HEADER_DIR}/source"
BPF_SOURCE = f"{BPF_DIR}/dispatcher.bpf.c"
BPF_OBJECT = f"{HEADER_DIR}/dispatcher.bpf.o"
BPF_DEPENDS = [f"{BPF_DIR}/dispatcher.h", f"{BPF_DIR}/io_uring_bpf.h", f"{HEADER_DIR}/chain.h",
               *(os.path.join(BPF_DIR, "programs", f)
                 for f in sorted(os.listdir(os.path.join(BPF_DIR, "programs"))))]
BPF_ARCH = {"x86_64": "x86", "aarch64": "arm64", "ppc64le": "powerpc",
            "s390x": "s390", "riscv64": "riscv"}.get(platform.machine(), platform.machine())

macros = [("CYTHON_TRACE", "1"), ("CYTHON_TRACE_NOGIL", "1")] if DEBUG else []
directives = {"linetrace": True, "binding": True} if DEBUG else {}


def kernel_path_missing():
    """None when the kernel path can be built, else what is missing."""
    if os.environ.get("AIOURING_NO_BPF") == "1":
        return "AIOURING_NO_BPF=1 at build time"
    if not shutil.which(os.environ.get("CLANG", "clang")):
        return "clang was not found at build time"
    for header in ("/usr/include/bpf/libbpf.h", "/usr/include/gelf.h"):
        if not os.path.exists(header):
            return f"{header} was missing at build time (libbpf-dev, libelf-dev)"
    return None


MISSING = kernel_path_missing()
if MISSING is None:
    macros.append(("AIOURING_HAVE_LIBBPF", "1"))
    libraries = ["uring", "bpf", "elf", "z"]
else:
    escaped = MISSING.replace('"', "'")
    macros.append(("AIOURING_NO_BPF_REASON", f'"{escaped}"'))
    libraries = ["uring"]


class BuildWithBpf(build_ext):
    """Compiles the dispatcher to BPF next to the package before the
    extension, when its sources are newer."""

    def run(self):
        self.copy_sources_into_package()
        if MISSING is None:
            self.build_bpf()
        super().run()
        if not self.inplace:
            shipped = [BPF_OBJECT] if MISSING is None else []
            for root, _, files in os.walk(PACKAGE_SOURCE_DIR):
                shipped += [os.path.join(root, f) for f in files]
            for path in shipped:
                target = os.path.join(self.build_lib, path)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copyfile(path, target)

    def copy_sources_into_package(self):
        shutil.rmtree(PACKAGE_SOURCE_DIR, ignore_errors=True)
        shutil.copytree(BPF_DIR, PACKAGE_SOURCE_DIR,
                        ignore=shutil.ignore_patterns("*.o"))

    def build_bpf(self):
        sources = [BPF_SOURCE, *BPF_DEPENDS]
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


extensions = [
    Extension(
        "aiouring._ring",
        ["src/_ring.pyx", "src/programs/native_programs.c", "src/programs/program_ring.c"],
        include_dirs=["src", BPF_DIR, HEADER_DIR],
        libraries=libraries,
        define_macros=macros,
        extra_compile_args=(["-O0", "-g"] if DEBUG else ["-O1", "-g"] if SANITIZE else ["-O2"])
                           + (SANITIZERS if SANITIZE else []),
        extra_link_args=SANITIZERS if SANITIZE else [],
        depends=["src/programs/program_ring.h", "src/programs/native_programs.h",
                 f"{BPF_DIR}/dispatcher.h"],
    ),
]

setup(
    cmdclass={"build_ext": BuildWithBpf},
    ext_modules=cythonize(
        extensions,
        include_path=["src"],
        compiler_directives={"language_level": "3", **directives},
        build_dir="build/cython",
    ),
)

"""Build of aiouring's Cython core against the system's liburing."""
import os

from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("AIOURING_DEBUG") == "1"

macros = [("CYTHON_TRACE", "1"), ("CYTHON_TRACE_NOGIL", "1")] if DEBUG else []
directives = {"linetrace": True, "binding": True} if DEBUG else {}

extensions = [
    Extension(
        "aiouring._ring",
        ["src/_ring.pyx", "src/chain_native.c"],
        include_dirs=["src", "aiouring/bpf", "bpf"],
        libraries=["uring"],
        define_macros=macros,
        extra_compile_args=["-O0", "-g"] if DEBUG else ["-O2"],
    ),
]

setup(
    ext_modules=cythonize(
        extensions,
        include_path=["src"],
        compiler_directives={"language_level": "3", **directives},
        build_dir="build/cython",
    ),
)

"""Chain-program bundles for the tests, built once per content and kept.

A test that needs a bundle as its input (not one about building) takes it
from here: the bundle is built with aiouring.bpf.build() into
build/test-bundles/<key>/, where the key covers everything the build reads
(the sources, the package's BPF sources and headers, build.py, the
version, which compilers and their binaries). The guest lane of the suite
shares this tree, so it loads what the host built instead of compiling
under emulation (25-35 s a bundle there); `python tests/program_bundles.py`
builds every bundle the guest's tests ask for, before it boots.

Tests of the build itself (compiler errors, the command line, missing
compilers) call build() directly and are never cached.
"""

import hashlib
import os
import pathlib
import shutil
import sys
import tempfile

PROGRAMS_DIR = pathlib.Path(__file__).resolve().parent / "programs"
ROOT = PROGRAMS_DIR.parent.parent
CACHE_DIR = ROOT / "build" / "test-bundles"

# name: (sources in tests/programs/, native_only)
BUNDLES = {
    "programs": (("sum_reads.c", "header_body.c", "linked_pairs.c", "linked_body.c",
                  "opcodes.c"), False),
    "misbehaving": (("misbehaving.c",), False),
    "sum_reads": (("sum_reads.c", "misbehaving.c"), False),
    "sum_reads_native": (("sum_reads.c",), True),
    "oob": (("out_of_bounds.c",), False),
    "any_opcode": (("any_opcode.c",), False),
    "any_opcode_native": (("any_opcode.c",), True),
}


def have_clang():
    return shutil.which(os.environ.get("CLANG", "clang")) is not None and os.path.exists(
        "/usr/include/bpf/bpf_helpers.h")


def _files_under(directory):
    for path in sorted(pathlib.Path(directory).rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            yield path


def _compiler_identity(variable, default):
    found = shutil.which(os.environ.get(variable, default))
    if found is None:
        return f"{variable}: none"
    real = os.path.realpath(found)
    st = os.stat(real)
    return f"{variable}: {real} {st.st_size} {st.st_mtime_ns}"


def _key(name, sources, native_only):
    import aiouring
    from aiouring.bpf import build as build_module
    digest = hashlib.sha256()
    digest.update(f"{name} {native_only} {aiouring.__version__}\n".encode())
    digest.update(_compiler_identity("CC", "gcc").encode())
    digest.update(_compiler_identity("CLANG", "clang").encode())
    inputs = [PROGRAMS_DIR / source for source in sources]
    inputs += [pathlib.Path(build_module.__file__)]
    inputs += _files_under(build_module.HEADER_DIR)
    inputs += _files_under(build_module.SOURCE_DIR)
    for path in inputs:
        if path.suffix in (".c", ".h", ".py"):
            digest.update(str(path.name).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:24]


def bundle(name):
    """The path of bundle `name` (see BUNDLES), built on first use. Without
    clang (or its BPF headers) the bundle is native-only, as the tests that
    take it expect on such a machine."""
    from aiouring.bpf.build import build
    sources, native_only = BUNDLES[name]
    native_only = native_only or not have_clang()
    target = CACHE_DIR / _key(name, sources, native_only) / f"{name}.chain"
    if (target / "manifest.json").exists():
        return target
    target.parent.parent.mkdir(parents=True, exist_ok=True)
    # Built aside and renamed into place: a concurrent run never sees half.
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent.parent))
    try:
        build([PROGRAMS_DIR / source for source in sources], staging / f"{name}.chain",
              native_only=native_only)
        try:
            os.rename(staging, target.parent)
        except OSError:
            if not (target / "manifest.json").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


if __name__ == "__main__":
    for each in BUNDLES:
        bundle(each)
    print(f"test bundles: {len(BUNDLES)} ready in {CACHE_DIR.relative_to(ROOT)}", file=sys.stderr)

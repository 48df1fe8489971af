"""User chain programs: written against chain.h, built by `python -m
aiouring.bpf build` with the real compilers, registered on a loop and run
(here loop-side; tests/kernel/ runs them in the kernel). Results and errors
match a Python reference; a program that misbehaves ends its chain with an
error and leaves the loop usable."""

import asyncio
import errno
import json
import os
import pathlib
import shutil
import struct
import subprocess
import sys

import pytest
from hypothesis import given, settings, HealthCheck, strategies as st

import aiouring
import aiouring.bpf as bpf
from aiouring.bpf.build import build

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(aiouring.__file__)))
BUILTINS = ["copy", "read_frame", "pointer_chase", "recv_send", "nop_chain"]
HAVE_CLANG = shutil.which("clang") is not None and os.path.exists(
    "/usr/include/bpf/bpf_helpers.h")

# The programs, in tests/programs/ (the kernel tests build them too):
# sum_reads(fd, buf, len) returns the bytes read until EOF; header_body(fd,
# buf, max) reads a u64 little-endian length, then that many bytes.
PROGRAMS_DIR = pathlib.Path(__file__).resolve().parent / "programs"
SUM_READS = (PROGRAMS_DIR / "sum_reads.c").read_text()
MISBEHAVING = (PROGRAMS_DIR / "misbehaving.c").read_text()


def cli(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "aiouring.bpf", *args], cwd=cwd,
                          env={**os.environ, "PYTHONPATH": ROOT, **(env or {})},
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    directory = tmp_path_factory.mktemp("programs")
    done = cli("build", str(PROGRAMS_DIR / "sum_reads.c"), str(PROGRAMS_DIR / "header_body.c"),
               "-o", str(directory / "programs.chain"),
               *([] if HAVE_CLANG else ["--native-only"]), cwd=directory)
    assert done.returncode == 0, done.stderr
    assert "sum_reads, header_body" in done.stdout
    return directory / "programs.chain"


@pytest.fixture(scope="module")
def misbehaving(tmp_path_factory):
    directory = tmp_path_factory.mktemp("misbehaving")
    return build([PROGRAMS_DIR / "misbehaving.c"], directory / "bad.chain",
                 native_only=not HAVE_CLANG)


def run_with(bundle, coro_fn):
    async def main():
        loop = asyncio.get_running_loop()
        loop.bpf.register(bundle)
        return await coro_fn(loop)
    return aiouring.run(main())


def pinned(size):
    buffer = bytearray(size)
    return buffer, memoryview(buffer), bpf.buffer_address(buffer)


async def sum_reads(fd, chunk):
    buffer, view, address = pinned(chunk)
    return await bpf.run("sum_reads", fd, address, chunk, keepalive=(buffer, view))


async def header_body(fd, max_size):
    buffer, view, address = pinned(max(max_size, 8))
    length = await bpf.run("header_body", fd, address, max_size, keepalive=(buffer, view))
    return bytes(view[:length])


def header_body_reference(stream, max_size):
    """What header_body returns (or the errno it fails with) for a stream."""
    if max_size < 8:
        return errno.EINVAL
    if len(stream) < 8:
        return errno.EPROTO
    length, = struct.unpack("<Q", stream[:8])
    if length > max_size:
        return errno.EMSGSIZE
    if len(stream) < 8 + length:
        return errno.EPROTO
    return stream[8:8 + length]


def test_bundle_holds_both_builds_and_a_manifest(bundle):
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["programs"] == ["sum_reads", "header_body"]
    assert manifest["aiouring"] == aiouring.__version__
    assert manifest["first_index"] == len(BUILTINS)
    assert (bundle / "programs.so").read_bytes()[:4] == b"\x7fELF"
    if HAVE_CLANG:
        image = (bundle / "dispatcher.bpf.o").read_bytes()
        assert image[:4] == b"\x7fELF" and b".struct_ops" in image
        assert b"sum_reads_step" in image          # debug info names the user code
        assert manifest["bpf"] == "dispatcher.bpf.o"
        assert "-target bpf" in manifest["commands"]["bpf"]


def test_register_adds_programs_after_the_builtins(bundle):
    async def main():
        loop = asyncio.get_running_loop()
        assert loop.bpf.program_names() == BUILTINS
        assert bpf.register(bundle) == ["sum_reads", "header_body"]
        return loop.bpf.program_names(), bpf.program_names()

    assert aiouring.run(main()) == (BUILTINS + ["sum_reads", "header_body"],) * 2


@pytest.mark.parametrize("size,chunk", [(0, 10), (1, 1), (100_000, 4096), (65536, 65536)])
def test_sum_reads_counts_what_a_file_holds(bundle, tmp_path, size, chunk):
    (tmp_path / "data").write_bytes(os.urandom(size))

    async def go(loop):
        before = loop._program_stats()["loop_side_steps"]
        with open(tmp_path / "data", "rb") as f:
            result = await sum_reads(f.fileno(), chunk)
        return result, loop._program_stats()["loop_side_steps"] - before

    result, steps = run_with(bundle, go)
    assert result == size
    assert steps == -(-size // chunk) + 1          # every chunk, then EOF


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=3000), announced=st.one_of(st.none(), st.integers(0, 5000)),
       max_size=st.integers(0, 4000), cut=st.one_of(st.none(), st.integers(0, 3010)),
       pipe_chunks=st.integers(1, 4))
def test_header_body_matches_the_python_reference(bundle, body, announced, max_size, cut,
                                                  pipe_chunks):
    length = len(body) if announced is None else announced
    stream = struct.pack("<Q", length) + body
    if cut is not None:
        stream = stream[:cut]
    expected = header_body_reference(stream, max_size)

    async def go(loop):
        r, w = os.pipe()
        try:
            # written in pieces from the loop, so the reads come back short
            task = asyncio.ensure_future(header_body(r, max_size))
            step = -(-len(stream) // pipe_chunks) if stream else 1
            for i in range(0, len(stream), step):
                os.write(w, stream[i:i + step])
                await asyncio.sleep(0)
            os.close(w)
            w = -1
            try:
                return await task
            except OSError as exc:
                return exc.errno
        finally:
            os.close(r)
            if w >= 0:
                os.close(w)

    assert run_with(bundle, go) == expected


def test_errors_are_oserrors_like_pythons(bundle):
    async def go(loop):
        with pytest.raises(OSError) as info:
            await sum_reads(9999, 100)
        return info.value

    error = run_with(bundle, go)
    with pytest.raises(OSError) as reference:
        os.read(9999, 100)
    assert (error.errno, error.strerror) == (reference.value.errno, reference.value.strerror)


def test_runaway_program_ends_with_eloop_and_the_loop_stays_usable(misbehaving, tmp_path):
    (tmp_path / "data").write_bytes(b"x" * 1000)

    async def go(loop):
        with pytest.raises(OSError) as info:
            await bpf.run("spin", max_steps=1000)
        ticks = []
        loop.call_soon(ticks.append, 1)
        with pytest.raises(OSError) as default:
            await bpf.run("spin")          # the default limit, 2**20 steps
        await asyncio.sleep(0)
        return info.value.errno, default.value.errno, ticks, await bpf.nop_chain(7)

    assert run_with(misbehaving, go) == (errno.ELOOP, errno.ELOOP, [1], 7)


def test_program_issuing_no_request_ends_with_eio(misbehaving):
    async def go(loop):
        with pytest.raises(OSError) as info:
            await bpf.run("idle")
        return info.value.errno, await bpf.nop_chain(3)

    assert run_with(misbehaving, go) == (errno.EIO, 3)


def test_program_issuing_two_requests_at_once_ends_with_einval(misbehaving):
    async def go(loop):
        with pytest.raises(OSError) as info:
            await bpf.run("twice")
        await asyncio.sleep(0.01)           # the cancelled first request comes back
        return info.value.errno, await bpf.nop_chain(3)

    assert run_with(misbehaving, go) == (errno.EINVAL, 3)


def test_bad_request_comes_back_to_the_program_as_an_error(misbehaving):
    async def go(loop):
        with pytest.raises(OSError) as info:
            await bpf.run("bad_sqe")
        return info.value.errno, await bpf.nop_chain(3)

    assert run_with(misbehaving, go) == (errno.EINVAL, 3)


def test_compile_error_raises_build_error_with_the_compiler_message(tmp_path):
    source = tmp_path / "broken.c"
    source.write_text(SUM_READS.replace("c->var[VAR_TOTAL] += res;",
                                       "c->var[VAR_TOTAL] += undefined_name;"))
    with pytest.raises(bpf.BuildError) as info:
        build([source], tmp_path / "broken.chain", native_only=True)
    assert "undefined_name" in str(info.value) and "undefined_name" in info.value.output
    assert isinstance(info.value, bpf.ChainProgramError)
    assert info.value.command[0].endswith("gcc")

    done = cli("build", str(source), "-o", str(tmp_path / "out.chain"),
               *([] if HAVE_CLANG else ["--native-only"]))   # else: "clang was not found"
    assert done.returncode == 1
    assert "error:" in done.stderr and "undefined_name" in done.stderr


@pytest.mark.skipif(not HAVE_CLANG, reason="needs clang")
def test_bpf_only_error_raises_build_error_from_clang(tmp_path):
    # Fine natively; BPF passes at most five arguments to a called function.
    source = tmp_path / "six.c"
    source.write_text(MISBEHAVING + """
__attribute__((noinline)) int six(int a, int b, int c, int d, int e, int f)
{
	return a + b + c + d + e + f;
}

static int six_args_start(struct aiouring_chain *c, struct chain_io *io)
{
	c->var[0] = six(c->arg[0], 1, 2, 3, 4, c->arg[1]);
	return chain_nop(io);
}

static int six_args_step(struct aiouring_chain *c, struct chain_io *io, __s32 res)
{
	return chain_finish(c, c->var[0]);
}

CHAIN_PROGRAM(six_args);
""")
    with pytest.raises(bpf.BuildError, match="the BPF build failed") as info:
        build([source], tmp_path / "six.chain")
    assert "too many arg" in info.value.output
    assert "clang" in info.value.command[0]
    assert not (tmp_path / "six.chain" / "manifest.json").exists()


def test_missing_compilers_raise_build_error(tmp_path, monkeypatch):
    source = tmp_path / "programs.c"
    source.write_text(SUM_READS)
    monkeypatch.setenv("CLANG", "/nonexistent/clang")
    with pytest.raises(bpf.BuildError, match="clang.*--native-only"):
        build([source], tmp_path / "a.chain")
    build([source], tmp_path / "b.chain", native_only=True)    # loop-side only: fine
    monkeypatch.setenv("CC", "/nonexistent/gcc")
    with pytest.raises(bpf.BuildError, match="C compiler"):
        build([source], tmp_path / "c.chain", native_only=True)


def test_sources_without_programs_or_with_clashing_names_are_refused(tmp_path):
    empty = tmp_path / "empty.c"
    empty.write_text('#include "chain.h"\n/* CHAIN_PROGRAM(commented_out); */\n')
    with pytest.raises(bpf.BuildError, match="no CHAIN_PROGRAM"):
        build([empty], native_only=True)
    clash = tmp_path / "clash.c"
    clash.write_text(MISBEHAVING.replace("spin", "copy"))
    with pytest.raises(bpf.BuildError, match="built-in"):
        build([clash], native_only=True)
    twice = tmp_path / "twice.c"
    twice.write_text(MISBEHAVING)
    with pytest.raises(bpf.BuildError, match="twice"):
        build([twice, twice], native_only=True)


def test_native_only_bundle_runs_loop_side_and_refuses_the_kernel(tmp_path):
    (tmp_path / "p.c").write_text(SUM_READS)
    bundle = build([tmp_path / "p.c"], tmp_path / "p.chain", native_only=True)
    assert json.loads((tmp_path / "p.chain" / "manifest.json").read_text())["bpf"] is None

    async def go(loop):
        r, w = os.pipe()
        os.write(w, b"abc")
        os.close(w)
        with open(r, "rb") as f:
            result = await sum_reads(f.fileno(), 2)
        with pytest.raises(RuntimeError):
            await bpf.run("sum_reads", 0, 0, 0, path="kernel")
        return result

    assert run_with(bundle, go) == 3


def test_registering_twice_or_a_stale_bundle_is_a_value_error(bundle, misbehaving, tmp_path):
    async def main():
        loop = asyncio.get_running_loop()
        loop.bpf.register(bundle)
        with pytest.raises(ValueError, match="already registered"):
            loop.bpf.register(bundle)
        with pytest.raises(ValueError, match="one bundle"):
            loop.bpf.register(misbehaving)
        with pytest.raises(ValueError, match="no chain program named"):
            await bpf.run("spin")
        return await bpf.nop_chain(2)

    assert aiouring.run(main()) == 2

    stale = tmp_path / "stale.chain"
    shutil.copytree(bundle, stale)
    manifest = json.loads((stale / "manifest.json").read_text())
    manifest["aiouring"] = "0.0.1"
    (stale / "manifest.json").write_text(json.dumps(manifest))

    async def stale_and_missing():
        with pytest.raises(ValueError, match="built for aiouring 0.0.1"):
            bpf.register(stale)
        with pytest.raises(ValueError, match="not a chain program bundle"):
            bpf.register(tmp_path)
        return bpf.program_names()

    assert aiouring.run(stale_and_missing()) == BUILTINS


def test_register_needs_an_aiouring_loop(bundle):
    async def main():
        with pytest.raises(RuntimeError, match="aiouring loop"):
            bpf.register(bundle)

    asyncio.run(main())

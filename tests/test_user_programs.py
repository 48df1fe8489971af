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

import program_bundles

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(aiouring.__file__)))
BUILTINS = ["copy", "read_frame", "pointer_chase", "recv_send", "nop_chain", "multi_read",
            "read_file", "btree_lookup", "splice_relay"]
USER = ["sum_reads", "header_body", "linked_pairs", "linked_body", "opcodes"]
HAVE_CLANG = program_bundles.have_clang()
KERNEL = aiouring.features()["bpf_loop"]

# Both paths give the same results; the kernel's runs where the kernel has
# the io_uring BPF struct_ops (the 7.x guest collects these tests again).
PATHS = ["loop-side", pytest.param("kernel", marks=pytest.mark.skipif(
    not KERNEL, reason=f"no kernel path here: {aiouring.features()['bpf_loop_reason']}"))]

# The programs, in tests/programs/ (the kernel tests build them too):
# sum_reads counts the bytes of file 0 until EOF; header_body reads a u64
# little-endian length, then that many bytes; linked_pairs copies blocks as
# linked read->write groups, all in flight at once; misbehaving.c's programs
# misbehave.
PROGRAMS_DIR = pathlib.Path(__file__).resolve().parent / "programs"
SUM_READS = (PROGRAMS_DIR / "sum_reads.c").read_text()
MISBEHAVING = (PROGRAMS_DIR / "misbehaving.c").read_text()


def cli(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "aiouring.bpf", *args], cwd=cwd,
                          env={**os.environ, "PYTHONPATH": ROOT, **(env or {})},
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def bundle():
    return program_bundles.bundle("programs")


@pytest.fixture(scope="module")
def misbehaving():
    return program_bundles.bundle("misbehaving")


def run_with(bundle, coro_fn):
    """coro_fn(loop) on a new loop with the bundle registered."""
    async def main():
        loop = asyncio.get_running_loop()
        loop.bpf.register(bundle)
        return await coro_fn(loop)
    return aiouring.run(main())


def loop_with(bundle):
    loop = aiouring.new_event_loop()
    loop.run_until_complete(_register(loop, bundle))
    return loop


async def _register(loop, bundle):
    loop.bpf.register(bundle)


@pytest.fixture(scope="module")
def programs(bundle):
    """One loop for the module's tests, with the bundle registered once (in
    the kernel, register() loads and verifies the dispatcher)."""
    loop = loop_with(bundle)
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def bad_programs(misbehaving):
    loop = loop_with(misbehaving)
    yield loop
    loop.close()


def run_on(loop, coro_fn):
    return loop.run_until_complete(coro_fn(loop))


async def sum_reads(fd, chunk, path=None):
    return await bpf.run("sum_reads", buffers=[bytearray(chunk)], files=[fd], path=path)


async def header_body(fd, max_size, path=None):
    buffer = bytearray(max(max_size, 8))
    length = await bpf.run("header_body", max_size, buffers=[buffer], files=[fd], path=path)
    return bytes(buffer[:length])


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
    assert manifest["programs"] == USER
    assert manifest["aiouring"] == aiouring.__version__
    assert manifest["first_index"] == len(BUILTINS)
    assert (bundle / "programs.so").read_bytes()[:4] == b"\x7fELF"
    if HAVE_CLANG:
        image = (bundle / "dispatcher.bpf.o").read_bytes()
        assert image[:4] == b"\x7fELF" and b".struct_ops" in image
        assert b"sum_reads_step" in image          # debug info names the user code
        assert manifest["bpf"] == "dispatcher.bpf.o"
        assert "-target bpf" in manifest["commands"]["bpf"]


@pytest.mark.host_only("the compilers and the command line, not the kernel")
def test_the_command_line_builds_a_bundle_and_names_its_programs(tmp_path):
    done = cli("build", *(str(PROGRAMS_DIR / f"{name}.c") for name in USER),
               "-o", str(tmp_path / "programs.chain"),
               *([] if HAVE_CLANG else ["--native-only"]), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert ", ".join(USER) in done.stdout
    manifest = json.loads((tmp_path / "programs.chain" / "manifest.json").read_text())
    assert manifest["programs"] == USER


def test_register_adds_programs_after_the_builtins(bundle):
    async def main():
        loop = asyncio.get_running_loop()
        assert loop.bpf.program_names() == BUILTINS
        assert bpf.register(bundle) == USER
        return loop.bpf.program_names(), bpf.program_names()

    assert aiouring.run(main()) == (BUILTINS + USER,) * 2


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("size,chunk", [(0, 10), (1, 1), (100_000, 4096), (65536, 65536)])
def test_sum_reads_counts_what_a_file_holds(programs, tmp_path, size, chunk, path):
    (tmp_path / "data").write_bytes(os.urandom(size))

    async def go(loop):
        with open(tmp_path / "data", "rb") as f:
            result = await sum_reads(f.fileno(), chunk, path)
        return result, result.steps, result.path

    assert run_on(programs, go) == (size, -(-size // chunk) + 1, path)   # every chunk, then EOF


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=40 if not os.environ.get("AIOURING_IN_KERNELVM") else 8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=3000), announced=st.one_of(st.none(), st.integers(0, 5000)),
       max_size=st.integers(0, 4000), cut=st.one_of(st.none(), st.integers(0, 3010)),
       pipe_chunks=st.integers(1, 4))
def test_header_body_matches_the_python_reference(programs, path, body, announced, max_size, cut,
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
            task = asyncio.ensure_future(header_body(r, max_size, path))
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

    assert run_on(programs, go) == expected


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("blocks,size,broken", [(1, 512, None), (7, 4096, None), (32, 100, None),
                                               (5, 4096, 3)])
def test_fan_out_of_linked_groups_over_buffer_indices(programs, tmp_path, path, blocks, size,
                                                      broken):
    """linked_pairs: a read->write linked group per block, every group in
    flight at once; the context region gathers the writes' results. A read
    past the end of its file (a short read breaks the link) cancels its own
    write and no other."""
    data = os.urandom(blocks * size)
    readable = data if broken is None else data[:broken * size + size // 2]
    (tmp_path / "in").write_bytes(readable)

    async def go(loop):
        with open(tmp_path / "in", "rb") as src, open(tmp_path / "out", "wb") as dst:
            result = await bpf.run("linked_pairs", blocks, size, buffers=[bytearray(blocks * size)],
                                   files=[src, dst], context=4 * blocks, path=path)
        return int(result), list(struct.unpack(f"<{blocks}i", result.context)), result.steps

    written, per_write, steps = run_on(programs, go)
    assert steps == 2 * blocks
    out = (tmp_path / "out").read_bytes()
    if broken is None:
        assert per_write == [size] * blocks and written == blocks * size
        assert out == data
    else:
        expected = [size] * blocks
        expected[broken] = -errno.ECANCELED
        expected[broken + 1:] = [-errno.ECANCELED] * (blocks - broken - 1)
        assert per_write == expected
        assert written == broken * size
        assert out == data[:broken * size]


@pytest.mark.parametrize("path", PATHS)
def test_errors_are_oserrors_like_pythons(programs, path):
    async def go(loop):
        with pytest.raises(OSError) as info:
            await sum_reads(9999, 100, path)
        return info.value

    error = run_on(programs, go)
    with pytest.raises(OSError) as reference:
        os.read(9999, 100)
    assert type(error) is type(reference.value)
    assert (error.errno, error.strerror) == (reference.value.errno, reference.value.strerror)


@pytest.mark.parametrize("path", PATHS)
def test_runaway_program_ends_with_eloop_and_the_loop_stays_usable(bad_programs, path):
    async def go(loop):
        with pytest.raises(OSError) as info:
            await bpf.run("spin", max_steps=1000, path=path)
        ticks = []
        loop.call_soon(ticks.append, 1)
        with pytest.raises(OSError) as default:
            await bpf.run("spin", path=path)          # the default limit, 2**20 steps
        await asyncio.sleep(0)
        return info.value.errno, default.value.errno, ticks, await bpf.nop_chain(7, path=path)

    assert run_on(bad_programs, go) == (errno.ELOOP, errno.ELOOP, [1], 7)


@pytest.mark.parametrize("path", PATHS)
def test_program_waiting_with_nothing_in_flight_ends_with_eio(bad_programs, path):
    async def go(loop):
        with pytest.raises(OSError) as info:
            await bpf.run("idle", path=path)
        return info.value.errno, await bpf.nop_chain(3, path=path)

    assert run_on(bad_programs, go) == (errno.EIO, 3)


# misuse(kind, a, b) in misbehaving.c, and what the driver answers.
MISUSE = {
    "buffer index": ((0, 3, 0), errno.EFAULT, "names buffer 3, but the chain was given 2 buffers"),
    "range": ((1, 4000, 200), errno.EFAULT, "bytes 4000..4200 of buffer 0 (writable, 4096 bytes)"),
    "huge range": ((1, 0xFFFFFFF0, 0x20), errno.EFAULT, "of buffer 0"),
    "read-only buffer": ((2, 1, 0), errno.EFAULT, "writes into buffer 1 (read-only, 3 bytes)"),
    "file index": ((3, 5, 0), errno.EBADF, "names file 5, but the chain was given 1 file"),
    "path from data": ((4, 0, 0), errno.EFAULT, "takes a path from buffer 0"),
    "too many": ((5, 0, 0), errno.EBUSY, "more than 64 requests in flight"),
    "direct descriptor": ((7, 9, 0), errno.EBADF, "direct descriptor"),
    "unlinked link_timeout": ((8, 0, 0), errno.EINVAL, "link_timeout must follow"),
}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", sorted(MISUSE))
def test_a_request_outside_what_was_handed_over_is_refused(bad_programs, tmp_path, path, case):
    """Each misuse ends its chain with ChainRequestError (an OSError) before
    anything reaches a ring: the file is never read, the buffers keep their
    bytes, and the loop goes on."""
    args, err, words = MISUSE[case]
    (tmp_path / "f").write_bytes(b"z" * 8192)
    buffer = bytearray(b"\x01" * 4096)

    async def go(loop):
        with open(tmp_path / "f", "rb") as f:
            with pytest.raises(bpf.ChainRequestError) as info:
                await bpf.run("misuse", *args, buffers=[buffer, b"abc"], files=[f], path=path)
            position = os.lseek(f.fileno(), 0, os.SEEK_CUR)
        return info.value, position, await bpf.nop_chain(2, path=path)

    error, position, after = run_on(bad_programs, go)
    assert isinstance(error, OSError) and isinstance(error, bpf.ChainProgramError)
    assert error.errno == err, error
    assert words in str(error) and "'misuse'" in str(error)
    assert buffer == b"\x01" * 4096 and position == 0 and after == 2


@pytest.mark.parametrize("path", PATHS)
def test_an_opcode_programs_may_not_use_is_refused(bad_programs, path):
    async def go(loop):
        with pytest.raises(bpf.ChainRequestError) as info:
            await bpf.run("bad_opcode", path=path)
        return info.value.errno, str(info.value), await bpf.nop_chain(3, path=path)

    code, message, after = run_on(bad_programs, go)
    assert (code, after) == (errno.EINVAL, 3)
    assert "opcode 1, which chain programs may not use" in message


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("offset", [4089, 4096, 1 << 31])
def test_chain_load_outside_a_buffer_fails_inside_the_program(bad_programs, path, offset):
    """chain_load() of a range it was not given reads nothing and returns
    -EFAULT to the program (here: its result)."""
    async def go(loop):
        with pytest.raises(OSError) as info:
            await bpf.run("misuse", 6, offset, buffers=[bytearray(4096)], path=path)
        return info.value

    error = run_on(bad_programs, go)
    assert error.errno == errno.EFAULT and not isinstance(error, bpf.ChainRequestError)


def test_raw_addresses_are_refused_and_buffers_stay_pinned(programs, tmp_path):
    """Chains take buffer objects, never addresses, and hold them until the
    chain ended: a bytearray a chain uses cannot be resized meanwhile."""
    async def go(loop):
        with pytest.raises(TypeError, match="not addresses"):
            await bpf.run("sum_reads", buffers=[id(tmp_path)], files=[0])
        r, w = os.pipe()
        buffer = bytearray(64)
        chain = bpf.start("sum_reads", buffers=[buffer], files=[r], path="loop-side")
        await asyncio.sleep(0.01)
        with pytest.raises(BufferError):
            buffer.extend(b"more")
        os.write(w, b"x" * 10)
        os.close(w)
        result = await chain
        buffer.extend(b"more")              # released once the chain ended
        os.close(r)
        return result, len(buffer)

    assert run_on(programs, go) == (10, 68)
    assert not hasattr(bpf, "buffer_address")


@pytest.mark.host_only("the compilers and the command line, not the kernel")
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


@pytest.mark.host_only("the compilers and the command line, not the kernel")
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
	return chain_nop(io, 0);
}

static int six_args_step(struct aiouring_chain *c, struct chain_io *io, __u32 tag, __s32 res)
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


@pytest.mark.host_only("the compilers and the command line, not the kernel")
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


@pytest.mark.host_only("the compilers and the command line, not the kernel")
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


def test_native_only_bundle_runs_loop_side_and_refuses_the_kernel():
    bundle = program_bundles.bundle("sum_reads_native")
    assert json.loads((bundle / "manifest.json").read_text())["bpf"] is None

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


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("body_size,room", [(0, 16), (1000, 4096), (5000, 4096)])
def test_program_attached_to_a_linked_chain(programs, tmp_path, path, body_size, room):
    """open + read the header as one linked chain; the program reads the body
    the header announces from the direct descriptor the chain opened, and
    closes it: one resume, no descriptor left behind."""
    from aiouring import ops
    body = os.urandom(body_size)
    (tmp_path / "record").write_bytes(struct.pack("<Q", body_size) + body)

    async def go(loop):
        header, target = bytearray(8), bytearray(room)
        opened = ops.openat(tmp_path / "record", os.O_RDONLY, direct=True)
        before = loop._link_stats()["direct_descriptors"]
        try:
            result = await aiouring.chain(opened, ops.read(opened, header, 0),
                                          program="linked_body", buffers=[header, target],
                                          path=path)
        except OSError as exc:
            return exc.errno, None, None, None
        return (int(result), bytes(target[:result]), result.linked,
                loop._link_stats()["direct_descriptors"] - before)

    value, data, linked, leaked = run_on(programs, go)
    if body_size > room:
        assert value == errno.EMSGSIZE
        return
    assert (value, data) == (body_size, body)
    assert linked == [None, 8]          # the steps' outcomes, as aiouring.chain() gives them
    assert leaked == 0


@pytest.mark.parametrize("path", PATHS)
def test_a_failing_linked_step_reaches_the_program_and_cancels_the_rest(programs, tmp_path, path):
    from aiouring import ops

    async def go(loop):
        opened = ops.openat(tmp_path / "missing", os.O_RDONLY, direct=True)
        header = bytearray(8)
        with pytest.raises(FileNotFoundError):
            await aiouring.chain(opened, ops.read(opened, header, 0), program="linked_body",
                                 buffers=[header, bytearray(16)], path=path)
        return await bpf.nop_chain(2, path=path)

    assert run_on(programs, go) == 2


def test_chain_arguments_are_checked(programs):
    from aiouring import ops

    async def go(loop):
        with pytest.raises(TypeError, match="program="):
            aiouring.chain(ops.nop(), buffers=[bytearray(1)])
        with pytest.raises(TypeError, match="timeout"):
            aiouring.chain(ops.nop(), program="linked_body", timeout=1)
        with pytest.raises(ValueError, match="at most 16 steps"):
            aiouring.chain(*[ops.nop()] * 17, program="linked_body")
        with pytest.raises(TypeError, match="aiouring.ops"):
            aiouring.chain("nop", program="linked_body")
        with pytest.raises(ValueError, match="no chain program named"):
            aiouring.chain(ops.nop(), program="nope")
        return True

    assert run_on(programs, go)


def opcode_results(result, count):
    return list(struct.unpack(f"<{count}i", result.context[:4 * count]))


@pytest.mark.parametrize("path", PATHS)
def test_openat_statx_read_fsync_close(programs, tmp_path, path):
    data = os.urandom(3000)
    (tmp_path / "f").write_bytes(data)

    async def go(loop):
        target = bytearray(4096)
        fds = len(os.listdir("/proc/self/fd"))
        result = await bpf.run("opcodes", 0, buffers=[tmp_path / "f", target], context=512,
                               path=path)
        size, = struct.unpack_from("<Q", result.context, 256 + 40)       # stx_size
        return (int(result), bytes(target[:result]), opcode_results(result, 5), size,
                len(os.listdir("/proc/self/fd")) - fds)

    read, got, results, size, leaked = run_on(programs, go)
    assert (read, got, size, leaked) == (3000, data, 3000, 0)
    assert results == [0, 0, 3000, 0, 0]        # openat (direct), statx, read, fsync, close


@pytest.mark.parametrize("path", PATHS)
def test_accept_connect_send_zc_recv(programs, path):
    import socket
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = socket.socket()
    payload = os.urandom(20000)

    async def go(loop):
        target = bytearray(len(payload))
        result = await bpf.run("opcodes", 1, files=[listener, client],
                               buffers=[bpf.sockaddr(client, listener.getsockname()), payload,
                                        target], context=16, path=path)
        return int(result), bytes(target), opcode_results(result, 4)

    try:
        received, got, results = run_on(programs, go)
    finally:
        listener.close()
        client.close()
    assert (received, got) == (len(payload), payload)
    assert results == [0, 0, len(payload), len(payload)]     # accept (direct), connect, send, recv


@pytest.mark.parametrize("path", PATHS)
def test_splice_through_a_pipe(programs, tmp_path, path):
    data = os.urandom(10000)
    (tmp_path / "in").write_bytes(data)

    async def go(loop):
        r, w = os.pipe()
        try:
            with open(tmp_path / "in", "rb") as src, open(tmp_path / "out", "wb") as dst:
                result = await bpf.run("opcodes", 2, 6000, files=[src, w, r, dst], context=8,
                                       path=path)
        finally:
            os.close(r)
            os.close(w)
        return int(result), opcode_results(result, 2)

    assert run_on(programs, go) == (6000, [6000, 6000])
    assert (tmp_path / "out").read_bytes() == data[:6000]


@pytest.mark.parametrize("path", PATHS)
def test_timeout_and_link_timeout(programs, path):
    import socket
    a, b = socket.socketpair()

    async def go(loop):
        start = loop.time()
        result = await bpf.run("opcodes", 3, 30_000_000, 10_000_000, files=[a],
                               buffers=[bytearray(1)], context=12, path=path)
        return int(result), opcode_results(result, 3), loop.time() - start

    try:
        value, results, elapsed = run_on(programs, go)
    finally:
        a.close()
        b.close()
    assert value == 0
    # the timeout expires; the recv is cancelled by its link_timeout, which expires
    assert results == [-errno.ETIME, -errno.ECANCELED, -errno.ETIME]
    assert 0.025 <= elapsed < 2

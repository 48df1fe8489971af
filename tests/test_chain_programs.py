"""The built-in chain programs, on both paths: loop-side here, and in the
kernel too where it has the io_uring BPF struct_ops (the Linux 7.x guest
runs this file). Each chain runs all its steps without Python, resumes the
coroutine once and gives the same results on either path."""

import asyncio
import errno
import os
import random
import socket
import struct

import pytest

import aiouring
import aiouring.bpf as bpf
from aiouring import ops
from aiouring.bpf import btree

pytestmark = pytest.mark.aiouring_only("chain programs are aiouring's")

KERNEL = aiouring.features()["bpf_loop"]
PATHS = ["loop-side", pytest.param("kernel", marks=pytest.mark.skipif(
    not KERNEL, reason=f"no kernel path here: {aiouring.features()['bpf_loop_reason']}"))]
BUILTINS = ["copy", "read_frame", "pointer_chase", "recv_send", "nop_chain", "multi_read",
            "read_file", "btree_lookup", "splice_relay"]


def completions(loop):
    return loop._ring_stats()["completions"]


async def test_program_names_and_path(aloop):
    assert bpf.program_names() == BUILTINS
    assert bpf.path() == ("kernel" if KERNEL else "loop-side")


class CountSuspensions:
    """Awaits a coroutine, counting how often it suspended (and so how often
    the loop had to resume Python for it)."""

    def __init__(self, coro):
        self.coro = coro
        self.suspensions = 0

    def __await__(self):
        inner = self.coro.__await__()
        value, error = None, None
        while True:
            try:
                future = inner.throw(error) if error else inner.send(value)
            except StopIteration as stop:
                return stop.value
            self.suspensions += 1
            try:
                value, error = (yield future), None
            except BaseException as exc:
                value, error = None, exc


async def test_nop_chain_runs_every_step_and_resumes_python_once(aloop):
    counted = CountSuspensions(bpf.nop_chain(500, path="loop-side"))
    before = completions(aloop)
    assert await counted == 500
    assert counted.suspensions == 1
    assert completions(aloop) - before >= 500       # every step was a real request


@pytest.mark.parametrize("path", PATHS)
async def test_copy_file_to_file(aloop, tmp_path, path):
    data = os.urandom(3 * 65536 + 123)
    (tmp_path / "src").write_bytes(data)
    with open(tmp_path / "src", "rb") as src, open(tmp_path / "dst", "wb") as dst:
        assert await bpf.copy(src, dst, chunk=65536, path=path) == len(data)
    assert (tmp_path / "dst").read_bytes() == data


@pytest.mark.parametrize("path", PATHS)
async def test_copy_respects_max_bytes_and_position(aloop, tmp_path, path):
    data = bytes(range(256)) * 100
    (tmp_path / "src").write_bytes(data)
    with open(tmp_path / "src", "rb") as src, open(tmp_path / "dst", "wb") as dst:
        os.lseek(src.fileno(), 100, os.SEEK_SET)
        assert await bpf.copy(src, dst, chunk=1000, max_bytes=2500, path=path) == 2500
        assert os.lseek(src.fileno(), 0, os.SEEK_CUR) == 2600
    assert (tmp_path / "dst").read_bytes() == data[100:2600]


@pytest.mark.parametrize("path", PATHS)
async def test_copy_socket_to_file(aloop, tmp_path, path):
    a, b = socket.socketpair()
    payload = os.urandom(200_000)
    writer = aloop.run_in_executor(None, lambda: (a.sendall(payload), a.close()))
    with open(tmp_path / "dst", "wb") as dst:
        assert await bpf.copy(b, dst, chunk=8192, path=path) == len(payload)
    await writer
    b.close()
    assert (tmp_path / "dst").read_bytes() == payload


@pytest.mark.parametrize("path", PATHS)
async def test_copy_errors(aloop, tmp_path, path):
    with pytest.raises(OSError) as info:
        await bpf.copy(987654, 1, path=path)
    assert info.value.errno == errno.EBADF
    assert info.value.strerror == os.strerror(errno.EBADF)      # text, not bytes
    with pytest.raises(ValueError):
        await bpf.copy(0, 1, chunk=0, path=path)


@pytest.mark.parametrize("path", PATHS)
async def test_read_frame(aloop, path):
    a, b = socket.socketpair()
    frames = [b"", b"x", os.urandom(70_000)]
    wire = b"".join(struct.pack(">I", len(f)) + f for f in frames)

    def send_slowly():
        for i in range(0, len(wire), 7001):     # frames split across reads
            a.sendall(wire[i:i + 7001])
        a.close()

    sender = aloop.run_in_executor(None, send_slowly)
    for frame in frames:
        assert await bpf.read_frame(b, max_size=100_000, path=path) == frame
    with pytest.raises(EOFError):
        await bpf.read_frame(b, path=path)
    await sender
    b.close()


@pytest.mark.parametrize("path", PATHS)
async def test_read_frame_rejects_oversized_and_truncated_frames(aloop, path):
    a, b = socket.socketpair()
    a.sendall(struct.pack(">I", 1 << 30))
    with pytest.raises(OSError) as info:
        await bpf.read_frame(b, max_size=1024, path=path)
    assert info.value.errno == errno.EMSGSIZE
    a.close()
    b.close()
    a, b = socket.socketpair()
    a.sendall(struct.pack(">I", 10) + b"abc")
    a.close()
    with pytest.raises(OSError) as info:
        await bpf.read_frame(b, path=path)
    assert info.value.errno == errno.EPROTO
    b.close()


@pytest.mark.parametrize("path", PATHS)
async def test_pointer_chase(aloop, tmp_path, path):
    block = 4096
    blocks = 64
    order = [5, 17, 3, 60, 42, 8, 1, 33]
    image = bytearray(block * blocks)
    for here, there in zip(order, order[1:]):
        struct.pack_into("<Q", image, here * block + 16, there * block)
    for i in range(blocks):
        image[i * block + 100:i * block + 104] = struct.pack("<I", i)
    (tmp_path / "index").write_bytes(image)
    with open(tmp_path / "index", "rb") as f:
        offset, data = await bpf.pointer_chase(f, order[0] * block, len(order),
                                               block=block, field=16, path=path)
        assert offset == order[-1] * block
        assert struct.unpack_from("<I", data, 100)[0] == order[-1]
        # A pointer past the end of the file ends the chain with EIO.
        struct.pack_into("<Q", image, order[-1] * block + 16, block * blocks * 2)
        (tmp_path / "index").write_bytes(image)
        with pytest.raises(OSError) as info:
            await bpf.pointer_chase(f, order[0] * block, len(order) + 1,
                                    block=block, field=16, path=path)
        assert info.value.errno == errno.EIO
    with pytest.raises(ValueError):
        await bpf.pointer_chase(0, 0, 1, block=16, field=12, path=path)


async def relay_through(aloop, relay, payload, path):
    client, proxy_in = socket.socketpair()
    proxy_out, server = socket.socketpair()
    sender = aloop.run_in_executor(None, lambda: (client.sendall(payload),
                                                  client.shutdown(socket.SHUT_WR)))

    def receive_all():
        chunks = []
        while chunk := server.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)

    receiver = aloop.run_in_executor(None, receive_all)
    relayed = await relay(proxy_in, proxy_out, chunk=16384, path=path)
    proxy_out.shutdown(socket.SHUT_WR)
    await sender
    received = await receiver
    for sock in (client, proxy_in, proxy_out, server):
        sock.close()
    return relayed, received


@pytest.mark.parametrize("path", PATHS)
async def test_recv_send_relays_until_eof(aloop, path):
    payload = os.urandom(500_000)
    assert await relay_through(aloop, bpf.recv_send, payload, path) == (len(payload), payload)


@pytest.mark.parametrize("path", PATHS)
async def test_splice_relay_moves_a_stream_through_a_pipe(aloop, path):
    payload = os.urandom(700_000)
    await bpf.nop_chain(1, path=path)           # the program ring runs (in the kernel)
    fds_before = len(os.listdir("/proc/self/fd"))
    assert await relay_through(aloop, bpf.splice_relay, payload, path) == (len(payload), payload)
    assert len(os.listdir("/proc/self/fd")) == fds_before      # its pipe is closed


@pytest.mark.parametrize("path", PATHS)
async def test_multi_read_gathers_many_reads_in_one_chain(aloop, tmp_path, path):
    data = os.urandom(200 * 4096 + 100)
    (tmp_path / "data").write_bytes(data)
    offsets = [random.randrange(0, 200) * 4096 for _ in range(100)] + [200 * 4096, 300 * 4096]
    before = aloop.completions_to_python()
    with open(tmp_path / "data", "rb") as f:
        counted = CountSuspensions(bpf.multi_read(f, offsets, 4096, path=path))
        blocks = await counted
    assert counted.suspensions == 1
    assert blocks == [data[o:o + 4096] for o in offsets]     # the last two: short, empty
    assert aloop.completions_to_python() - before <= 1        # one reached Python, if any


@pytest.mark.parametrize("path", PATHS)
async def test_multi_read_into_a_buffer_and_its_errors(aloop, tmp_path, path):
    data = os.urandom(64 * 512)
    (tmp_path / "data").write_bytes(data)
    target = ops.buffer(64 * 512)
    with open(tmp_path / "data", "rb") as f:
        counts = await bpf.multi_read(f, [i * 512 for i in reversed(range(64))], 512,
                                      into=target, path=path)
        assert counts == [512] * 64
        assert bytes(target) == b"".join(data[i * 512:(i + 1) * 512]
                                         for i in reversed(range(64)))
        assert await bpf.multi_read(f, [], path=path) == []
        with pytest.raises(ValueError, match="at most 256"):
            await bpf.multi_read(f, [0] * 257, 1, path=path)
    with pytest.raises(OSError) as info:
        await bpf.multi_read(9999, [0, 4096], path=path)
    assert info.value.errno == errno.EBADF


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("size", [0, 1, 65536, 65537, 300_000])
async def test_read_file_opens_sizes_reads_and_closes(aloop, tmp_path, path, size):
    data = os.urandom(size)
    (tmp_path / "file").write_bytes(data)
    await bpf.nop_chain(1, path=path)           # the program ring runs (in the kernel)
    fds_before = len(os.listdir("/proc/self/fd"))
    assert await bpf.read_file(tmp_path / "file", path=path) == data
    assert await bpf.read_file(str(tmp_path / "file"), path=path) == data
    assert len(os.listdir("/proc/self/fd")) == fds_before
    assert aloop._link_stats()["direct_descriptors"] == 0


@pytest.mark.parametrize("path", PATHS)
async def test_read_file_errors_are_the_os_modules(aloop, tmp_path, path):
    with pytest.raises(FileNotFoundError):
        await bpf.read_file(tmp_path / "missing", path=path)
    with pytest.raises(IsADirectoryError):
        await bpf.read_file(tmp_path, path=path)


@pytest.fixture(scope="module")
def btree_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("btree") / "index"
    keys = random.Random(3).sample(range(1, 1 << 40), 4 ** 6)
    root, depth = btree.write(path, [(k, btree.value_for(k)) for k in keys], fanout=4)
    return path, keys, root, depth


def open_direct(path):
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECT)
    except OSError as exc:
        pytest.skip(f"O_DIRECT is not supported here: {exc}")


@pytest.mark.parametrize("path", PATHS)
async def test_btree_lookup_walks_one_block_per_level(aloop, btree_file, path):
    name, keys, root, depth = btree_file
    assert depth == 6
    fd = open_direct(name)
    try:
        buffer = ops.buffer(btree.BLOCK)
        for key in random.Random(4).sample(keys, 50):
            counted = CountSuspensions(bpf.btree_lookup(fd, key, root=root, buffer=buffer,
                                                        path=path))
            assert await counted == btree.value_for(key)
            assert counted.suspensions == 1
        for key in (0, max(keys) + 1, sorted(keys)[10] + 1):
            assert key in keys or await bpf.btree_lookup(fd, key, root=root, path=path) is None
        result = await bpf.run("btree_lookup", keys[0], root, 32, buffers=[buffer], files=[fd],
                               context=btree.RECORD, path=path)
        assert (result, result.steps) == (1, depth)
        with open(name, "rb") as plain:
            assert btree.lookup_sync(plain.fileno(), keys[0], root) == btree.value_for(keys[0])
        with pytest.raises(OSError) as info:
            await bpf.btree_lookup(fd, keys[0], root=root, max_depth=3, path=path)
        assert info.value.errno == errno.ELOOP
        with pytest.raises(OSError) as info:
            await bpf.btree_lookup(fd, keys[0], root=root + 10 ** 6, path=path)
        assert info.value.errno == errno.EIO                  # past the end of the file
    finally:
        os.close(fd)


@pytest.mark.parametrize("path", PATHS)
async def test_runaway_chain_ends_with_eloop_and_loop_goes_on(aloop, path):
    with pytest.raises(OSError) as info:
        await bpf.run("nop_chain", 1000, max_steps=10, path=path)
    assert info.value.errno == errno.ELOOP
    assert await bpf.nop_chain(3, path=path) == 3


@pytest.mark.parametrize("path", PATHS)
async def test_cancelling_a_chain_stops_it(aloop, path):
    a, b = socket.socketpair()
    task = asyncio.ensure_future(bpf.read_frame(b, path=path))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The receive was cancelled in the kernel: the next frame is whole.
    a.sendall(struct.pack(">I", 2) + b"ok")
    assert await bpf.read_frame(b, path=path) == b"ok"
    a.close()
    b.close()


@pytest.mark.parametrize("path", PATHS)
async def test_cancelling_a_fanned_out_chain_awaits_every_request(aloop, path):
    """multi_read of a pipe that never gets data: 16 reads in flight; a
    cancelled chain resumes the coroutine only once the kernel gave all of
    them back, and the buffer is free then."""
    r, w = os.pipe()
    target = bytearray(16 * 16)
    chain = bpf.start("multi_read", 16, 16, buffers=[target, bytes(16 * 8)], files=[r],
                      path=path)
    task = asyncio.ensure_future(_await(chain))
    await asyncio.sleep(0.02)
    assert not chain.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert chain.done()
    target.extend(b"x")                  # no export held any more
    os.close(r)
    os.close(w)


async def _await(awaitable):
    return await awaitable


async def test_long_chain_does_not_stall_timers(aloop, tmp_path):
    """Nor does starting the program ring on the first chain (its thread
    loads and verifies the dispatcher while that chain runs loop-side)."""
    fired = []
    start = aloop.time()
    aloop.call_later(0.01, lambda: fired.append(aloop.time() - start))
    await bpf.nop_chain(200_000)
    assert fired and fired[0] < 0.5


@pytest.mark.parametrize("path", PATHS)
async def test_context_region_while_the_chain_runs(aloop, tmp_path, path):
    """start() gives a RunningChain whose context() reads what the program
    wrote so far: multi_read's per-read results, as they complete."""
    r, w = os.pipe()
    chain = bpf.start("multi_read", 2, 4, buffers=[bytearray(8), struct.pack("<2Q", 0, 0)],
                      files=[r], context=8, path=path)
    await asyncio.sleep(0.01)
    assert chain.context() == bytes(8)          # nothing read yet
    os.write(w, b"abcd")
    for _ in range(200):
        await asyncio.sleep(0.005)
        if chain.context() != bytes(8):
            break
    assert struct.unpack("<2i", chain.context()).count(4) == 1     # one read done
    os.write(w, b"efgh")
    result = await chain
    assert (result, result.context, chain.context()) == (2, struct.pack("<2i", 4, 4),
                                                          struct.pack("<2i", 4, 4))
    os.close(r)
    os.close(w)


def test_chain_programs_need_an_aiouring_loop():
    loop = asyncio.SelectorEventLoop()
    try:
        with pytest.raises(RuntimeError, match="aiouring loop"):
            loop.run_until_complete(bpf.nop_chain(1))
    finally:
        loop.close()


async def test_unknown_program_and_bad_arguments(aloop):
    with pytest.raises(ValueError):
        await bpf.run("no-such-program")
    with pytest.raises(TypeError, match="integers"):
        await bpf.run("nop_chain", 1.5)
    with pytest.raises(ValueError, match="at most 8 arguments"):
        await bpf.run("nop_chain", *range(9))
    with pytest.raises(ValueError, match="at most 8 buffers"):
        await bpf.run("nop_chain", 1, buffers=[bytearray(1)] * 9)
    with pytest.raises(TypeError, match="list of buffers"):
        await bpf.run("nop_chain", 1, buffers=bytearray(1))
    with pytest.raises(ValueError, match="context"):
        await bpf.run("nop_chain", 1, context=2000)


@pytest.mark.parametrize("path", PATHS)
async def test_results_say_where_the_chain_ran(aloop, path):
    result = await bpf.nop_chain(40, path=path)
    assert result == 40 and isinstance(result, bpf.ChainResult)
    assert (result.path, result.steps, result.context, result.linked) == (path, 40, b"", None)


async def test_results_print_as_numbers(aloop):
    result = await bpf.nop_chain(12)
    assert str(result) == f"{result}" == "12"
    assert repr(result) == f"ChainResult(12, path={result.path!r}, steps=12)"

"""Chain programs on the loop-side path (this kernel has no io_uring BPF
hooks; tests/kernel/ runs the same programs in the kernel). Each chain runs
all its steps without Python and resumes the coroutine once."""

import asyncio
import errno
import os
import socket
import struct

import pytest

import aiouring
import aiouring.bpf as bpf

pytestmark = pytest.mark.aiouring_only("chain programs are aiouring's")


def completions(loop):
    return loop._ring_stats()["completions"]


async def test_program_names_and_path(aloop):
    assert bpf.program_names() == ["copy", "read_frame", "pointer_chase", "recv_send",
                                   "nop_chain", "multi_read", "read_file", "btree_lookup",
                                   "splice_relay"]
    assert bpf.path() == ("kernel" if aiouring.features()["bpf_loop"] else "loop-side")


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


async def test_copy_file_to_file(aloop, tmp_path):
    data = os.urandom(3 * 65536 + 123)
    (tmp_path / "src").write_bytes(data)
    with open(tmp_path / "src", "rb") as src, open(tmp_path / "dst", "wb") as dst:
        assert await bpf.copy(src, dst, chunk=65536) == len(data)
    assert (tmp_path / "dst").read_bytes() == data


async def test_copy_respects_max_bytes_and_position(aloop, tmp_path):
    data = bytes(range(256)) * 100
    (tmp_path / "src").write_bytes(data)
    with open(tmp_path / "src", "rb") as src, open(tmp_path / "dst", "wb") as dst:
        os.lseek(src.fileno(), 100, os.SEEK_SET)
        assert await bpf.copy(src, dst, chunk=1000, max_bytes=2500) == 2500
        assert os.lseek(src.fileno(), 0, os.SEEK_CUR) == 2600
    assert (tmp_path / "dst").read_bytes() == data[100:2600]


async def test_copy_socket_to_file(aloop, tmp_path):
    a, b = socket.socketpair()
    payload = os.urandom(200_000)
    writer = aloop.run_in_executor(None, lambda: (a.sendall(payload), a.close()))
    with open(tmp_path / "dst", "wb") as dst:
        assert await bpf.copy(b, dst, chunk=8192) == len(payload)
    await writer
    b.close()
    assert (tmp_path / "dst").read_bytes() == payload


async def test_copy_errors(aloop, tmp_path):
    with pytest.raises(OSError) as info:
        await bpf.copy(987654, 1)
    assert info.value.errno == errno.EBADF
    assert info.value.strerror == os.strerror(errno.EBADF)      # text, not bytes
    with pytest.raises(ValueError):
        await bpf.copy(0, 1, chunk=0)


async def test_read_frame(aloop):
    a, b = socket.socketpair()
    frames = [b"", b"x", os.urandom(70_000)]
    wire = b"".join(struct.pack(">I", len(f)) + f for f in frames)

    def send_slowly():
        for i in range(0, len(wire), 7001):     # frames split across reads
            a.sendall(wire[i:i + 7001])
        a.close()

    sender = aloop.run_in_executor(None, send_slowly)
    for frame in frames:
        assert await bpf.read_frame(b, max_size=100_000) == frame
    with pytest.raises(EOFError):
        await bpf.read_frame(b)
    await sender
    b.close()


async def test_read_frame_rejects_oversized_and_truncated_frames(aloop):
    a, b = socket.socketpair()
    a.sendall(struct.pack(">I", 1 << 30))
    with pytest.raises(OSError) as info:
        await bpf.read_frame(b, max_size=1024)
    assert info.value.errno == errno.EMSGSIZE
    a.close()
    b.close()
    a, b = socket.socketpair()
    a.sendall(struct.pack(">I", 10) + b"abc")
    a.close()
    with pytest.raises(OSError) as info:
        await bpf.read_frame(b)
    assert info.value.errno == errno.EPROTO
    b.close()


async def test_pointer_chase(aloop, tmp_path):
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
                                               block=block, field=16)
        assert offset == order[-1] * block
        assert struct.unpack_from("<I", data, 100)[0] == order[-1]
        # A pointer past the end of the file ends the chain with EIO.
        struct.pack_into("<Q", image, order[-1] * block + 16, block * blocks * 2)
        (tmp_path / "index").write_bytes(image)
        with pytest.raises(OSError) as info:
            await bpf.pointer_chase(f, order[0] * block, len(order) + 1,
                                    block=block, field=16)
        assert info.value.errno == errno.EIO
    with pytest.raises(ValueError):
        await bpf.pointer_chase(0, 0, 1, block=16, field=12)


async def test_recv_send_relays_until_eof(aloop):
    client, proxy_in = socket.socketpair()
    proxy_out, server = socket.socketpair()
    payload = os.urandom(500_000)
    sender = aloop.run_in_executor(None, lambda: (client.sendall(payload),
                                                  client.shutdown(socket.SHUT_WR)))

    def receive_all():
        chunks = []
        while chunk := server.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)

    receiver = aloop.run_in_executor(None, receive_all)
    assert await bpf.recv_send(proxy_in, proxy_out, chunk=16384) == len(payload)
    proxy_out.shutdown(socket.SHUT_WR)
    await sender
    assert await receiver == payload
    for sock in (client, proxy_in, proxy_out, server):
        sock.close()


async def test_runaway_chain_ends_with_eloop_and_loop_goes_on(aloop):
    with pytest.raises(OSError) as info:
        await bpf.run("nop_chain", 1000, max_steps=10)
    assert info.value.errno == errno.ELOOP
    assert await bpf.nop_chain(3) == 3


async def test_cancelling_a_chain_stops_it(aloop):
    a, b = socket.socketpair()
    task = asyncio.ensure_future(bpf.read_frame(b))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The receive was cancelled in the kernel: the next frame is whole.
    a.sendall(struct.pack(">I", 2) + b"ok")
    assert await bpf.read_frame(b) == b"ok"
    a.close()
    b.close()


async def test_long_chain_does_not_stall_timers(aloop, tmp_path):
    fired = []
    start = aloop.time()
    aloop.call_later(0.01, lambda: fired.append(aloop.time() - start))
    await bpf.nop_chain(200_000)
    assert fired and fired[0] < 0.5


def test_chain_programs_need_an_aiouring_loop():
    loop = asyncio.SelectorEventLoop()
    try:
        with pytest.raises(RuntimeError, match="aiouring loop"):
            loop.run_until_complete(bpf.nop_chain(1))
    finally:
        loop.close()


async def test_unknown_program(aloop):
    with pytest.raises(ValueError):
        await bpf.run("no-such-program")


async def test_results_say_where_the_chain_ran(aloop):
    result = await bpf.nop_chain(40)
    assert result == 40 and isinstance(result, bpf.ChainResult)
    assert result.path == bpf.path()        # the kernel where it can (in the 7.x guest)
    assert result.steps == 40
    forced = await bpf.run("nop_chain", 3, path="loop-side")
    assert (forced, forced.path, forced.steps) == (3, "loop-side", 3)


async def test_results_print_as_numbers(aloop):
    result = await bpf.nop_chain(12)
    assert str(result) == f"{result}" == "12"
    assert repr(result) == f"ChainResult(12, path={result.path!r}, steps=12)"

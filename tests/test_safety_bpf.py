"""Chain programs never write where the caller did not hand over a buffer:
run() takes buffer objects that the operation pins (resizing one while the
chain runs raises BufferError), a raw integer where a buffer belongs is never
trusted as an address, and keepalive= pins what it holds. Each case runs in a
child process, since the defects corrupt memory."""

import textwrap

import pytest

from child_process import run_python

pytestmark = [pytest.mark.aiouring_only("chain programs are aiouring's"),
              pytest.mark.timeout(120)]

PRELUDE = """
    import asyncio, os, socket, struct, aiouring
    import aiouring.bpf as bpf

    def frame(body):
        return struct.pack(">I", len(body)) + body
"""


def run_child(body, tmp_path):
    return run_python(textwrap.dedent(PRELUDE) + textwrap.dedent(body), tmp_path)


RAW_ADDRESS_PROGRAM = """
    async def main():
        a, b = socket.socketpair()
        victim = [1, 2, 3]
        b.sendall(frame(b"\\xff" * 48))
        try:
            await bpf.run("read_frame", 64, buffers=[id(victim)], files=[a])
        except (TypeError, ValueError) as exc:
            print("refused", type(exc).__name__)
        print("victim", victim)
    aiouring.run(main())
"""


def test_run_never_writes_through_a_raw_integer_address(tmp_path):
    rc, out, err = run_child(RAW_ADDRESS_PROGRAM, tmp_path)
    assert rc == 0, f"child died ({rc}): {err[-2000:]}"
    assert "victim [1, 2, 3]" in out, out


PINNED_BUFFER_PROGRAM = """
    async def main():
        a, b = socket.socketpair()
        a.setblocking(False)
        buf = bytearray(64)
        task = asyncio.ensure_future(bpf.run("read_frame", 64, buffers=[buf], files=[a]))
        await asyncio.sleep(0.05)           # the chain waits for the header
        try:
            buf.extend(bytes(1 << 16))
            print("resized")
        except BufferError:
            print("pinned")
        b.sendall(frame(b"body"))
        n = await asyncio.wait_for(task, 10)
        print("result", int(n), bytes(buf[:n]))
        buf.extend(b"after")                # released once the chain is over
        print("released")
    aiouring.run(main())
"""


def test_run_pins_a_buffer_argument_for_the_chain(tmp_path):
    rc, out, err = run_child(PINNED_BUFFER_PROGRAM, tmp_path)
    assert rc == 0, f"child died ({rc}): {err[-2000:]}"
    assert out.split("\n")[:3] == ["pinned", "result 4 b'body'", "released"], out


KEEPALIVE_PROGRAM = """
    async def main():
        if not hasattr(bpf, "buffer_address"):
            print("no raw addresses")
            return
        a, b = socket.socketpair()
        buf = bytearray(64)
        address = bpf.buffer_address(buf)
        task = asyncio.ensure_future(
            bpf.run("read_frame", a.fileno(), address, 64, keepalive=buf))
        await asyncio.sleep(0.05)
        try:
            buf.extend(bytes(1 << 16))      # moves the data: address is freed memory
            print("resized")
        except BufferError:
            print("pinned")
        others = [bytearray(64) for _ in range(256)]
        b.sendall(frame(b"Z" * 60))
        await asyncio.wait_for(task, 10)
        print("overwritten", sum(1 for other in others if b"Z" in other))
    aiouring.run(main())
"""


def test_keepalive_pins_the_buffer_behind_a_raw_address(tmp_path):
    rc, out, err = run_child(KEEPALIVE_PROGRAM, tmp_path)
    assert rc == 0, f"child died ({rc}): {err[-2000:]}"
    assert out.split("\n")[0] in ("pinned", "no raw addresses"), out

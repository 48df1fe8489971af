"""What a type checker sees of aiouring's public API: tests/test_types.py
runs mypy --strict on this file and compares each reveal_type() with the
type written beside it."""

import socket
from typing import reveal_type

import aiouring
from aiouring import ops


async def main(sock: socket.socket) -> None:
    loop = aiouring.new_event_loop()
    reveal_type(loop)  # aiouring.loop.Loop
    reveal_type(aiouring.new_event_loop(fallback="asyncio"))  # asyncio.events.AbstractEventLoop
    async with aiouring.open("notes.txt", "w", encoding="utf-8") as text:
        reveal_type(text)  # aiouring.text.AsyncTextIOWrapper
        reveal_type(await text.write("line\n"))  # int
    async with aiouring.open("data.bin", "rb") as binary:
        reveal_type(binary)  # aiouring.buffered.AsyncBufferedFile
        reveal_type(await binary.read())  # bytes
    async with aiouring.open("data.bin", "rb", buffering=0) as raw:
        reveal_type(raw)  # aiouring.rawfile.AsyncFileIO
    reveal_type(await aiouring.fs.stat("notes.txt"))  # os.stat_result
    reveal_type(await aiouring.read_bytes("data.bin"))  # bytes
    reveal_type(await aiouring.os.listdir("."))  # list[str]
    reveal_type(ops.read(0, 16))  # aiouring._ring.ReadStep
    reveal_type(ops.buffer(4096))  # aiouring._ring.AlignedBuffer
    reveal_type(await aiouring.chain(ops.nop()))  # list[Any]
    reveal_type(await loop.sock_recv(sock, 16))  # bytes
    reveal_type(loop._files.splice_pump(0, 0, 1))  # aiouring._ring.SplicePump
    reveal_type(loop._links.stats()["direct_descriptors"])  # int
    reveal_type(loop._programs.names())  # list[str]
    reveal_type(aiouring.CANCELLED)  # aiouring._ring._Cancelled

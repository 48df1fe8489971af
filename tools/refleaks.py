#!/usr/bin/env python3
"""Reference-leak check of the loop's workloads, in the spirit of CPython's
`regrtest -R`: each workload runs in rounds, each round on a new loop that
is closed and collected, and after a few warm-up rounds the growth of the
interpreter's total reference count (sys.gettotalrefcount, debug builds
only) and of its allocated memory blocks is measured per round. A workload
leaks when every measured round grows by more than a loop's own noise
(asyncio's loop leaves up to two references a round on a debug CPython
3.14); asyncio's loop runs the same workloads, where they exist on it, for
comparison. A canary workload that keeps three lists a round runs first and
must be reported, or the check itself is broken.

    python tools/refleaks.py                 # every workload, both loops
    python tools/refleaks.py sockets files   # some workloads
    python tools/refleaks.py --rounds 8 --warmup 4 --loops aiouring

Exits 0 when no workload leaks on aiouring's loop, 1 otherwise (or when the
canary goes unnoticed), 2 on a build without sys.gettotalrefcount.
"""

import argparse
import asyncio
import gc
import os
import socket
import subprocess
import sys
import tempfile

import aiouring

# Per round, what a closed and collected loop may leave without counting as
# a leak of the workload: asyncio's own loop leaves up to this much on a
# debug CPython 3.14 (its transports workload: 0 to 2 references a round).
LOOP_ALLOWANCE = {"refs": 2, "blocks": 2}


# -- workloads: each is a coroutine run to completion on a fresh loop ---------

async def sockets(loop):
    """sock_connect/accept, sock_sendall, sock_recv, sock_recv_into, UDP."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.setblocking(False)
    client = socket.socket()
    client.setblocking(False)
    accepting = loop.create_task(loop.sock_accept(server))
    await loop.sock_connect(client, server.getsockname())
    peer, _ = await accepting
    buffer = bytearray(4096)
    for _ in range(20):
        await loop.sock_sendall(client, b"x" * 4096)
        received = 0
        while received < 4096:
            received += await loop.sock_recv_into(peer, buffer)
        await loop.sock_sendall(peer, b"y" * 1000)
        assert len(await loop.sock_recv(client, 1000)) > 0
    a, b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM), socket.socket(
        socket.AF_INET, socket.SOCK_DGRAM)
    for s in (a, b):
        s.setblocking(False)
        s.bind(("127.0.0.1", 0))
    for _ in range(10):
        await loop.sock_sendto(a, b"datagram", b.getsockname())
        await loop.sock_recvfrom(b, 100)
    for s in (server, client, peer, a, b):
        s.close()


async def transports(loop):
    """Stream echo (start_server/open_connection), a datagram endpoint,
    subprocess pipes."""
    async def echo(reader, writer):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    for _ in range(3):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(10):
            writer.write(b"z" * 20000)
            await reader.readexactly(20000)
        writer.close()
        await writer.wait_closed()
    server.close()
    await server.wait_closed()

    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport):
            self.transport = transport

        def datagram_received(self, data, addr):
            self.transport.sendto(data, addr)

    endpoint, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
    got = loop.create_future()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data, addr):
            if not got.done():
                got.set_result(data)

    client, _ = await loop.create_datagram_endpoint(
        Client, remote_addr=endpoint.get_extra_info("sockname"))
    client.sendto(b"ping")
    assert await asyncio.wait_for(got, 5) == b"ping"
    client.close()
    endpoint.close()

    proc = await asyncio.create_subprocess_exec(
        "cat", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out, _ = await proc.communicate(b"q" * 100000)
    assert len(out) == 100000


async def files(loop):
    """aiouring.open (read, write, seek), aiouring.fs calls."""
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "data.bin")
        async with aiouring.open(path, "wb") as f:
            for _ in range(10):
                await f.write(b"w" * 10000)
        async with aiouring.open(path, "rb") as f:
            while await f.read(8192):
                pass
            await f.seek(0)
            assert len(await f.read()) == 100000
        async with aiouring.open(path, "r+", encoding="utf-8") as f:
            await f.write("text")
        assert (await aiouring.fs.stat(path)).st_size == 100000
        await aiouring.fs.rename(path, path + ".2")
        await aiouring.fs.unlink(path + ".2")


async def chains(loop):
    """Linked chains: open (direct) -> read -> close, with a timeout."""
    from aiouring import ops
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "data.bin")
        with open(path, "wb") as f:
            f.write(b"c" * 65536)
        for _ in range(10):
            buffer = ops.buffer(65536)
            opened = ops.openat(path, direct=True)
            _, nread, _ = await aiouring.chain(opened, ops.read(opened, buffer, 0),
                                               ops.close(opened), timeout=5)
            assert nread == 65536
        await aiouring.chain(ops.nop(), ops.nop())


async def chain_programs(loop):
    """Built-in chain programs (loop-side here): copy and nop_chain."""
    import aiouring.bpf as bpf
    with tempfile.TemporaryDirectory() as directory:
        source, target = os.path.join(directory, "in"), os.path.join(directory, "out")
        with open(source, "wb") as f:
            f.write(b"p" * 300000)
        for _ in range(3):
            with open(source, "rb") as fin, open(target, "wb") as fout:
                assert await bpf.copy(fin, fout, chunk=65536) == 300000
        assert await bpf.nop_chain(20) == 20


async def cancellations(loop):
    """Cancelled sock_recv (the result saved for the next call), cancelled
    chains and sleeps, wait_for timeouts."""
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    for _ in range(10):
        task = loop.create_task(loop.sock_recv(b, 100))
        await asyncio.sleep(0)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        await loop.sock_sendall(a, b"data")
        assert await loop.sock_recv(b, 100) == b"data"
        try:
            await asyncio.wait_for(loop.sock_recv(b, 100), 0.001)
        except TimeoutError:
            pass
        await loop.sock_sendall(a, b"more")
        assert await loop.sock_recv(b, 100) == b"more"
    if isinstance(loop, aiouring.Loop):
        from aiouring import ops
        for _ in range(5):
            task = loop.create_task(aiouring.chain(ops.timeout(10)))
            await asyncio.sleep(0)
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, aiouring.ChainCancelledError):
                pass
    a.close()
    b.close()


async def timers(loop):
    """call_later, call_at, cancelled timers, sleeps, call_soon_threadsafe."""
    fired = []
    handles = [loop.call_later(0.001 * i, fired.append, i) for i in range(20)]
    for handle in handles[::2]:
        handle.cancel()
    loop.call_at(loop.time() + 0.002, fired.append, "at")
    loop.call_soon_threadsafe(fired.append, "threadsafe")
    for _ in range(10):
        await asyncio.sleep(0)
    await asyncio.sleep(0.03)
    assert "at" in fired and "threadsafe" in fired and len(fired) == 12


# What a leak looks like: a few objects kept per round. The check must
# report it, or it could not report anything.
LEAKED = []


async def canary(loop):
    LEAKED.append([[loop.time()], [loop.time()]])


WORKLOADS = {f.__name__: f for f in (sockets, transports, files, chains, chain_programs,
                                     cancellations, timers)}
AIOURING_ONLY = {"chains", "chain_programs"}
LOOPS = {"aiouring": aiouring.new_event_loop, "asyncio": asyncio.new_event_loop}


def run_round(workload, factory):
    loop = factory()
    try:
        loop.run_until_complete(workload(loop))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()


def measure(workload, factory, warmup, rounds):
    """Per-round growth of (total references, allocated blocks)."""
    for _ in range(warmup):
        run_round(workload, factory)
    # Made before measuring, so that the measurement itself allocates nothing.
    refs, blocks = [0] * rounds, [0] * rounds
    refs_before = blocks_before = refs_after = blocks_after = 0
    for number in range(rounds + 1):
        gc.collect()
        refs_after, blocks_after = sys.gettotalrefcount(), sys.getallocatedblocks()
        if number:
            refs[number - 1] = refs_after - refs_before
            blocks[number - 1] = blocks_after - blocks_before
            if number == rounds:
                break
        refs_before, blocks_before = sys.gettotalrefcount(), sys.getallocatedblocks()
        run_round(workload, factory)
    return refs, blocks


def leaks(deltas, allowance):
    """Every round grew by more than the allowance: a leak."""
    return all(delta > allowance for delta in deltas)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workloads", nargs="*", choices=[[], *WORKLOADS], default=[])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--loops", default="aiouring,asyncio")
    args = parser.parse_args(argv)
    if not hasattr(sys, "gettotalrefcount"):
        print("refleaks: needs a debug build of CPython (sys.gettotalrefcount)", file=sys.stderr)
        return 2
    names = args.workloads or list(WORKLOADS)
    loops = args.loops.split(",")
    failed = []
    print(f"refleaks: Python {sys.version.split()[0]} (debug), {args.warmup} warm-up and "
          f"{args.rounds} measured rounds per workload and loop")
    refs, blocks = measure(canary, LOOPS["aiouring"], args.warmup, args.rounds)
    if not (leaks(refs, LOOP_ALLOWANCE["refs"]) and leaks(blocks, LOOP_ALLOWANCE["blocks"])):
        print(f"refleaks: a workload keeping an object per round went unnoticed "
              f"(references {refs}, blocks {blocks}): the check is broken")
        return 1
    print(f"  {'canary':15} {'aiouring':9} references {refs} blocks {blocks}  "
          "(keeps three lists a round: reported, as it must be)")
    for name in names:
        results = {}
        for loop_name in loops:
            if loop_name == "asyncio" and name in AIOURING_ONLY:
                continue
            refs, blocks = measure(WORKLOADS[name], LOOPS[loop_name], args.warmup, args.rounds)
            results[loop_name] = (refs, blocks)
            verdict = []
            if leaks(refs, LOOP_ALLOWANCE["refs"]):
                verdict.append("LEAKS REFERENCES")
            if leaks(blocks, LOOP_ALLOWANCE["blocks"]):
                verdict.append("LEAKS MEMORY")
            print(f"  {name:15} {loop_name:9} references {refs} blocks {blocks}"
                  f"{'  ' + ', '.join(verdict) if verdict else ''}", flush=True)
            if verdict and loop_name == "aiouring":
                failed.append(name)
    if failed:
        print(f"refleaks: aiouring's loop leaks in: {', '.join(failed)}")
        return 1
    print("refleaks: no leak")
    return 0


if __name__ == "__main__":
    sys.exit(main())

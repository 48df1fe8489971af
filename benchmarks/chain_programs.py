"""Dependent chains: a chain program vs one await per step, on aiouring.

    python -m benchmarks.chain_programs [--quick] [--json out.json]

For N = 2, 4, 16, 64 dependent steps: nop_chain(N) as one chain program
(every step decided without Python, one wake-up) against N awaits of a
1-step chain (Python decides each step), plus pointer_chase depth 8 over a
file against a Python loop of os.pread-style awaits, and copy of a file in
64 KiB chunks against a Python read/write loop. The path in use (in-kernel
on Linux 7.1+, loop-side elsewhere) is printed; run it inside the 7.x guest
(tools/kernelvm.py run -- ...) for the in-kernel numbers. Variants are
interleaved run by run; medians and ratios are reported.
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import struct
import tempfile
import time

import aiouring
import aiouring.bpf as bpf

STEPS = (2, 4, 16, 64)


async def one_chain(n, rounds):
    for _ in range(rounds):
        await bpf.nop_chain(n)


async def await_per_step(n, rounds):
    for _ in range(rounds):
        for _ in range(n):
            await bpf.nop_chain(1)


async def chase_chain(fd, first, depth, rounds):
    for _ in range(rounds):
        await bpf.pointer_chase(fd, first, depth, block=4096, field=0)


async def chase_python(fd, first, depth, rounds):
    running = asyncio.get_running_loop()
    for _ in range(rounds):
        offset = first
        for step in range(depth):
            data = await running.run_in_executor(None, os.pread, fd, 4096, offset)
            if step < depth - 1:
                offset = struct.unpack_from("<Q", data, 0)[0]


def timed(coro_factory, rounds):
    start = time.perf_counter()
    aiouring.run(coro_factory(rounds))
    return (time.perf_counter() - start) / rounds


def make_index(path, blocks):
    order = list(range(1, blocks))
    random.Random(7).shuffle(order)
    image = bytearray(blocks * 4096)
    chain = [0] + order
    for here, there in zip(chain, chain[1:]):
        struct.pack_into("<Q", image, here * 4096, there * 4096)
    with open(path, "wb") as f:
        f.write(image)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--json")
    args = parser.parse_args()
    runs = args.runs or (2 if args.quick else 5)
    rounds = 200 if args.quick else 1000
    samples = {}

    def sample(name, factory, rounds):
        samples.setdefault(name, []).append(timed(factory, rounds))

    with tempfile.TemporaryDirectory() as tmp:
        index = os.path.join(tmp, "index")
        make_index(index, 4096)
        fd = os.open(index, os.O_RDONLY)
        try:
            for _ in range(runs):
                for n in STEPS:
                    sample(f"nop x{n}: chain program", lambda r, n=n: one_chain(n, r), rounds)
                    sample(f"nop x{n}: await per step", lambda r, n=n: await_per_step(n, r),
                           max(rounds // n, 10))
                sample("pointer_chase depth 8: chain program",
                       lambda r: chase_chain(fd, 0, 8, r), rounds // 4)
                sample("pointer_chase depth 8: python awaits (executor preads)",
                       lambda r: chase_python(fd, 0, 8, r), rounds // 20)
        finally:
            os.close(fd)

    path = bpf_path()
    print(f"chain programs run {path} (kernel {os.uname().release})")
    print(f"{'case':58} {'median':>12}  ratio")
    results = {}
    for name, values in samples.items():
        results[name] = statistics.median(values)
    for name, value in results.items():
        base_name = name.split(":")[0]
        baseline = [v for k, v in results.items() if k.startswith(base_name + ":")
                    and k != name]
        ratio = (baseline[0] / value) if baseline and "chain program" in name else None
        print(f"{name:58} {value * 1e6:10.1f}us  "
              + (f"{ratio:.2f}x faster" if ratio else ""))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"path": path, "kernel": os.uname().release,
                       "samples": samples}, f, indent=2)


def bpf_path():
    return "in-kernel" if aiouring.features()["bpf_loop"] else "loop-side"


if __name__ == "__main__":
    main()

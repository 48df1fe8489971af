"""Chain programs: in the kernel vs loop-side vs one await per step.

    python -m benchmarks.chains [--reps N]
    python tools/kernelvm.py run -- .venv/bin/python -m benchmarks.chains

Run it inside one boot of the Linux 7.x guest to compare the kernel path
with the others (timings under emulation are only comparable within one
run). nop_chain(N) measures what a step costs by itself; the copy moves
256 MiB from /dev/zero to /dev/null in 64 KiB reads and writes.
"""

import argparse
import asyncio
import os
import statistics
import time

import aiouring
import aiouring.bpf as bpf

NOP_LENGTHS = (2, 4, 16, 64)
COPY_BYTES = 256 << 20
COPY_CHUNK = 64 << 10


async def per_step_awaits(count):
    for _ in range(count):
        await bpf.nop_chain(1, path="loop-side")


async def measure(make, reps, inner):
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(inner):
            await make()
        times.append((time.perf_counter() - start) / inner)
    return statistics.median(times)


async def main(reps):
    kernel = aiouring.features()["bpf_loop"]
    paths = ["kernel", "loop-side"] if kernel else ["loop-side"]
    await bpf.nop_chain(1, path=paths[0])         # start the program ring
    print(f"kernel path: {kernel}; medians of {reps} runs")
    print(f"{'chain':<22}" + "".join(f"{p:>14}" for p in paths + ["await/step"])
          + ("    loop-side/kernel  await/kernel" if kernel else ""))
    for n in NOP_LENGTHS:
        row = {}
        for p in paths:
            row[p] = await measure(lambda p=p: bpf.nop_chain(n, path=p), reps, 200)
        row["await/step"] = await measure(lambda: per_step_awaits(n), reps, 200)
        line = f"nop_chain({n:>3}) us     " + "".join(
            f"{row[k] * 1e6:>14.1f}" for k in paths + ["await/step"])
        if kernel:
            line += (f"    {row['loop-side'] / row['kernel']:>14.2f}x"
                     f"  {row['await/step'] / row['kernel']:>10.2f}x")
        print(line, flush=True)
    row = {}
    for p in paths:
        async def copy(p=p):
            with open("/dev/zero", "rb") as src, open("/dev/null", "wb") as dst:
                assert await bpf.copy(src, dst, chunk=COPY_CHUNK, max_bytes=COPY_BYTES,
                                      path=p) == COPY_BYTES
        row[p] = await measure(copy, max(1, reps // 2), 1)
    line = f"copy 256 MiB/64 KiB ms" + "".join(f"{row[k] * 1e3:>14.1f}" for k in paths)
    if kernel:
        line += f"{'':>14}    {row['loop-side'] / row['kernel']:>14.2f}x"
    print(line, flush=True)
    print("chain stats:", asyncio.get_running_loop()._program_stats())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5)
    aiouring.run(main(parser.parse_args().reps))

"""Chain programs: in the kernel vs loop-side vs one await per step, with the
loop idle and with the loop busy.

    python -m benchmarks.chains [--reps N] [--mode idle|busy|both]
    python tools/kernelvm.py run -- .venv/bin/python -m benchmarks.chains

Run it inside one boot of the Linux 7.x guest to compare the kernel path
with the others (timings under emulation are only comparable within one
run); elsewhere the kernel column says why it is unavailable.

idle: nop_chain(N) measures what a step costs by itself; the copy moves
256 MiB from /dev/zero to /dev/null in 64 KiB reads and writes.

busy: a callback runs BUSY_MS of Python on every loop iteration (it
reschedules itself with call_soon, so the loop never sleeps), as a server
handling requests would, while one chain of N steps runs. Each chain's
latency is given in milliseconds and in loop iterations (the callback counts
them): the kernel path advances while Python is busy and is noticed on the
next iteration, where the loop-side path and the awaits advance a step per
iteration at best.
"""

import argparse
import asyncio
import statistics
import time

import aiouring
import aiouring.bpf as bpf

NOP_LENGTHS = (2, 4, 16, 64)
COPY_BYTES = 256 << 20
COPY_CHUNK = 64 << 10
BUSY_MS = 2.0
COLUMNS = ("kernel", "loop-side", "await/step")


async def per_step_awaits(count):
    for _ in range(count):
        await bpf.nop_chain(1, path="loop-side")


def runner(column, n):
    """A coroutine function running one N-step chain the column's way."""
    if column == "await/step":
        return lambda: per_step_awaits(n)
    return lambda: bpf.nop_chain(n, path=column)


async def measure(make, reps, inner):
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(inner):
            await make()
        times.append((time.perf_counter() - start) / inner)
    return statistics.median(times)


class BusyLoop:
    """Keeps the running loop busy: a callback that runs `seconds` of Python
    and schedules itself again, so it runs once every loop iteration;
    `iterations` counts them."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.iterations = 0
        self.handle = None
        self.waiter = None      # (iteration count, future) of iterations()

    def _spin(self):
        end = time.perf_counter() + self.seconds
        while time.perf_counter() < end:
            pass
        self.iterations += 1
        if self.waiter and self.iterations >= self.waiter[0]:
            self.waiter[1].set_result(None)
            self.waiter = None
        self.handle = asyncio.get_running_loop().call_soon(self._spin)

    def start(self):
        self.handle = asyncio.get_running_loop().call_soon(self._spin)

    def stop(self):
        self.handle.cancel()

    async def iteration_seconds(self, count):
        """How long an iteration takes with nothing else to do (no timer
        either: the callback itself says when `count` have passed)."""
        future = asyncio.get_running_loop().create_future()
        self.waiter = (self.iterations + count, future)
        start = time.perf_counter()
        await future
        return (time.perf_counter() - start) / count


async def busy_latency(make, reps, busy):
    """Median (seconds, loop iterations) of one chain while `busy` runs."""
    seconds, iterations = [], []
    for _ in range(reps):
        await asyncio.sleep(0)          # start right after an iteration began
        i0, t0 = busy.iterations, time.perf_counter()
        await make()
        seconds.append(time.perf_counter() - t0)
        iterations.append(busy.iterations - i0)
    return statistics.median(seconds), statistics.median(iterations)


def header(first):
    return f"{first:<24}" + "".join(f"{c:>16}" for c in COLUMNS)


def ratios(row, kernel):
    """loop-side/kernel and await/kernel, when the kernel path ran."""
    if not kernel:
        return ""
    return (f"    loop-side/kernel {row['loop-side'] / row['kernel']:>7.2f}x"
            f"  await/kernel {row['await/step'] / row['kernel']:>7.2f}x")


def iteration_ratios(its, kernel):
    """The same ratios counted in loop iterations."""
    if not kernel or not its["kernel"]:
        return ""
    return (f"   in iterations {its['loop-side'] / its['kernel']:>6.1f}x"
            f" {its['await/step'] / its['kernel']:>6.1f}x")


async def idle(reps, kernel):
    print(f"\nidle loop: medians of {reps} runs")
    print(header("chain"))
    for n in NOP_LENGTHS:
        row = {}
        for column in COLUMNS:
            if column != "kernel" or kernel:
                row[column] = await measure(runner(column, n), reps, 200)
        print(f"nop_chain({n:>3}) us".ljust(24) + "".join(
            f"{row[c] * 1e6:>16.1f}" if c in row else f"{'n/a':>16}" for c in COLUMNS)
            + ratios(row, kernel), flush=True)
    row = {}
    for column in ("kernel", "loop-side"):
        if column == "kernel" and not kernel:
            continue

        async def copy(p=column):
            with open("/dev/zero", "rb") as src, open("/dev/null", "wb") as dst:
                assert await bpf.copy(src, dst, chunk=COPY_CHUNK, max_bytes=COPY_BYTES,
                                      path=p) == COPY_BYTES
        row[column] = await measure(copy, max(1, reps // 2), 1)
    line = "copy 256 MiB/64 KiB ms".ljust(24) + "".join(
        f"{row[c] * 1e3:>16.1f}" if c in row else f"{'n/a':>16}" for c in COLUMNS[:2])
    if kernel:
        line += f"{'':>16}    loop-side/kernel {row['loop-side'] / row['kernel']:>7.2f}x"
    print(line, flush=True)


async def busy(reps, kernel):
    spinner = BusyLoop(BUSY_MS / 1e3)
    spinner.start()
    try:
        await spinner.iteration_seconds(10)
        per_iteration = await spinner.iteration_seconds(100)
        print(f"\nbusy loop: {BUSY_MS:g} ms of Python per iteration (an iteration takes "
              f"{per_iteration * 1e3:.2f} ms); one chain's latency, ms (loop iterations), "
              f"medians of {reps} runs")
        print(header("chain"))
        for n in NOP_LENGTHS:
            row, its, cells = {}, {}, []
            for column in COLUMNS:
                if column == "kernel" and not kernel:
                    cells.append(f"{'n/a':>16}")
                    continue
                seconds, iterations = await busy_latency(runner(column, n), reps, spinner)
                row[column], its[column] = seconds, iterations
                cells.append(f"{seconds * 1e3:>9.2f} ({iterations:>3g})")
            print(f"nop_chain({n:>3})".ljust(24) + "".join(cells) + ratios(row, kernel)
                  + iteration_ratios(its, kernel), flush=True)
    finally:
        spinner.stop()


async def main(reps, mode):
    features = aiouring.features()
    kernel = features["bpf_loop"]
    await bpf.nop_chain(1, path="kernel" if kernel else "loop-side")  # start the program ring
    print("kernel path: " + ("available" if kernel else
                              f"unavailable ({features.get('bpf_loop_reason')})"))
    if mode in ("idle", "both"):
        await idle(reps, kernel)
    if mode in ("busy", "both"):
        await busy(reps, kernel)
    print("chain stats:", asyncio.get_running_loop()._program_stats())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--mode", choices=("idle", "busy", "both"), default="both")
    args = parser.parse_args()
    if args.reps < 1:
        parser.error("--reps must be >= 1")
    aiouring.run(main(args.reps, args.mode))

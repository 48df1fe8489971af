"""Chain programs: in the kernel vs loop-side vs the default (auto) path vs
one await per step, with the loop idle and with the loop busy.

    python -m benchmarks.chains [--reps N] [--mode idle|busy|both]
                                [--only nops,copy,multi_read,index]
    python tools/kernelvm.py run -- .venv/bin/python -m benchmarks.chains

Run it inside one boot of the Linux 7.x guest to compare the kernel path
with the others (timings under emulation are only comparable within one
run); elsewhere the kernel column says why it is unavailable.

idle:
- nop_chain(N) measures what a step costs by itself; "auto" is the path
  aiouring picks when not told (it learns from the chains before).
- the copy moves 256 MiB from /dev/zero to /dev/null in 64 KiB reads and
  writes.
- multi_read: 64 random 4 KiB blocks of a 64 MiB file (in the page cache)
  as one chain, against 64 awaited reads one after the other and against
  asyncio.gather() of 64 awaited reads.
- index: a lookup in a B-tree of depth 6 read with O_DIRECT (one 4 KiB
  block per level, real I/O each time), as one chain against one await per
  level.

busy: a callback runs BUSY_MS of Python on every loop iteration (it
reschedules itself with call_soon, so the loop never sleeps), as a server
handling requests would, while one chain runs. Each chain's latency is
given in milliseconds and in loop iterations (the callback counts them):
the kernel path advances while Python is busy and is noticed at the end of
the iteration it ended in, where the loop-side path and the awaits advance
a step per iteration at best.
"""

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time

import aiouring
import aiouring.bpf as bpf
from aiouring import ops
from aiouring.bpf import btree

NOP_LENGTHS = (2, 4, 16, 64)
COPY_BYTES = 256 << 20
COPY_CHUNK = 64 << 10
BUSY_MS = 2.0
COLUMNS = ("kernel", "loop-side", "auto", "await/step")
MULTI_READ_FILE = 64 << 20
MULTI_READ_BLOCKS = 64
BLOCK = 4096
INDEX_FANOUT = 4
INDEX_DEPTH = 6
SECTIONS = ("nops", "copy", "multi_read", "index")


async def per_step_awaits(count):
    for _ in range(count):
        await bpf.nop_chain(1, path="loop-side")


def runner(column, n):
    """A coroutine function running one N-step chain the column's way."""
    if column == "await/step":
        return lambda: per_step_awaits(n)
    path = None if column == "auto" else column
    return lambda: bpf.nop_chain(n, path=path)


async def measure(make, reps, inner):
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(inner):
            await make()
        times.append((time.perf_counter() - start) / inner)
    return statistics.median(times)


async def measure_row(makers, reps, inner):
    """Median seconds per call of each column's coroutine function, the
    columns taking turns run by run (so drift and the loop's phase hit them
    alike)."""
    times = {column: [] for column in makers}
    for _ in range(reps):
        for column, make in makers.items():
            start = time.perf_counter()
            for _ in range(inner):
                await make()
            times[column].append((time.perf_counter() - start) / inner)
    return {column: statistics.median(t) for column, t in times.items()}


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


async def busy_row(makers, reps, busy):
    """Median (seconds, loop iterations) of one chain of each column while
    `busy` runs, the columns taking turns chain by chain."""
    seconds = {column: [] for column in makers}
    iterations = {column: [] for column in makers}
    for _ in range(reps):
        for column, make in makers.items():
            await asyncio.sleep(0)          # start right after an iteration began
            i0, t0 = busy.iterations, time.perf_counter()
            await make()
            seconds[column].append(time.perf_counter() - t0)
            iterations[column].append(busy.iterations - i0)
    return ({c: statistics.median(v) for c, v in seconds.items()},
            {c: statistics.median(v) for c, v in iterations.items()})


def header(first, columns=COLUMNS):
    return f"{first:<28}" + "".join(f"{c:>16}" for c in columns)


def cell(row, column, scale):
    return f"{row[column] * scale:>16.1f}" if column in row else f"{'n/a':>16}"


def ratio(row, slow, fast):
    if slow in row and fast in row and row[fast]:
        return f"  {slow}/{fast} {row[slow] / row[fast]:.2f}x"
    return ""


def path_columns(kernel):
    return [c for c in ("kernel", "loop-side", "auto") if c != "kernel" or kernel]


def nop_makers(n, kernel):
    return {c: runner(c, n) for c in COLUMNS if c != "kernel" or kernel}


async def idle_nops(reps, kernel):
    print(f"\nidle loop: nop_chain(N), us per chain, medians of {reps} runs")
    print(header("chain"))
    for n in NOP_LENGTHS:
        row = await measure_row(nop_makers(n, kernel), reps, 200)
        best = min(row[c] for c in ("kernel", "loop-side") if c in row)
        print(f"nop_chain({n:>3})".ljust(28) + "".join(cell(row, c, 1e6) for c in COLUMNS)
              + ratio(row, "loop-side", "kernel") + ratio(row, "await/step", "kernel")
              + f"  auto/best {row['auto'] / best:.2f}x", flush=True)


async def idle_copy(reps, kernel):
    row = {}
    for column in path_columns(kernel)[:2]:
        async def copy(p=column):
            with open("/dev/zero", "rb") as src, open("/dev/null", "wb") as dst:
                assert await bpf.copy(src, dst, chunk=COPY_CHUNK, max_bytes=COPY_BYTES,
                                      path=p) == COPY_BYTES
        row[column] = await measure(copy, max(1, reps // 2), 1)
    print("\ncopy 256 MiB in 64 KiB steps, ms")
    print(header("", ("kernel", "loop-side")))
    print("copy".ljust(28) + "".join(cell(row, c, 1e3) for c in ("kernel", "loop-side"))
          + ratio(row, "loop-side", "kernel"), flush=True)


def make_data_file(directory):
    name = os.path.join(directory, "blocks")
    with open(name, "wb") as f:
        chunk = os.urandom(1 << 20)
        for _ in range(MULTI_READ_FILE >> 20):
            f.write(chunk)
    return name


async def multi_read_section(reps, kernel, directory):
    loop = asyncio.get_running_loop()
    files = loop._files
    name = make_data_file(directory)
    fd = os.open(name, os.O_RDONLY)
    blocks = MULTI_READ_FILE // BLOCK
    rng = random.Random(5)
    offsets = [rng.randrange(blocks) * BLOCK for _ in range(MULTI_READ_BLOCKS)]
    with open(name, "rb") as f:            # warm the page cache
        while f.read(1 << 20):
            pass
    expected = [os.pread(fd, BLOCK, o) for o in offsets]

    async def read_one(offset):
        return await files.read(fd, BLOCK, offset)

    async def sequential():
        got = [await read_one(o) for o in offsets]
        assert got == expected

    async def gathered():
        got = await asyncio.gather(*(read_one(o) for o in offsets))
        assert got == expected

    def chain(p):
        async def run():
            assert await bpf.multi_read(fd, offsets, BLOCK, path=p) == expected
        return run

    columns = path_columns(kernel) + ["sequential", "gather"]
    makers = {c: {"sequential": sequential, "gather": gathered}.get(c)
              or chain(None if c == "auto" else c) for c in columns}
    try:
        row = await measure_row(makers, reps, 50)
    finally:
        os.close(fd)
    best = min(row[c] for c in ("kernel", "loop-side") if c in row)
    print(f"\nmulti_read: {MULTI_READ_BLOCKS} random 4 KiB blocks of a 64 MiB file, us, "
          f"medians of {reps} runs")
    print(header("", columns))
    print("64 reads".ljust(28) + "".join(cell(row, c, 1e6) for c in columns), flush=True)
    print(f"  one chain ({'kernel' if row.get('kernel', 1e9) <= row['loop-side'] else 'loop-side'}"
          f", the faster) vs 64 sequential awaits: {row['sequential'] / best:.2f}x, "
          f"vs gather of 64 awaits: {row['gather'] / best:.2f}x; "
          f"auto vs sequential {row['sequential'] / row['auto']:.2f}x, "
          f"vs gather {row['gather'] / row['auto']:.2f}x", flush=True)


def make_index(directory):
    name = os.path.join(directory, "index")
    rng = random.Random(9)
    keys = rng.sample(range(1, 1 << 48), INDEX_FANOUT ** INDEX_DEPTH)
    root, depth = btree.write(name, [(k, btree.value_for(k)) for k in keys],
                              fanout=INDEX_FANOUT)
    assert depth == INDEX_DEPTH
    return name, keys, root


def open_index(name):
    """The index with O_DIRECT (real I/O per block), or why it cannot be."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_DIRECT)
        os.preadv(fd, [ops.buffer(BLOCK)], 0)
        return fd, "O_DIRECT"
    except OSError as exc:
        fd = os.open(name, os.O_RDONLY)
        return fd, f"page cache (O_DIRECT refused here: {exc.strerror})"


def index_makers(kernel, fd, keys, root):
    loop = asyncio.get_running_loop()
    files = loop._files
    buffer = ops.buffer(BLOCK)
    rng = random.Random(11)

    async def read_block(number):
        n = await files.readinto(fd, buffer, number * BLOCK)
        return memoryview(buffer)[:n]

    def chain(p):
        async def run():
            key = rng.choice(keys)
            assert await bpf.btree_lookup(fd, key, root=root, buffer=buffer,
                                          path=p) == btree.value_for(key)
        return run

    async def awaits():
        key = rng.choice(keys)
        assert await btree.lookup(read_block, key, root) == btree.value_for(key)

    makers = {c: chain(None if c == "auto" else c) for c in path_columns(kernel)}
    makers["await/level"] = awaits
    return makers


async def index_section(reps, kernel, directory, busy_too):
    name, keys, root = make_index(directory)
    fd, how = open_index(name)
    try:
        makers = index_makers(kernel, fd, keys, root)
        columns = list(makers)
        row = await measure_row(makers, reps, 30)
        print(f"\nindex lookup: B-tree of depth {INDEX_DEPTH}, one 4 KiB block per level, "
              f"{how}; us per lookup, idle loop, medians of {reps} runs")
        print(header("", columns))
        print("lookup".ljust(28) + "".join(cell(row, c, 1e6) for c in columns)
              + ratio(row, "loop-side", "kernel") + ratio(row, "await/level", "kernel")
              + ratio(row, "await/level", "loop-side"), flush=True)
        if busy_too:
            spinner = BusyLoop(BUSY_MS / 1e3)
            spinner.start()
            try:
                await spinner.iteration_seconds(10)
                busy, its = await busy_row(makers, reps, spinner)
            finally:
                spinner.stop()
            print(f"busy loop ({BUSY_MS:g} ms of Python per iteration): ms (loop iterations)")
            print(header("", columns))
            print("lookup".ljust(28) + "".join(f"{busy[c] * 1e3:>9.2f} ({its[c]:>3g})"
                                               for c in columns)
                  + ratio(busy, "loop-side", "kernel") + ratio(busy, "await/level", "kernel"),
                  flush=True)
    finally:
        os.close(fd)


async def busy_nops(reps, kernel):
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
            row, its = await busy_row(nop_makers(n, kernel), reps, spinner)
            cells = [f"{row[c] * 1e3:>9.2f} ({its[c]:>3g})" if c in row else f"{'n/a':>16}"
                     for c in COLUMNS]
            best = min(row[c] for c in ("kernel", "loop-side") if c in row)
            print(f"nop_chain({n:>3})".ljust(28) + "".join(cells)
                  + ratio(row, "loop-side", "kernel") + f"  auto/best {row['auto'] / best:.2f}x",
                  flush=True)
    finally:
        spinner.stop()


async def main(reps, mode, only):
    features = aiouring.features()
    kernel = features["bpf_loop"]
    await bpf.nop_chain(1, path="kernel" if kernel else "loop-side")  # start the program ring
    print("kernel path: " + ("available" if kernel else
                              f"unavailable ({features.get('bpf_loop_reason')})"))
    with tempfile.TemporaryDirectory(dir=os.environ.get("AIOURING_BENCH_DIR", "/var/tmp")) as d:
        if mode in ("idle", "both"):
            if "nops" in only:
                await idle_nops(reps, kernel)
            if "copy" in only:
                await idle_copy(reps, kernel)
            if "multi_read" in only:
                await multi_read_section(reps, kernel, d)
        if "index" in only:
            await index_section(reps, kernel, d, mode in ("busy", "both"))
        if mode in ("busy", "both") and "nops" in only:
            await busy_nops(reps, kernel)
    print("chain stats:", asyncio.get_running_loop()._program_stats())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--mode", choices=("idle", "busy", "both"), default="both")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections of {', '.join(SECTIONS)}")
    args = parser.parse_args()
    if args.reps < 1:
        parser.error("--reps must be >= 1")
    only = set(args.only.split(","))
    if not only <= set(SECTIONS):
        parser.error(f"--only takes {', '.join(SECTIONS)}")
    aiouring.run(main(args.reps, args.mode, only))

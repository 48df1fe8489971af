"""Shared parts of the file scenarios: variants, their loops, test data
under /var/tmp (made once per run, removed by the harness at the end)."""
import asyncio
import os
import shutil
import time

# The harness names one directory per run (and removes it at the end).
DATA_DIR = os.environ.get("AIOURING_BENCH_DATA", "/var/tmp/aiouring-bench")
BLOCK = 4096


def new_loop(variant):
    if variant.startswith("aiouring") or variant in ("chain", "awaits"):
        import aiouring
        return aiouring.new_event_loop()
    return asyncio.new_event_loop()


def path(*parts):
    os.makedirs(DATA_DIR, exist_ok=True)
    return os.path.join(DATA_DIR, *parts)


def big_file(size):
    """A file of size bytes (random-looking, so nothing is compressed)."""
    p = path(f"big-{size}")
    if not os.path.exists(p) or os.path.getsize(p) != size:
        chunk = os.urandom(1 << 20)
        with open(p + ".tmp", "wb") as f:
            for _ in range(size // len(chunk)):
                f.write(chunk)
            f.write(chunk[:size % len(chunk)])
        os.replace(p + ".tmp", p)
    return p


def small_files(count, size=BLOCK):
    d = path(f"small-{count}")
    if not os.path.exists(os.path.join(d, f"{count - 1}")):
        os.makedirs(d, exist_ok=True)
        data = os.urandom(size)
        for i in range(count):
            with open(os.path.join(d, str(i)), "wb") as f:
                f.write(data)
    return [os.path.join(d, str(i)) for i in range(count)]


def cleanup():
    shutil.rmtree(DATA_DIR, ignore_errors=True)


async def bounded(concurrency, jobs):
    """Runs the coroutine functions in jobs, concurrency at a time."""
    it = iter(jobs)

    async def worker():
        for job in it:
            await job()
    await asyncio.gather(*(worker() for _ in range(concurrency)))


def timed(loop, make_round, count, seconds):
    """Rate (count/s) of make_round() coroutines run until about seconds
    have passed, after one unmeasured warm-up round."""
    loop.run_until_complete(make_round())
    rounds, start = 0, time.perf_counter()
    while True:
        loop.run_until_complete(make_round())
        rounds += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return rounds * count / elapsed


def opener(variant):
    """The open() of a variant: aiouring.open, aiofiles.open."""
    if variant.startswith("aiouring"):
        import aiouring
        return aiouring.open
    import aiofiles
    return aiofiles.open

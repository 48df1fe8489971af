"""(4) Write 4 KiB and fsync, COUNT files (1,000; --quick: 100), 64 in flight."""
import os

from . import _files

METRICS = (("files_per_s", "files/s"),)
SECONDS, QUICK_SECONDS = 1.5, 0.5
OVERHEAD = 1.0          # a warm-up round and rounding up to whole rounds
VARIANTS = ("aiouring", "aiofiles", "executor")
BASELINES = ("aiofiles", "executor")
CONCURRENCY = 64
cleanup = _files.cleanup


def bench_variant(variant, seconds, quick):
    count = 100 if quick else 1000
    d = _files.path(f"write-{variant}")
    os.makedirs(d, exist_ok=True)
    paths = [os.path.join(d, str(i)) for i in range(count)]
    data = os.urandom(_files.BLOCK)
    loop = _files.new_loop(variant)
    try:
        if variant == "executor":
            def write_sync(p):
                with open(p, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())

            def job(p):
                async def write():
                    await loop.run_in_executor(None, write_sync, p)
                return write
        elif variant == "aiouring":
            import aiouring

            def job(p):
                async def write():
                    async with aiouring.open(p, "wb") as f:
                        await f.write(data)
                        await f.flush()
                        await aiouring.fs.fsync(f)
                return write
        else:
            import aiofiles

            def job(p):
                async def write():
                    async with aiofiles.open(p, "wb") as f:
                        await f.write(data)
                        await f.flush()
                        await loop.run_in_executor(None, os.fsync, f.fileno())
                return write

        def one_round():
            return _files.bounded(CONCURRENCY, (job(p) for p in paths))
        return {"files_per_s": _files.timed(loop, one_round, count, seconds)}
    finally:
        loop.close()

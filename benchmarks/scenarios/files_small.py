"""(1) Read COUNT files of 4 KiB, 64 in flight: open + read + close each.
aiouring-chain reads each with aiouring.read_bytes (one chain, one wake-up)."""
from . import _files

METRICS = (("files_per_s", "files/s"),)
SECONDS, QUICK_SECONDS = 1.5, 0.5
OVERHEAD = 1.0          # a warm-up round and rounding up to whole rounds
VARIANTS = ("aiouring", "aiouring-chain", "aiofiles", "executor")
BASELINES = ("aiofiles", "executor")
CONCURRENCY = 64
cleanup = _files.cleanup


def bench_variant(variant, seconds, quick):
    count = 1000 if quick else 10_000
    paths = _files.small_files(count)
    loop = _files.new_loop(variant)
    try:
        if variant == "aiouring-chain":
            import aiouring

            def job(p):
                async def read():
                    await aiouring.read_bytes(p)
                return read
        elif variant == "executor":
            def read_sync(p):
                with open(p, "rb") as f:
                    return f.read()

            def job(p):
                async def read():
                    await loop.run_in_executor(None, read_sync, p)
                return read
        else:
            open_ = _files.opener(variant)

            def job(p):
                async def read():
                    async with open_(p, "rb") as f:
                        await f.read()
                return read

        def one_round():
            return _files.bounded(CONCURRENCY, (job(p) for p in paths))
        return {"files_per_s": _files.timed(loop, one_round, count, seconds)}
    finally:
        loop.close()

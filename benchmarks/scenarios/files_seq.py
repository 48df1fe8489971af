"""(3) Sequential read of a 1 GiB file (--quick: 64 MiB) in 1 MiB chunks,
from the page cache."""
from . import _files

METRICS = (("mib_per_s", "MiB/s"),)
SECONDS, QUICK_SECONDS = 1.5, 0.5
OVERHEAD = 1.0          # a warm-up round and rounding up to whole rounds
VARIANTS = ("aiouring", "aiofiles", "executor")
BASELINES = ("aiofiles", "executor")
CHUNK = 1 << 20
cleanup = _files.cleanup


def bench_variant(variant, seconds, quick):
    size = (64 << 20) if quick else (1 << 30)
    p = _files.big_file(size)
    loop = _files.new_loop(variant)
    try:
        if variant == "executor":
            async def one_round():
                f = await loop.run_in_executor(None, open, p, "rb")
                while await loop.run_in_executor(None, f.read, CHUNK):
                    pass
                await loop.run_in_executor(None, f.close)
        else:
            open_ = _files.opener(variant)

            async def one_round():
                async with open_(p, "rb") as f:
                    while await f.read(CHUNK):
                        pass
        return {"mib_per_s": _files.timed(loop, one_round, size / CHUNK, seconds)}
    finally:
        loop.close()

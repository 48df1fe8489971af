"""(2) Random 4 KiB reads from a 1 GiB file (--quick: 64 MiB), 64 in flight,
from the page cache; the -odirect variants bypass it with O_DIRECT and
aligned buffers."""
import mmap
import os
import random

from . import _files

METRICS = (("reads_per_s", "reads/s"),)
SECONDS, QUICK_SECONDS = 1.5, 0.5
OVERHEAD = 1.0          # a warm-up round and rounding up to whole rounds
VARIANTS = ("aiouring", "aiofiles", "executor", "aiouring-odirect", "executor-odirect")
BASELINES = ("aiofiles", "executor")
CONCURRENCY = 64
PER_ROUND = 4096
cleanup = _files.cleanup


def bench_variant(variant, seconds, quick):
    size = (64 << 20) if quick else (1 << 30)
    p = _files.big_file(size)
    loop = _files.new_loop(variant)
    rng = random.Random(1)
    direct = variant.endswith("-odirect")
    flags = os.O_DIRECT if direct else 0
    try:
        if variant.startswith("executor"):
            fd = os.open(p, os.O_RDONLY | flags)
            buffers = [mmap.mmap(-1, _files.BLOCK) for _ in range(CONCURRENCY)]
            free = list(buffers)

            async def job():
                buf = free.pop()
                try:
                    off = rng.randrange(size // _files.BLOCK) * _files.BLOCK
                    await loop.run_in_executor(None, os.preadv, fd, [buf], off)
                finally:
                    free.append(buf)
            files = None
        else:
            open_ = _files.opener(variant)
            if variant.startswith("aiouring"):
                import aiouring
                files = [loop.run_until_complete(open_(p, "rb", buffering=0, flags=flags))
                         for _ in range(CONCURRENCY)]
                buffers = [aiouring.ops.buffer(_files.BLOCK) for _ in range(CONCURRENCY)]
            else:
                files = [loop.run_until_complete(open_(p, "rb", buffering=0))
                         for _ in range(CONCURRENCY)]
                buffers = [bytearray(_files.BLOCK) for _ in range(CONCURRENCY)]
            free = list(zip(files, buffers))

            async def job():
                f, buf = free.pop()
                try:
                    await f.seek(rng.randrange(size // _files.BLOCK) * _files.BLOCK)
                    await f.readinto(buf)
                finally:
                    free.append((f, buf))

        def one_round():
            return _files.bounded(CONCURRENCY, (job for _ in range(PER_ROUND)))
        rate = _files.timed(loop, one_round, PER_ROUND, seconds)
        if files:
            for f in files:
                loop.run_until_complete(f.close())
        else:
            os.close(fd)
        return {"reads_per_s": rate}
    finally:
        loop.close()

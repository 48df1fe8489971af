"""Dependent sequences of 4 and 16 requests as one linked chain (one
wake-up) vs one await per step: file sequences (open, reads of 4 KiB from
the page cache, close), where the kernel's work per step dominates, and NOP
sequences, which measure what a wake-up of Python costs."""
from . import _files

METRICS = (("seq4_per_s", "4-step file sequences/s"),
           ("seq16_per_s", "16-step file sequences/s"),
           ("nop4_per_s", "4-step nop sequences/s"),
           ("nop16_per_s", "16-step nop sequences/s"))
SECONDS, QUICK_SECONDS = 1.0, 0.3


def estimate(seconds, quick):
    """Wall seconds of one sample: every metric gets seconds / 2 and a warm-up."""
    return len(METRICS) * seconds / 2 + 0.3 * len(METRICS) + 0.3
VARIANTS = ("chain", "awaits")
BASELINES = ("awaits",)
PER_ROUND = 200
cleanup = _files.cleanup


def bench_variant(variant, seconds, quick):
    from aiouring import ops
    p = _files.small_files(1, 16 * _files.BLOCK)[0]
    loop = _files.new_loop(variant)

    def rate(steps, nops=False):
        reads = steps - 2

        async def chained():
            f = ops.openat(p, direct=True)
            await loop.chain(f, *(ops.read(f, _files.BLOCK, i * _files.BLOCK)
                                  for i in range(reads)), ops.close(f))

        async def awaited():
            fd = await loop._files.openat(p, 0)
            for i in range(reads):
                await loop._files.read(fd, _files.BLOCK, i * _files.BLOCK)
            await loop._files.close(fd)

        async def nop_chained():
            await loop.chain(*(ops.nop() for _ in range(steps)))

        async def nop_awaited():
            for _ in range(steps):
                await loop.chain(ops.nop())

        if nops:
            one = nop_chained if variant == "chain" else nop_awaited
        else:
            one = chained if variant == "chain" else awaited

        async def one_round():
            for _ in range(PER_ROUND):
                await one()
        return _files.timed(loop, one_round, PER_ROUND, seconds / 2)

    try:
        return {"seq4_per_s": rate(4), "seq16_per_s": rate(16),
                "nop4_per_s": rate(4, True), "nop16_per_s": rate(16, True)}
    finally:
        loop.close()

"""Chain programs (aiouring.bpf): nop_chain(N) run as one chain program in
the kernel (Linux 7.1+ with the io_uring BPF struct_ops; skipped elsewhere)
and loop-side in aiouring's core, against N awaits of a 1-step chain
(Python decides each step). Chains per second, for N = 4 and 16."""
from . import _files

METRICS = (("nop4_per_s", "4-step chain programs/s"),
           ("nop16_per_s", "16-step chain programs/s"))
SECONDS, QUICK_SECONDS = 1.0, 0.3


def estimate(seconds, quick):
    """Wall seconds of one sample: every metric gets seconds / 2 and a warm-up."""
    return len(METRICS) * seconds / 2 + 0.3 * len(METRICS) + 0.3
VARIANTS = ("kernel", "loop-side", "awaits")
BASELINES = ("awaits",)
PER_ROUND = 200


def bench_variant(variant, seconds, quick):
    import aiouring
    import aiouring.bpf as bpf

    if variant == "kernel" and not aiouring.features()["bpf_loop"]:
        return {"skipped": aiouring.features().get("bpf_loop_reason")
                or "chain programs cannot run in this kernel"}
    loop = aiouring.new_event_loop()

    def rate(steps):
        async def one_round():
            if variant == "awaits":
                for _ in range(PER_ROUND):
                    for _ in range(steps):
                        await bpf.nop_chain(1, path="loop-side")
            else:
                for _ in range(PER_ROUND):
                    await bpf.nop_chain(steps, path=variant)
        return _files.timed(loop, one_round, PER_ROUND, seconds / 2)

    try:
        return {"nop4_per_s": rate(4), "nop16_per_s": rate(16)}
    finally:
        loop.close()

"""loop.call_soon throughput: CHAINS callbacks that each reschedule
themselves, so the ready queue stays CHAINS deep and per-iteration loop
overhead is shared by many callbacks, as in a busy server."""
from . import rate

METRICS = (("callbacks_per_s", "callbacks/s"),)
SECONDS, QUICK_SECONDS = 1.0, 0.4
CHAINS = 100
PER_ROUND = 100_000


def bench(loop, seconds):
    def one_round():
        done = loop.create_future()
        left = PER_ROUND

        def cb():
            nonlocal left
            left -= 1
            if left >= CHAINS:
                loop.call_soon(cb)
            elif left == 0:
                done.set_result(None)

        for _ in range(CHAINS):
            loop.call_soon(cb)
        loop.run_until_complete(done)

    return {"callbacks_per_s": rate(one_round, PER_ROUND, seconds)}

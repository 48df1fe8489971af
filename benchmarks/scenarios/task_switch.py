"""Task switching (formerly `sleep0`, still accepted as an alias): TASKS
tasks each looping on `await asyncio.sleep(0)`, switches per second."""
import asyncio

from . import rate

METRICS = (("switches_per_s", "switches/s"),)
SECONDS, QUICK_SECONDS = 1.0, 0.4
TASKS = 100
PER_TASK = 200


async def _spin():
    for _ in range(PER_TASK):
        await asyncio.sleep(0)


async def _round():
    await asyncio.gather(*(_spin() for _ in range(TASKS)))


def bench(loop, seconds):
    return {
        "switches_per_s": rate(lambda: loop.run_until_complete(_round()),
                               TASKS * PER_TASK, seconds)
    }

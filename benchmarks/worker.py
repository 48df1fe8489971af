"""Runs one in-process scenario sample on one loop and prints its metrics
as JSON: python -m benchmarks.worker SCENARIO LOOP SECONDS"""
import asyncio
import json
import sys

from . import loops, scenarios


def main():
    name, loop_name, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    mod = scenarios.load(name)
    if hasattr(mod, "bench_variant"):
        quick = len(sys.argv) > 4 and sys.argv[4] == "quick"
        print(json.dumps(mod.bench_variant(loop_name, seconds, quick)))
        return
    loop = loops.new_loop(loop_name)
    asyncio.set_event_loop(loop)
    try:
        print(json.dumps(scenarios.load(name).bench(loop, seconds)))
    finally:
        loop.close()


if __name__ == "__main__":
    main()

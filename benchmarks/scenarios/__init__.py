"""Scenario registry.

A scenario module defines METRICS ((key, label), ...; the first is the
headline), SECONDS and QUICK_SECONDS (measured time per sample), and either
  bench(loop, seconds) -> {key: value}   run inside a fresh worker process
                                         (benchmarks.worker), or
  run_sample(loop_name, seconds, quick)  run by the harness itself, for
                                         scenarios that start their own
                                         processes (sock_echo).
A scenario that compares other things than loops (aiouring vs aiofiles vs
run_in_executor) defines VARIANTS (what it runs instead of the loops),
BASELINES (the variants ratios are taken against), cleanup() and
  bench_variant(variant, seconds, quick) -> {key: value}   in a worker process.
"""
import importlib
import time

NAMES = ("call_soon", "sleep0", "sock_echo", "proto_echo", "proto_echo_64k",
         "buffered_echo", "buffered_echo_64k", "streams_echo", "streams_echo_64k",
         "http_hello", "files_small", "files_random", "files_seq", "files_write",
         "chain_steps")


def load(name):
    return importlib.import_module(f"{__name__}.{name}")


def rate(run_round, ops_per_round, seconds):
    """Operations per second of run_round(), repeated for about `seconds`
    after one unmeasured warm-up round."""
    run_round()
    rounds = 0
    start = time.perf_counter()
    while True:
        run_round()
        rounds += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return rounds * ops_per_round / elapsed

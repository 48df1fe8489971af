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
  bench_variant(variant, seconds, quick) -> {key: value}   in a worker process;
it returns {"skipped": reason} for a variant the machine cannot run.
For --dry-run's estimate a scenario may define OVERHEAD (seconds a sample
costs beyond its measured time) or estimate(seconds, quick) (a sample's
whole wall time).

Optional, for scenarios run by the harness itself:
  LIMITS = "echo" | "http"   the plain C servers (benchmarks/limits.py) run as
                             rows next to the loops, in that mode
  LOWER_IS_BETTER            metric keys where less is better (latencies)
  HISTOGRAMS                 ((sample key, label), ...): latency histograms a
                             sample holds, drawn as percentile plots
  calibrate(seconds, quick)  run once before the scenario's first sample (the
                             latency scenarios' peak rate); returns facts for
                             the log and the JSON file;
                             calibration_estimate(seconds, quick) its time
  describe(metrics)          the progress line of a sample
"""
import importlib
import time

# Scenario groups, in run order: each group gets one plot.
GROUPS = {
    "loop": ("call_soon", "task_switch"),
    "echo": ("sock_echo", "proto_echo", "proto_echo_64k", "buffered_echo",
             "buffered_echo_64k", "streams_echo", "streams_echo_64k", "tls_echo"),
    "http": ("http_hello",),
    "latency": ("latency_echo", "latency_http"),
    "files": ("files_small", "files_random", "files_seq", "files_write"),
    "chains": ("chain_steps", "bpf_chains"),
}
NAMES = tuple(name for names in GROUPS.values() for name in names)
# Other names a scenario answers to on the command line.
ALIASES = {"sleep0": "task_switch", "tls": "tls_echo", "wrk": "http_hello",
           "chain": "chain_steps", "bpf": "bpf_chains", "tail": "latency_echo",
           "tail_http": "latency_http"}


def group_of(name):
    return next(g for g, names in GROUPS.items() if name in names)


def resolve(words):
    """Scenario names for command-line words (names, aliases or group
    names), in order, without repeats; raises KeyError on an unknown word."""
    out = []
    for word in words:
        if word in GROUPS:
            out.extend(GROUPS[word])
        elif word in NAMES or word in ALIASES:
            out.append(ALIASES.get(word, word))
        else:
            raise KeyError(word)
    return list(dict.fromkeys(out))


def load(name):
    return importlib.import_module(f"{__name__}.{ALIASES.get(name, name)}")


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

"""Tail latency of the asyncio.Protocol echo server (proto_echo's), 1 KiB
messages on 10 connections, at 50% and 90% of the peak rate uvloop's server
reaches in the same run: an open-loop client (benchmarks/load_client.c) sends
on a fixed schedule and times each echo from its scheduled send. p50 / p99 /
p99.9 in microseconds, lower is better; the plain C servers run as the
machine's limit. See _latency.py."""
from . import _latency
from ._latency import QUICK_SECONDS, SECONDS, calibration_estimate, describe, estimate  # noqa: F401

WORKLOAD = _latency.Workload("echo", conns=10, size=1024,
                             server=("benchmarks.servers.echo", "--kind", "protocol"))
METRICS = _latency.metrics_of()
POOLED = _latency.pooled_metrics_of()
LOWER_IS_BETTER = frozenset(key for key, _ in METRICS + POOLED)
HISTOGRAMS = _latency.histograms_of()
BASELINES = ("uvloop", "asyncio")
LIMITS = "echo"


def calibrate(seconds, quick):
    return _latency.calibrate(WORKLOAD, seconds, quick)


def pooled(runs):
    return _latency.pooled(runs)


def run_sample(loop_name, seconds, quick):
    return _latency.run_sample(WORKLOAD, loop_name, seconds, quick)

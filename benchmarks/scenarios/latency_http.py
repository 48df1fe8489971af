"""Tail latency of the HTTP/1.1 keep-alive "hello" server (http_hello's) on
50 connections, at 50% and 90% of the peak rate uvloop's server reaches in
the same run: an open-loop HTTP client (benchmarks/load_client.c; wrk is
closed-loop) sends GETs on a fixed schedule, pipelined when answers are
late, and times each response from its scheduled send. p50 / p99 / p99.9 in
microseconds, lower is better; the plain C servers run as the machine's
limit. See _latency.py."""
from . import _latency
from ._latency import QUICK_SECONDS, SECONDS, calibration_estimate, describe, estimate  # noqa: F401

WORKLOAD = _latency.Workload("http", conns=50, size=0,
                             server=("benchmarks.servers.http_hello",))
METRICS = _latency.metrics_of()
POOLED = _latency.pooled_metrics_of()
LOWER_IS_BETTER = frozenset(key for key, _ in METRICS + POOLED)
HISTOGRAMS = _latency.histograms_of()
BASELINES = ("uvloop", "asyncio")
LIMITS = "http"


def calibrate(seconds, quick):
    return _latency.calibrate(WORKLOAD, seconds, quick)


def pooled(runs):
    return _latency.pooled(runs)


def run_sample(loop_name, seconds, quick):
    return _latency.run_sample(WORKLOAD, loop_name, seconds, quick)

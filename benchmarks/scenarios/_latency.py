"""Shared machinery of the latency scenarios (latency_echo, latency_http):
tail latency at a fixed offered load.

Once per run, calibrate() finds the peak rate uvloop's server reaches under
the closed-loop client (benchmarks/load_client.c with rate 0: one request in
flight per connection). Every sample then starts one server (a loop's, or a
C limit server) pinned to one CPU and offers it FRACTIONS of that peak with
the open-loop client on the other CPU, one client run per rate: requests go
out on a fixed schedule and latency counts from the scheduled time, so a
stall is charged to every request it delays. A sample reports p50 / p99 /
p99.9 / max in microseconds, the achieved rate, the server's CPU use and the
whole histogram per rate (for the percentile plots).
"""
import importlib.util
import subprocess
from dataclasses import dataclass

from .. import limits, native
from ..histogram import Histogram, merged
from ..procs import LineReader, bench_cpus, cpu_seconds, spawn, stop

FRACTIONS = (0.5, 0.9)          # of uvloop's peak rate
SECONDS, QUICK_SECONDS = 1.0, 0.5   # measured window per rate
WARMUP, QUICK_WARMUP = 0.3, 0.2     # at the offered rate, before the window
DRAIN = 0.5                     # longest wait for the window's last answers
PERCENTILES = ((50, "p50"), (99, "p99"), (99.9, "p999"))


@dataclass(frozen=True)
class Workload:
    mode: str                   # the client's protocol and the C servers' mode
    conns: int
    size: int                   # echo message bytes (0 for http)
    server: tuple               # the Python server: module and its arguments


def suffix(fraction):
    return f"at{round(fraction * 100)}"


def metrics_of(fractions=FRACTIONS):
    """METRICS of a latency scenario: p50, p99, p99.9 per offered rate."""
    return tuple((f"{key}_{suffix(f)}_us", f"{label} us at {round(f * 100)}% of peak")
                 for f in fractions for _, key in PERCENTILES
                 for label in [key.replace("p999", "p99.9")])


def pooled_metrics_of(fractions=FRACTIONS):
    """POOLED of a latency scenario: the same percentiles read from every
    run's histogram merged. One second at a given rate holds a few dozen
    requests above p99.9, so a per-run p99.9 is mostly whether a stall of
    the machine fell in that second (the C servers' spread shows it); the
    pooled figure counts each run's stalls once."""
    return tuple((f"{key}_{suffix(f)}_pooled_us",
                  f"{label} us at {round(f * 100)}%, runs pooled")
                 for f in fractions for _, key in PERCENTILES
                 for label in [key.replace("p999", "p99.9")])


def pooled(runs, fractions=FRACTIONS):
    """{POOLED key: value} over the metrics of several samples of one loop."""
    out = {}
    for fraction in fractions:
        s = suffix(fraction)
        hist = merged(runs, f"hist_{s}")
        if hist is not None and hist.total:
            for p, key in PERCENTILES:
                out[f"{key}_{s}_pooled_us"] = hist.percentile(p) / 1e3
    return out


def histograms_of(fractions=FRACTIONS):
    """(sample key of a histogram, what it is), for the plots."""
    return tuple((f"hist_{suffix(f)}", f"{round(f * 100)}% of uvloop's peak")
                 for f in fractions)


def warmup_of(quick):
    return QUICK_WARMUP if quick else WARMUP


def estimate(seconds, quick):
    """Wall seconds of one sample: server start-up, then per rate the client's
    warm-up, window and the tail of its drain."""
    return 0.3 + len(FRACTIONS) * (warmup_of(quick) + seconds + 0.15)


def calibration_estimate(seconds, quick):
    return 0.6 + warmup_of(quick) + seconds


def client(workload, port, rate, seconds, quick, server_pid):
    """One run of the load client against `port`: its results, with the
    server's CPU seconds over the measured window."""
    _, client_cpu = bench_cpus()
    warmup = warmup_of(quick)
    proc = spawn([native.build("load_client"), workload.mode, "127.0.0.1", port,
                  workload.conns, f"{rate:.3f}", workload.size, warmup, seconds, DRAIN],
                 cpu=client_cpu, stdout=subprocess.PIPE)
    try:
        out = LineReader(proc.stdout, "load client")
        if out.readline(warmup + 30) != "start":
            raise RuntimeError("load client: unexpected output")
        cpu0 = cpu_seconds(server_pid)
        if out.readline(seconds + 30) != "end":
            raise RuntimeError("load client: unexpected output")
        cpu = cpu_seconds(server_pid) - cpu0
        done = out.readline(DRAIN + 30).split()
        hist = out.readline(30).split()
        proc.wait(30)
    finally:
        stop(proc)
    if proc.returncode or done[0] != "done" or hist[0] != "hist":
        raise RuntimeError(f"load client failed (exit status {proc.returncode})")
    scheduled, completed, answers, unfinished, max_ns = (
        int(done[1]), int(done[2]), int(done[3]), int(done[5]), int(done[6]))
    elapsed = float(done[4])
    pairs = [tuple(int(x) for x in item.split(":")) for item in hist[1:]]
    return {"scheduled": scheduled, "completed": completed, "unfinished": unfinished,
            "achieved": answers / elapsed, "server_cpu": cpu / elapsed,
            "histogram": Histogram.from_pairs(pairs, max_ns), "pairs": pairs}


def start_server(workload, variant, max_seconds):
    """A server for `variant` pinned to the server CPU, and its port."""
    server_cpu, _ = bench_cpus()
    server = spawn(limits.server_argv(variant, workload.server, workload.mode, max_seconds),
                   cpu=server_cpu, stdout=subprocess.PIPE)
    try:
        return server, LineReader(server.stdout, f"{variant} server").readline(30).split()[1]
    except BaseException:
        stop(server)
        raise


def peak_loop():
    """The loop whose closed-loop peak sets the offered rates: uvloop, or
    asyncio's own where uvloop is not installed."""
    return "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"


_calibrations = {}


def calibrate(workload, seconds, quick):
    """{loop, peak_rate, server_cpu, offered: {fraction: rate}}: the
    closed-loop peak of peak_loop()'s server (and the share of a CPU the
    server used to reach it: under 1 when the clients' round trips, not the
    server, set the peak), measured once per process (a failure too is kept,
    and raised again)."""
    if workload not in _calibrations:
        try:
            _calibrations[workload] = measure_peak(workload, seconds, quick)
        except Exception as e:
            _calibrations[workload] = RuntimeError(f"no peak rate to offer: {e}")
    found = _calibrations[workload]
    if isinstance(found, Exception):
        raise found
    return found


def measure_peak(workload, seconds, quick):
    loop = peak_loop()
    server, port = start_server(workload, loop, warmup_of(quick) + seconds + 60)
    try:
        run = client(workload, port, 0, seconds, quick, server.pid)
    finally:
        stop(server)
    if run["achieved"] <= 0:
        raise RuntimeError(f"{loop}'s server answered nothing")
    return {"loop": loop, "peak_rate": run["achieved"], "server_cpu": run["server_cpu"],
            "offered": {str(f): f * run["achieved"] for f in FRACTIONS}}


def run_sample(workload, variant, seconds, quick):
    """One sample: one server for `variant`, offered each fraction of the
    peak in turn."""
    peak = calibrate(workload, seconds, quick)
    per_rate = warmup_of(quick) + seconds + DRAIN + 30
    server, port = start_server(workload, variant, len(FRACTIONS) * per_rate + 60)
    metrics = {"peak_rate": peak["peak_rate"], "peak_loop": peak["loop"]}
    try:
        for fraction in FRACTIONS:
            rate = fraction * peak["peak_rate"]
            run = client(workload, port, rate, seconds, quick, server.pid)
            if server.poll() is not None:
                raise RuntimeError(f"server exited with {server.returncode}")
            s, hist = suffix(fraction), run["histogram"]
            for p, key in PERCENTILES:
                metrics[f"{key}_{s}_us"] = hist.percentile(p) / 1e3
            metrics.update({
                f"max_{s}_us": hist.max / 1e3,
                f"offered_{s}": rate,
                f"achieved_{s}": run["achieved"],
                f"scheduled_{s}": run["scheduled"],
                f"unfinished_{s}": run["unfinished"],
                f"server_cpu_{s}": run["server_cpu"],
                f"hist_{s}": run["pairs"],
                f"hist_max_{s}": hist.max,
            })
    finally:
        stop(server)
    return metrics


def describe(metrics):
    """The progress line of a sample: per rate p99, p99.9, achieved/offered
    rate and the server's CPU use."""
    parts = []
    for fraction in FRACTIONS:
        s = suffix(fraction)
        if f"p99_{s}_us" in metrics:
            parts.append(f"{round(fraction * 100)}%: p99 {metrics[f'p99_{s}_us']:,.0f} us "
                         f"p99.9 {metrics[f'p999_{s}_us']:,.0f} us "
                         f"({metrics[f'achieved_{s}']:,.0f}/{metrics[f'offered_{s}']:,.0f} "
                         f"req/s, server CPU {metrics[f'server_cpu_{s}']:.0%})")
    return "; ".join(parts)

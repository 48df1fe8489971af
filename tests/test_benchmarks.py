"""The benchmark harness (python -m benchmarks): its command line, what it
writes, and the scenarios added for TLS and chain programs. Nothing here
checks a timing: samples run for a few hundredths of a second."""
import io
import json
import os
import ssl
import subprocess
import sys

import pytest

from benchmarks import harness, plots, scenarios
from benchmarks.scenarios import _files, tls_echo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_bench(*args, timeout=120):
    """python -m benchmarks ARGS with stderr a pipe (not a terminal)."""
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_aliases_and_groups_resolve_to_scenarios():
    assert harness.parse_args(["sleep0", "--no-save"]).names == ["task_switch"]
    assert harness.parse_args(["tls", "--no-save"]).names == ["tls_echo"]
    echo = harness.parse_args(["echo", "--no-save"]).names
    assert echo == list(scenarios.GROUPS["echo"])
    assert "tls_echo" in echo and "sock_echo" in echo
    # Repeats collapse, order is kept.
    assert harness.parse_args(["call_soon", "loop", "--no-save"]).names == [
        "call_soon", "task_switch"]
    assert harness.parse_args(["--no-save"]).names == list(scenarios.NAMES)
    for name in scenarios.NAMES:
        assert scenarios.load(name).METRICS


def test_loop_selection_and_errors(capsys):
    args = harness.parse_args(["sock_echo", "--loop", "aiouring", "--no-save"])
    assert args.names == ["sock_echo"] and args.loops == ["aiouring"]
    for bad in (["no_such_scenario"], ["--loop", "trio"]):
        with pytest.raises(SystemExit):
            harness.parse_args(bad)
    assert "unknown" in capsys.readouterr().err


def test_results_are_saved_by_default():
    args = harness.parse_args(["call_soon"])
    assert args.json == os.path.join(ROOT, "benchmarks", "results", "latest.json")
    if harness.have_matplotlib():
        assert args.plots == os.path.join(ROOT, "benchmarks", "results")
    args = harness.parse_args(["call_soon", "--no-save"])
    assert args.json is None and args.plots is None
    args = harness.parse_args(["call_soon", "--no-save", "--json", "x.json"])
    assert args.json == "x.json"


class FakeStream(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


def test_progress_only_on_a_terminal():
    args = harness.parse_args(["call_soon", "--no-save"])
    assert harness.want_progress(args, FakeStream(True))
    assert not harness.want_progress(args, FakeStream(False))
    args = harness.parse_args(["call_soon", "--no-save", "--no-progress"])
    assert not harness.want_progress(args, FakeStream(True))


def test_plan_interleaves_and_rotates_loops():
    args = harness.parse_args(["call_soon", "files_seq", "--runs", "2", "--no-save"])
    todo = harness.plan(args, ["asyncio", "uvloop", "aiouring"])
    assert [(r, n, v) for r, n, v in todo if n == "call_soon"] == [
        (0, "call_soon", "asyncio"), (0, "call_soon", "uvloop"), (0, "call_soon", "aiouring"),
        (1, "call_soon", "uvloop"), (1, "call_soon", "aiouring"), (1, "call_soon", "asyncio")]
    # File scenarios run their own variants, not the loops.
    variants = {v for _, n, v in todo if n == "files_seq"}
    assert variants == set(scenarios.load("files_seq").VARIANTS)


def test_dry_run_runs_nothing_and_estimates():
    r = run_bench("--dry-run", "--quick", "--json", "/nonexistent/dir/x.json")
    assert r.returncode == 0, r.stderr
    for name in scenarios.NAMES:
        assert name in r.stdout
    assert "estimated" in r.stdout
    assert not os.path.exists("/nonexistent/dir/x.json")


def test_a_run_writes_every_sample_and_the_machine(tmp_path):
    out = tmp_path / "r.json"
    r = run_bench("call_soon", "sleep0", "--loops", "asyncio,aiouring", "--runs", "2",
                  "--duration", "0.05", "--json", str(out), "--plots", str(tmp_path / "p"))
    assert r.returncode == 0, r.stderr
    # stderr is a pipe: plain progress lines, no bar (no cursor control).
    assert "\x1b[" not in r.stderr
    assert "[1/2] call_soon" in r.stderr and "[2/2] task_switch" in r.stderr
    assert "callbacks/s" in r.stdout and "ratio vs" in r.stdout
    results = json.loads(out.read_text())
    meta = results["meta"]
    for key in ("kernel", "cpu_model", "cpu_count", "python", "packages", "io_uring",
                "loops", "time"):
        assert key in meta
    assert {"aiouring", "uvloop", "aiofiles"} <= set(meta["packages"])
    assert meta["io_uring"]["io_uring"] is True
    assert meta["io_uring"]["summary"]["opcodes"] > 0
    samples = results["samples"]
    assert len(samples) == 2 * 2 * 2
    assert {(s["scenario"], s["loop"]) for s in samples} == {
        (n, lp) for n in ("call_soon", "task_switch") for lp in ("asyncio", "aiouring")}
    assert all(s["error"] is None and s["metrics"] and s["wall_s"] > 0 for s in samples)
    med = results["summary"]["call_soon"]["callbacks_per_s"]["aiouring"]
    assert med["n"] == 2 and med["min"] <= med["median"] <= med["max"]
    assert results["scenarios"]["task_switch"]["group"] == "loop"
    if harness.have_matplotlib():
        assert (tmp_path / "p" / "loop.png").stat().st_size > 0


def test_bpf_chains_kernel_path_is_skipped_not_failed_where_missing(tmp_path):
    out = tmp_path / "r.json"
    r = run_bench("bpf", "--runs", "1", "--duration", "0.05", "--json", str(out),
                  "--plots", str(tmp_path), "--no-progress")
    assert r.returncode == 0, r.stdout + r.stderr
    samples = {s["loop"]: s for s in json.loads(out.read_text())["samples"]}
    assert set(samples) == {"kernel", "loop-side", "awaits"}
    assert samples["loop-side"]["metrics"]["nop4_per_s"] > 0
    kernel = samples["kernel"]
    assert kernel["error"] is None
    assert bool(kernel["skipped"]) != bool(kernel["metrics"])


def test_plots_take_each_scenarios_baseline():
    results = {
        "scenarios": {"files_seq": {"group": "files", "baselines": ["aiofiles", "executor"],
                                    "metrics": {"mib_per_s": "MiB/s"}}},
        "summary": {"files_seq": {"mib_per_s": {
            "aiouring": {"median": 300, "min": 200, "max": 400, "n": 3},
            "aiofiles": {"median": 100, "min": 90, "max": 110, "n": 3}}}}}
    (group, items), = plots.panels(results).items()
    assert group == "files"
    (scenario, label, baseline, rows), = items
    assert (scenario, label, baseline) == ("files_seq", "MiB/s", "aiofiles")
    assert dict((r[0], r[1:]) for r in rows)["aiouring"] == (3.0, 2.0, 4.0)


def test_tls_certificate_is_made_at_run_time(tmp_path, monkeypatch):
    monkeypatch.setattr(_files, "DATA_DIR", str(tmp_path))
    cert, key = tls_echo.certificate()
    assert os.path.dirname(cert) == str(tmp_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    assert tls_echo.certificate() == (cert, key)     # made once


def test_tls_echo_runs_on_aiouring(tmp_path):
    out = tmp_path / "r.json"
    r = run_bench("tls_echo", "--loop", "aiouring", "--runs", "1", "--duration", "0.3",
                  "--quick", "--json", str(out), "--plots", str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    (sample,) = json.loads(out.read_text())["samples"]
    assert sample["error"] is None
    assert sample["metrics"]["echoes"] > 0


def test_micro_benchmarks_run_once_each_without_benchmark_only():
    r = subprocess.run([sys.executable, "-m", "pytest", "benchmarks/", "-q",
                        "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    # Every micro-benchmark, on each of the three loops, ran (unmeasured).
    assert "18 passed" in r.stdout
    # No tables (pytest-benchmark's or the per-loop one): nothing measured.
    assert "benchmark" not in r.stdout.replace("benchmarks/", "")


def test_main_suite_does_not_collect_the_benchmarks():
    r = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                        "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "tests/test_benchmarks.py" in r.stdout
    assert "benchmarks/test_micro.py" not in r.stdout


# --- Latency histograms, the load client, the C limit servers ---------------

from benchmarks import histogram, limits, native, procs  # noqa: E402
from benchmarks.histogram import Histogram  # noqa: E402


def test_percentiles_of_known_values():
    h = Histogram()
    for v in range(1, 101):             # below 256: exact
        h.record(v)
    assert (h.percentile(0), h.percentile(50), h.percentile(99), h.percentile(100)) == (
        1, 50, 99, 100)
    h = Histogram()
    for v in range(1000, 1_000_001, 5):   # 1 us .. 1 ms in ns
        h.record(v)
    for p, exact in ((50, 500_000), (99, 990_000), (99.9, 999_000)):
        got = h.percentile(p)
        assert exact <= got <= exact * (1 + 1 / 128), (p, got)
    assert h.percentile(100) == h.max == 1_000_000
    # One slow value in a thousand sits above p99.9, not below p99.
    h = Histogram()
    h.record(10_000, count=999)
    h.record(5_000_000)
    assert h.percentile(99) < 10_100 and h.percentile(99.9) < 10_100
    assert h.percentile(99.95) == 5_000_000


def test_histogram_buckets_round_trip_and_merge():
    for v in (*range(0, 600), 1023, 1024, 1025, 10**6, 123_456_789, 2**40 + 12345):
        low, high = histogram.bucket_range(histogram.bucket_of(v))
        assert low <= v <= high
        assert high - low + 1 <= max(1, low / 128)        # under 1% wide
    a, b = Histogram(), Histogram()
    for v in range(1000):
        (a if v % 2 else b).record(v * 1000)
    copy = Histogram.from_pairs(a.pairs(), a.max)
    assert copy.counts == a.counts and copy.max == a.max
    merged = copy.merge(b)
    assert merged.total == 1000 and merged.max == 999_000
    assert 499_000 <= merged.percentile(50) <= 499_000 * (1 + 1 / 128)


def test_pooled_latency_reads_every_run_at_once():
    from benchmarks.scenarios import _latency
    # Two runs at 50%: one quiet, one with a stall of 3 ms on 10 of 1000
    # requests. Per run, p99 is 10 us or 3 ms; pooled, 10 of 2000 are slow.
    quiet, stalled = Histogram(), Histogram()
    quiet.record(10_000, count=1000)
    stalled.record(10_000, count=990)
    stalled.record(3_000_000, count=10)
    runs = [{"hist_at50": h.pairs(), "hist_max_at50": h.max} for h in (quiet, stalled)]
    pooled = _latency.pooled(runs, fractions=(0.5,))
    assert pooled["p99_at50_pooled_us"] == pytest.approx(10, rel=0.01)
    assert pooled["p999_at50_pooled_us"] == 3000      # the exact maximum caps it
    assert histogram.merged(runs, "hist_at90") is None
    assert _latency.pooled(runs, fractions=(0.9,)) == {}


def test_histogram_rejects_bad_input():
    h = Histogram()
    with pytest.raises(ValueError):
        h.percentile(50)                # nothing recorded
    with pytest.raises(ValueError):
        h.record(-1)
    h.record(5)
    for p in (-1, 100.5):
        with pytest.raises(ValueError):
            h.percentile(p)


def start_c_server(program, mode, *extra):
    proc = procs.spawn([native.build(program), mode, "--max-seconds", "60", *extra],
                       stdout=subprocess.PIPE)
    line = procs.LineReader(proc.stdout, program).readline(10)
    assert line.startswith("ready ")
    return proc, int(line.split()[1])


HTTP_RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                 b"Content-Length: 13\r\n\r\nHello, World!")


def recv_exactly(sock, size):
    got = bytearray()
    while len(got) < size:
        chunk = sock.recv(min(1 << 20, size - len(got)))
        assert chunk, "server closed the connection early"
        got += chunk
    return bytes(got)


@pytest.mark.parametrize("program", sorted(limits.PROGRAMS.values()))
def test_c_servers_echo_every_byte_and_answer_pipelined_http(program):
    import socket
    import threading
    import time
    server, port = start_c_server(program, "echo")
    try:
        socks = [socket.create_connection(("127.0.0.1", port), timeout=10)
                 for _ in range(2)]
        for size in (1, 1024, 65536 + 7, 3 << 20):   # 3 MiB: more than a socket holds
            for s in socks:
                data = os.urandom(size)
                writer = threading.Thread(target=s.sendall, args=(data,))
                writer.start()
                assert recv_exactly(s, size) == data
                writer.join()
        # A peer that reads late: the server runs out of room (uring_server:
        # of provided buffers, 16 MiB) and must stop reading, then resume.
        data = os.urandom(40 << 20)
        writer = threading.Thread(target=socks[1].sendall, args=(data,))
        writer.start()
        time.sleep(0.3)
        assert recv_exactly(socks[1], len(data)) == data
        writer.join()
        # A peer that stops sending still gets the rest of its echo.
        socks[0].sendall(b"last words")
        socks[0].shutdown(socket.SHUT_WR)
        assert recv_exactly(socks[0], 10) == b"last words"
        assert socks[0].recv(10) == b""
        for s in socks:
            s.close()
    finally:
        procs.stop(server)
    server, port = start_c_server(program, "http")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            # 500 requests in 7-byte pieces: requests split anywhere are counted once.
            blob = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 500
            threading.Thread(target=lambda: [s.send(blob[i:i + 7])
                                             for i in range(0, len(blob), 7)]).start()
            assert recv_exactly(s, 500 * len(HTTP_RESPONSE)) == HTTP_RESPONSE * 500
    finally:
        procs.stop(server)
    bad = subprocess.run([native.build(program), "ftp"], capture_output=True, text=True)
    assert bad.returncode == 2 and "usage" in bad.stderr


def load_client(mode, port, conns, rate, warmup, seconds, size=1024):
    return procs.spawn([native.build("load_client"), mode, "127.0.0.1", port, conns, rate,
                        size, warmup, seconds, 2], stdout=subprocess.PIPE)


def client_results(proc, reader):
    done = reader.readline(30).split()
    pairs = [tuple(map(int, p.split(":"))) for p in reader.readline(30).split()[1:]]
    assert proc.wait(30) == 0 and done[0] == "done"
    return ({"scheduled": int(done[1]), "completed": int(done[2]), "answers": int(done[3]),
             "unfinished": int(done[5])}, Histogram.from_pairs(pairs, int(done[6])))


def test_load_client_keeps_its_schedule_and_charges_a_stall_to_every_request():
    import signal
    import time
    server, port = start_c_server("epoll_server", "echo")
    try:
        client = load_client("echo", port, 4, 2000, 0.1, 1.0)
        out = procs.LineReader(client.stdout, "load client")
        assert out.readline(10) == "start"
        time.sleep(0.3)
        server.send_signal(signal.SIGSTOP)      # the server stalls for 200 ms
        time.sleep(0.2)
        server.send_signal(signal.SIGCONT)
        assert out.readline(10) == "end"
        run, hist = client_results(client, out)
    finally:
        procs.stop(server)
    # The window's requests are exactly those due in it: 2000/s for 1 s.
    assert run["scheduled"] == 2000 and run["completed"] == 2000
    assert run["unfinished"] == 0 and hist.total == 2000
    # ~400 requests were due during the stall and waited up to 200 ms from
    # their scheduled send; a closed-loop client would have sent (and timed)
    # just one per connection then.
    assert hist.percentile(90) >= 40_000_000
    assert hist.max >= 150_000_000
    assert hist.percentile(50) < hist.percentile(90) / 4


def test_load_client_speaks_http_open_and_closed_loop():
    server, port = start_c_server("uring_server", "http")
    try:
        client = load_client("http", port, 8, 1000, 0.05, 0.3, size=0)
        out = procs.LineReader(client.stdout, "load client")
        assert (out.readline(10), out.readline(10)) == ("start", "end")
        run, hist = client_results(client, out)
        assert run["scheduled"] == run["completed"] == hist.total == 300
        client = load_client("http", port, 8, 0, 0.05, 0.3, size=0)   # closed loop
        out = procs.LineReader(client.stdout, "load client")
        assert (out.readline(10), out.readline(10)) == ("start", "end")
        run, hist = client_results(client, out)
        assert run["scheduled"] == 0 and run["answers"] > 0
        assert hist.total == run["completed"] > 0
    finally:
        procs.stop(server)


def test_limit_servers_are_rows_of_the_scenarios_that_run_them():
    args = harness.parse_args(["--no-save"])
    assert set(limits.NAMES) <= set(args.loops)
    for name in ("proto_echo", "proto_echo_64k", "http_hello", "latency_echo",
                 "latency_http"):
        assert {"c-uring", "c-epoll"} <= set(harness.variants(args, scenarios.load(name)))
    for name in ("sock_echo", "call_soon", "buffered_echo"):
        assert not set(limits.NAMES) & set(harness.variants(args, scenarios.load(name)))
    args = harness.parse_args(["proto_echo", "--loops", "aiouring", "--no-save"])
    assert harness.variants(args, scenarios.load("proto_echo")) == ["aiouring"]
    assert harness.parse_args(["latency", "--no-save"]).names == ["latency_echo",
                                                                  "latency_http"]
    # Latencies: lower is better, and the best C server is the lowest.
    med = {"aiouring": 30.0, "uvloop": 20.0, "c-uring": 10.0, "c-epoll": 15.0}
    assert harness.ratio_text("aiouring", med, ("uvloop",), True) == (
        "1.50x uvloop, 3.00x best C")
    assert harness.ratio_text("aiouring", med, ("uvloop",), False) == (
        "1.50x uvloop, 2.00x best C")
    assert harness.ratio_text("c-uring", med, ("uvloop",), True) == "0.50x uvloop"


def test_latency_run_against_a_loop_and_a_c_server(tmp_path):
    out = tmp_path / "r.json"
    r = run_bench("latency_echo", "--loops", "aiouring,c-epoll", "--runs", "1",
                  "--duration", "0.2", "--quick", "--json", str(out),
                  "--plots", str(tmp_path / "p"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "best C" in r.stdout and "p99 us at 90% of peak" in r.stdout
    assert "p99.9 us at 90%, runs pooled" in r.stdout
    results = json.loads(out.read_text())
    peak = results["calibrations"]["latency_echo"]
    assert peak["loop"] in ("uvloop", "asyncio") and peak["peak_rate"] > 0
    samples = {s["loop"]: s for s in results["samples"]}
    assert set(samples) == {"aiouring", "c-epoll"}
    for s in samples.values():
        assert s["error"] is None, s["error"]
        m = s["metrics"]
        for at, fraction in (("at50", 0.5), ("at90", 0.9)):
            assert m[f"offered_{at}"] == pytest.approx(fraction * peak["peak_rate"])
            # The window holds the requests due in 0.2 s at the offered rate.
            assert abs(m[f"scheduled_{at}"] - 0.2 * m[f"offered_{at}"]) <= 1
            # A loaded machine can stall a server through a whole 0.2 s
            # window: then nothing is answered in it, and every request is
            # still charged (the histogram below holds all of them).
            assert m[f"achieved_{at}"] >= 0
            assert (0 < m[f"p50_{at}_us"] <= m[f"p99_{at}_us"] <= m[f"p999_{at}_us"]
                    <= m[f"max_{at}_us"])
            assert sum(c for _, c in m[f"hist_{at}"]) == m[f"scheduled_{at}"]
    assert results["scenarios"]["latency_echo"]["limits"] == ["c-epoll"]
    if harness.have_matplotlib():
        assert (tmp_path / "p" / "latency_echo.png").stat().st_size > 0


def test_plots_leave_latencies_to_the_percentile_plots():
    results = {
        "scenarios": {"latency_echo": {"group": "latency", "baselines": ["uvloop"],
                                       "metrics": {"p99_at50_us": "p99"},
                                       "lower_is_better": ["p99_at50_us"]}},
        "summary": {"latency_echo": {"p99_at50_us": {
            "uvloop": {"median": 100, "min": 90, "max": 110, "n": 1}}}}}
    assert plots.panels(results) == {}


def test_server_cpu_time_counts_a_busy_process():
    import time
    before = procs.cpu_seconds(os.getpid())
    end = time.process_time() + 0.05
    while time.process_time() < end:
        pass
    assert procs.cpu_seconds(os.getpid()) - before >= 0.04


def test_chains_busy_mode_times_every_path_it_can():
    import re
    import aiouring
    r = subprocess.run([sys.executable, "-m", "benchmarks.chains", "--reps", "1",
                        "--mode", "busy"], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 ms of Python per iteration" in r.stdout
    rows = {int(m.group(1)): m.group(2) for m in
            re.finditer(r"^nop_chain\(\s*(\d+)\)\s+(.*)$", r.stdout, re.M)}
    assert sorted(rows) == [2, 4, 16, 64]
    kernel = aiouring.features()["bpf_loop"]
    for cells in rows.values():
        timed = re.findall(r"([\d.]+) \(\s*([\d.]+)\)", cells)
        assert len(timed) == (4 if kernel else 3), cells      # kernel, loop-side, auto, awaits
        assert all(float(ms) > 0 and float(its) >= 1 for ms, its in timed)
        assert kernel or cells.split()[0] == "n/a"

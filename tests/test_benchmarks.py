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

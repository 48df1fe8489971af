"""Runs scenarios x loops x repetitions and prints a table of medians."""
import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time

from . import limits, loops, scenarios
from .procs import ROOT, bench_cpus, python_module, spawn, stop

RUNS, QUICK_RUNS = 5, 1
BASELINES = ("asyncio", "uvloop")
RESULTS_DIR = os.path.join(ROOT, "benchmarks", "results")
# Seconds a sample costs beyond its measured time (process start-up,
# warm-up, client start), per kind of scenario: for --dry-run's estimate.
OVERHEAD = 0.5


def split(csv):
    return [x for x in (csv or "").split(",") if x]


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks",
                                description=sys.modules[__package__].__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", metavar="SCENARIO",
                   help=f"any of {', '.join(scenarios.NAMES)}; a group: "
                        f"{', '.join(scenarios.GROUPS)}; or an alias: "
                        + ", ".join(f"{a}={n}" for a, n in scenarios.ALIASES.items())
                        + " (default: all)")
    p.add_argument("--scenarios", help="comma-separated scenarios (same as SCENARIO)")
    p.add_argument("--loops", "--loop", default=",".join(loops.NAMES + limits.NAMES),
                   help="comma-separated loops, and the plain C servers that show the "
                        "machine's limit where a scenario runs them (default: %(default)s)")
    p.add_argument("--quick", action="store_true",
                   help=f"{QUICK_RUNS} short run per loop instead of {RUNS}")
    p.add_argument("--runs", type=int, help="repetitions per loop")
    p.add_argument("--duration", type=float, help="measured seconds per sample")
    p.add_argument("--json", metavar="PATH",
                   help="where to write every sample and the machine's facts "
                        "(default: benchmarks/results/latest.json)")
    p.add_argument("--plots", metavar="DIR",
                   help="where to write a PNG bar chart of ratios per scenario group "
                        "(default: benchmarks/results/, when matplotlib is installed)")
    p.add_argument("--no-save", action="store_true",
                   help="write neither the JSON file nor the plots (unless named)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (there is none anyway when stderr is not a terminal)")
    p.add_argument("--dry-run", action="store_true",
                   help="print what would run and an estimate of the time, run nothing")
    args = p.parse_args(argv)
    words = args.names + split(args.scenarios)
    try:
        args.names = scenarios.resolve(words) or list(scenarios.NAMES)
    except KeyError as e:
        p.error(f"unknown scenario {e.args[0]!r}; choose from {', '.join(scenarios.NAMES)}, "
                f"a group ({', '.join(scenarios.GROUPS)}) "
                f"or an alias ({', '.join(scenarios.ALIASES)})")
    args.loops = list(dict.fromkeys(split(args.loops)))
    known = loops.NAMES + limits.NAMES
    bad = [x for x in args.loops if x not in known]
    if bad or not args.loops:
        p.error(f"unknown or no loop: {', '.join(bad)}; choose from {', '.join(known)}")
    if args.json is None and not args.no_save:
        args.json = os.path.join(RESULTS_DIR, "latest.json")
    if args.plots is None and not args.no_save and have_matplotlib():
        args.plots = RESULTS_DIR
    if args.runs is None:
        args.runs = QUICK_RUNS if args.quick else RUNS
    if args.runs < 1 or (args.duration is not None and not 0 < args.duration <= 60):
        p.error("--runs must be >= 1 and --duration in (0, 60]")
    return args


def have_matplotlib():
    import importlib.util
    return importlib.util.find_spec("matplotlib") is not None


def probe(name):
    """(usable, version or reason): import and create the loop in a child, so
    a broken build can't take the harness down; build a C limit server."""
    if name in limits.NAMES:
        return limits.probe(name)
    try:
        r = subprocess.run(python_module("benchmarks.loops", name), cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return False, "timed out creating the loop"
    if r.returncode == 0:
        return True, r.stdout.strip()
    lines = r.stderr.strip().splitlines()
    return False, lines[-1] if lines else f"exit status {r.returncode}"


def run_one(name, loop_name, seconds, quick):
    mod = scenarios.load(name)
    if hasattr(mod, "run_sample"):
        return mod.run_sample(loop_name, seconds, quick)
    proc = spawn(python_module("benchmarks.worker", name, loop_name, seconds,
                               "quick" if quick else "full"),
                 cpu=bench_cpus()[0], stdout=subprocess.PIPE, text=True)
    try:
        out, _ = proc.communicate(timeout=3 * seconds + 60)
    finally:
        stop(proc)
    if proc.returncode:
        raise RuntimeError(f"worker exited with status {proc.returncode}")
    return json.loads(out.strip().splitlines()[-1])


class Skipped(Exception):
    """A variant this machine cannot run (e.g. chain programs in a kernel
    without the io_uring BPF struct_ops)."""


def measure(name, loop_name, seconds, quick):
    metrics = run_one(name, loop_name, seconds, quick)
    if "skipped" in metrics:
        raise Skipped(metrics["skipped"])
    return metrics


def fmt(v):
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def variants(args, mod, usable=None):
    """What a scenario runs: its own VARIANTS, or the loops asked for (and
    the C limit servers asked for, where the scenario runs them); only the
    `usable` ones of those when given."""
    own = getattr(mod, "VARIANTS", None)
    if own:
        return list(own)
    runs_limits = getattr(mod, "LIMITS", None) is not None
    return [v for v in args.loops
            if (v in loops.NAMES or runs_limits and v in limits.NAMES)
            and (usable is None or v in usable)]


def ratio_text(lp, med, baselines, lower_is_better):
    """The table's "ratio vs" cell: against each baseline, and against the
    best C limit server where the scenario has them."""
    parts = [f"{med[lp] / med[b]:.2f}x {b}" for b in baselines if med.get(b) and b != lp]
    limit_meds = [med[c] for c in limits.NAMES if med.get(c)]
    if limit_meds and lp not in limits.NAMES:
        best = min(limit_meds) if lower_is_better else max(limit_meds)
        parts.append(f"{med[lp] / best:.2f}x best C")
    return ", ".join(parts) or "-"


def summarize(args, status, samples):
    """Medians per (scenario, metric, loop), and the table's rows."""
    summary, rows, notes = {}, [], []
    for name in args.names:
        mod = scenarios.load(name)
        baselines = getattr(mod, "BASELINES", BASELINES)
        lower = getattr(mod, "LOWER_IS_BETTER", ())
        for key, label in mod.METRICS:
            med, vals_of = {}, {}
            for lp in variants(args, mod):
                vals_of[lp] = [s["metrics"][key] for s in samples
                               if s["scenario"] == name and s["loop"] == lp
                               and s["metrics"].get(key) is not None]
                if vals_of[lp]:
                    med[lp] = statistics.median(vals_of[lp])
            for lp in variants(args, mod):
                vals = vals_of[lp]
                if vals:
                    spread = f"{(max(vals) - min(vals)) / med[lp]:.1%}" if len(vals) > 1 else "-"
                    ratios = ratio_text(lp, med, baselines, key in lower)
                    rows.append([name, label, lp, fmt(med[lp]), spread, str(len(vals)), ratios])
                    summary.setdefault(name, {}).setdefault(key, {})[lp] = {
                        "median": med[lp], "min": min(vals), "max": max(vals), "n": len(vals)}
                else:
                    skipped = (not status.get(lp, (True,))[0]
                               or any(s["skipped"] for s in samples
                                      if s["scenario"] == name and s["loop"] == lp))
                    rows.append([name, label, lp, "skipped" if skipped else "failed",
                                 "", "", ""])
        rows += pooled_rows(args, mod, name, samples, summary)
    for lp in args.loops:
        if not status[lp][0]:
            notes.append(f"{lp}: skipped: {status[lp][1]}")
    for s in samples:
        if s["error"]:
            notes.append(f"{s['scenario']} {s['loop']} run {s['run']}: failed: {s['error']}")
    for key in dict.fromkeys((s["scenario"], s["loop"], s["skipped"])
                             for s in samples if s["skipped"]):
        notes.append(f"{key[0]} {key[1]}: skipped: {key[2]}")
    return summary, rows, notes


def pooled_rows(args, mod, name, samples, summary):
    """Rows of the metrics a scenario reads from all its runs together
    (POOLED, by its pooled()): one figure per loop, "pooled" as spread."""
    if not hasattr(mod, "pooled"):
        return []
    runs_of = {lp: [s["metrics"] for s in samples
                    if s["scenario"] == name and s["loop"] == lp and s["metrics"]]
               for lp in variants(args, mod)}
    values = {lp: mod.pooled(runs) for lp, runs in runs_of.items() if runs}
    baselines = getattr(mod, "BASELINES", BASELINES)
    lower = getattr(mod, "LOWER_IS_BETTER", ())
    rows = []
    for key, label in mod.POOLED:
        value = {lp: v[key] for lp, v in values.items() if v.get(key) is not None}
        for lp, x in value.items():
            rows.append([name, label, lp, fmt(x), "pooled", str(len(runs_of[lp])),
                         ratio_text(lp, value, baselines, key in lower)])
            summary.setdefault(name, {}).setdefault(key, {})[lp] = {
                "median": x, "min": x, "max": x, "n": len(runs_of[lp])}
    return rows


def scenario_info(args):
    """What the JSON file and the plots need to know of each scenario."""
    info = {}
    for name in args.names:
        mod = scenarios.load(name)
        info[name] = {"group": scenarios.group_of(name),
                      "variants": variants(args, mod),
                      "baselines": list(getattr(mod, "BASELINES", BASELINES)),
                      "metrics": dict(mod.METRICS) | dict(getattr(mod, "POOLED", ())),
                      "lower_is_better": sorted(getattr(mod, "LOWER_IS_BETTER", ())),
                      "limits": [v for v in variants(args, mod) if v in limits.NAMES],
                      "histograms": dict(getattr(mod, "HISTOGRAMS", ())),
                      "doc": (mod.__doc__ or "").strip()}
    return info


def table(rows):
    head = ["scenario", "metric", "loop", "median", "spread", "runs", "ratio vs"]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    right = {3, 4, 5}  # numbers right-aligned

    def line(r):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(r, widths))).rstrip()

    out, prev = [line(head), line(["-" * w for w in widths])], ["", ""]
    for r in rows:
        # Blank a repeated scenario / metric, for readability.
        shown = ["" if r[0] == prev[0] else r[0], "" if r[:2] == prev[:2] else r[1], *r[2:]]
        prev = r
        out.append(line(shown))
    return "\n".join(out)


def io_uring_facts():
    """aiouring.features(), probed in a child (as the loops are) with a
    short summary; None when aiouring can't be imported."""
    code = ("import json, aiouring; f = aiouring.features(); "
            "f['summary'] = {k: f.get(k) for k in ('io_uring', 'loop_setup', 'bpf_ops', "
            "'bpf_loop')} | {'opcodes': len(f.get('opcodes') or ()), "
            "'features': len(f.get('features') or ())}; print(json.dumps(f))")
    try:
        r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                           text=True, timeout=60)
        return json.loads(r.stdout) if r.returncode == 0 else None
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def machine_info(status):
    def pkg(dist):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return None

    def cmd(*argv):
        try:
            return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True,
                                  timeout=10).stdout.strip() or None
        except OSError:
            return None

    cpu_model = None
    try:
        with open("/proc/cpuinfo") as f:
            cpu_model = next((line.split(":", 1)[1].strip() for line in f
                              if line.startswith("model name")), None)
    except OSError:
        pass
    return {
        "time": datetime.datetime.now(datetime.UTC).isoformat(),
        "hostname": platform.node(),
        "kernel": platform.release(),
        "kernel_version": platform.version(),
        "machine": platform.machine(),
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpus_server_client": bench_cpus(),
        "python": sys.version,
        "python_implementation": platform.python_implementation(),
        "packages": {d: pkg(d) for d in ("aiouring", "uvloop", "aiofiles", "Cython",
                                         "matplotlib", "cryptography", "psutil")},
        "loops": {lp: {"usable": ok, "version" if ok else "reason": info}
                  for lp, (ok, info) in status.items()},
        "io_uring": io_uring_facts(),
        "liburing": cmd("pkg-config", "--modversion", "liburing"),
        "openssl": __import__("ssl").OPENSSL_VERSION,
        "wrk": next(iter((cmd("wrk", "-v") or "").splitlines()), None),
        "git_commit": cmd("git", "rev-parse", "--verify", "-q", "HEAD"),
    }


def plan(args, usable):
    """[(rep, scenario, variant)] in run order: loops (or a scenario's own
    variants) interleaved run by run, the order rotated each run so no loop
    always runs right after another."""
    out = []
    for rep in range(args.runs):
        for name in args.names:
            seq = variants(args, scenarios.load(name), usable)
            k = rep % len(seq) if seq else 0
            out.extend((rep, name, v) for v in seq[k:] + seq[:k])
    return out


def sample_seconds(args, mod):
    return args.duration or (mod.QUICK_SECONDS if args.quick else mod.SECONDS)


def estimate(args, todo):
    """Seconds a run of `todo` should take: each sample's measured time
    (scenarios that measure several metrics in turn say how long they take
    with ESTIMATE(seconds, quick)) plus its overhead."""
    total = 0.0
    for _, name, _ in todo:
        mod = scenarios.load(name)
        secs = sample_seconds(args, mod)
        est = getattr(mod, "estimate", None)
        total += est(secs, args.quick) if est else secs + getattr(mod, "OVERHEAD", OVERHEAD)
    for name in dict.fromkeys(name for _, name, _ in todo):
        mod = scenarios.load(name)
        if hasattr(mod, "calibration_estimate"):
            total += mod.calibration_estimate(sample_seconds(args, mod), args.quick)
    return total


class Progress:
    """A progress bar on the terminal (rich, else tqdm) with the per-sample
    lines above it; plain lines on stderr when there is no bar."""

    def __init__(self, total, enabled):
        self.bar = self.rich = None
        if enabled:
            try:
                import rich.progress as rp
            except ImportError:
                rp = None
            if rp is not None:
                self.rich = rp.Progress(
                    rp.TextColumn("{task.description}"), rp.BarColumn(),
                    rp.MofNCompleteColumn(), rp.TimeElapsedColumn(),
                    rp.TextColumn("eta"), rp.TimeRemainingColumn(),
                    console=__import__("rich.console").console.Console(stderr=True),
                    transient=True, refresh_per_second=2)
                self.task = self.rich.add_task("benchmarks", total=total)
                self.rich.start()
            else:
                try:
                    from tqdm import tqdm
                    self.bar = tqdm(total=total, unit="sample", file=sys.stderr)
                except ImportError:
                    pass

    @property
    def active(self):
        return self.rich is not None or self.bar is not None

    def describe(self, text):
        if self.rich is not None:
            self.rich.update(self.task, description=text)
        elif self.bar is not None:
            self.bar.set_description(text)

    def log(self, msg):
        if self.rich is not None:
            self.rich.console.print(msg, markup=False, highlight=False)
        elif self.bar is not None:
            self.bar.write(msg, file=sys.stderr)
        else:
            print(msg, file=sys.stderr, flush=True)

    def advance(self):
        if self.rich is not None:
            self.rich.advance(self.task)
        elif self.bar is not None:
            self.bar.update()

    def close(self):
        if self.rich is not None:
            self.rich.stop()
        elif self.bar is not None:
            self.bar.close()


def want_progress(args, stream=None):
    """A bar only on a terminal, and not with --no-progress."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return not args.no_progress and bool(isatty and isatty())


def main(argv=None):
    # SIGTERM -> SystemExit, so finally blocks stop every child we started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args = parse_args(argv)
    if args.dry_run:
        return dry_run(args)
    # File scenarios keep their data here; removed when the run ends.
    os.environ.setdefault("AIOURING_BENCH_DATA", f"/var/tmp/aiouring-bench-{os.getpid()}")
    try:
        return run(args)
    finally:
        for name in args.names:
            cleanup = getattr(scenarios.load(name), "cleanup", None)
            if cleanup is not None:
                cleanup()


def calibrate(mod, name, seconds, quick, log):
    """A scenario's calibration (e.g. the peak rate the latency scenarios
    offer fractions of): its facts, or {"error": ...} (its samples then fail
    with the same error)."""
    try:
        facts = mod.calibrate(seconds, quick)
    except Exception as e:
        log(f"{name}: calibration FAILED: {e}")
        return {"error": f"{type(e).__name__}: {e}"}
    log(f"{name}: calibrated: " + ", ".join(
        f"{k} {fmt(v) if isinstance(v, (int, float)) else v}" for k, v in facts.items()
        if not isinstance(v, dict)))
    return facts


def dry_run(args):
    todo = plan(args, list(args.loops))
    for name in args.names:
        mod = scenarios.load(name)
        vs = variants(args, mod)
        print(f"{name:<18} {', '.join(vs)}: {args.runs} x {len(vs)} samples of "
              f"{sample_seconds(args, mod):g}s measured"
              + (" (after a calibration run)" if hasattr(mod, "calibrate") else ""))
    secs = estimate(args, todo)
    print(f"{len(todo)} samples; estimated {secs / 60:.1f} min "
          f"(+ set-up: file data, first build of the C programs)")
    return 0


def run(args):
    started = time.monotonic()
    status = {lp: probe(lp) for lp in args.loops}
    usable = [lp for lp in args.loops if status[lp][0]]
    server_cpu, client_cpu = bench_cpus()
    todo = plan(args, usable)
    progress = Progress(len(todo), want_progress(args))
    log = progress.log
    log("loops: " + "; ".join(f"{lp} {info}" if ok else f"{lp} skipped ({info})"
                              for lp, (ok, info) in status.items()))
    log(f"runs: {args.runs}, loop process on CPU {server_cpu}, echo client on CPU {client_cpu}; "
        f"{len(todo)} samples, about {estimate(args, todo) / 60:.1f} min")

    samples, calibrations = [], {}
    try:
        for rep, name, lp in todo:
            mod = scenarios.load(name)
            seconds = sample_seconds(args, mod)
            if hasattr(mod, "calibrate") and name not in calibrations:
                progress.describe(f"{name}: calibrating")
                calibrations[name] = calibrate(mod, name, seconds, args.quick, log)
            progress.describe(f"[{rep + 1}/{args.runs}] {name} {lp}")
            sample = {"scenario": name, "loop": lp, "run": rep + 1,
                      "seconds": seconds, "metrics": {}, "error": None, "skipped": None}
            t0 = time.monotonic()
            try:
                sample["metrics"] = measure(name, lp, seconds, args.quick)
            except Skipped as e:
                sample["skipped"] = str(e)
            except Exception as e:
                sample["error"] = f"{type(e).__name__}: {e}"
            sample["wall_s"] = round(time.monotonic() - t0, 3)
            samples.append(sample)
            key, label = mod.METRICS[0]
            got = sample["metrics"].get(key)
            describe = getattr(mod, "describe",
                               lambda m: f"{label} {fmt(m[key])}")  # noqa: B023 (used at once)
            log(f"[{rep + 1}/{args.runs}] {name:<10} {lp:<9} "
                + (describe(sample["metrics"]) if got is not None
                   else f"skipped: {sample['skipped']}" if sample["skipped"]
                   else f"FAILED {sample['error']}"))
            progress.advance()
    finally:
        progress.close()

    summary, rows, notes = summarize(args, status, samples)
    print()
    print(table(rows))
    for n in notes:
        print(n)
    print(f"\n{len(samples)} samples in {time.monotonic() - started:.0f}s; "
          "latencies (us): lower is better, everything else higher; "
          "spread = (max-min)/median")
    if args.json or args.plots:
        results = {"meta": machine_info(status),
                   "config": {k: v for k, v in vars(args).items()},
                   "scenarios": scenario_info(args),
                   "calibrations": calibrations,
                   "samples": samples, "summary": summary,
                   "wall_s": round(time.monotonic() - started, 1)}
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        tmp = f"{args.json}.tmp"
        with open(tmp, "w") as f:
            json.dump(results, f, indent=2)
        os.replace(tmp, args.json)
        print(f"wrote {args.json}")
    if args.plots:
        try:
            from . import plots
            for path in plots.plot(results, args.plots):
                print(f"wrote {path}")
        except ImportError as e:
            print(f"no plots: {e}")
    failed = any(s["error"] for s in samples) or not usable
    return 1 if failed else 0

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

from . import loops, scenarios
from .procs import ROOT, bench_cpus, python_module, spawn, stop

RUNS, QUICK_RUNS = 5, 1
BASELINES = ("asyncio", "uvloop")


def split(csv):
    return [x for x in (csv or "").split(",") if x]


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks",
                                description=sys.modules[__package__].__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", metavar="SCENARIO",
                   help=f"any of {', '.join(scenarios.NAMES)} (default: all)")
    p.add_argument("--scenarios", help="comma-separated scenarios (same as SCENARIO)")
    p.add_argument("--loops", "--loop", default=",".join(loops.NAMES),
                   help="comma-separated loops (default: %(default)s)")
    p.add_argument("--quick", action="store_true",
                   help=f"{QUICK_RUNS} short run per loop instead of {RUNS}")
    p.add_argument("--runs", type=int, help="repetitions per loop")
    p.add_argument("--duration", type=float, help="measured seconds per sample")
    p.add_argument("--json", metavar="PATH", help="write every sample and machine info")
    p.add_argument("--plots", metavar="DIR",
                   help="write a PNG bar chart of ratios per scenario into DIR")
    args = p.parse_args(argv)
    args.names = list(dict.fromkeys(args.names + split(args.scenarios))) or list(scenarios.NAMES)
    args.loops = list(dict.fromkeys(split(args.loops)))
    for what, given, known in (("scenario", args.names, scenarios.NAMES),
                               ("loop", args.loops, loops.NAMES)):
        bad = [x for x in given if x not in known]
        if bad or not given:
            p.error(f"unknown or no {what}: {', '.join(bad)}; choose from {', '.join(known)}")
    if args.runs is None:
        args.runs = QUICK_RUNS if args.quick else RUNS
    if args.runs < 1 or (args.duration is not None and not 0 < args.duration <= 60):
        p.error("--runs must be >= 1 and --duration in (0, 60]")
    return args


def probe(name):
    """(usable, version or reason): import and create the loop in a child, so
    a broken build can't take the harness down."""
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


def fmt(v):
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def variants(args, mod):
    """What a scenario runs: its own VARIANTS, or the loops asked for."""
    return list(getattr(mod, "VARIANTS", args.loops))


def summarize(args, status, samples):
    """Medians per (scenario, metric, loop), and the table's rows."""
    summary, rows, notes = {}, [], []
    for name in args.names:
        mod = scenarios.load(name)
        baselines = getattr(mod, "BASELINES", BASELINES)
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
                    ratios = ", ".join(f"{med[lp] / med[b]:.2f}x {b}" for b in baselines
                                       if med.get(b) and b != lp) or "-"
                    rows.append([name, label, lp, fmt(med[lp]), spread, str(len(vals)), ratios])
                    summary.setdefault(name, {}).setdefault(key, {})[lp] = {
                        "median": med[lp], "min": min(vals), "max": max(vals), "n": len(vals)}
                else:
                    why = "skipped" if not status.get(lp, (True,))[0] else "failed"
                    rows.append([name, label, lp, why, "", "", ""])
    for lp in args.loops:
        if not status[lp][0]:
            notes.append(f"{lp}: skipped: {status[lp][1]}")
    for s in samples:
        if s["error"]:
            notes.append(f"{s['scenario']} {s['loop']} run {s['run']}: failed: {s['error']}")
    return summary, rows, notes


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
            cpu_model = next((l.split(":", 1)[1].strip() for l in f
                              if l.startswith("model name")), None)
    except OSError:
        pass
    return {
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "cpus_server_client": bench_cpus(),
        "python": sys.version,
        "python_implementation": platform.python_implementation(),
        "packages": {d: pkg(d) for d in ("uvloop", "aiouring", "Cython")},
        "loops": {lp: {"usable": ok, "version" if ok else "reason": info}
                  for lp, (ok, info) in status.items()},
        "liburing": cmd("pkg-config", "--modversion", "liburing"),
        "git_commit": cmd("git", "rev-parse", "--verify", "-q", "HEAD"),
    }


def main(argv=None):
    # SIGTERM -> SystemExit, so finally blocks stop every child we started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args = parse_args(argv)
    # File scenarios keep their data here; removed when the run ends.
    os.environ.setdefault("AIOURING_BENCH_DATA", f"/var/tmp/aiouring-bench-{os.getpid()}")
    try:
        return run(args)
    finally:
        for name in args.names:
            cleanup = getattr(scenarios.load(name), "cleanup", None)
            if cleanup is not None:
                cleanup()


def run(args):
    started = time.monotonic()
    status = {lp: probe(lp) for lp in args.loops}
    usable = [lp for lp in args.loops if status[lp][0]]
    server_cpu, client_cpu = bench_cpus()
    log = lambda msg: print(msg, file=sys.stderr, flush=True)
    log("loops: " + "; ".join(f"{lp} {info}" if ok else f"{lp} skipped ({info})"
                              for lp, (ok, info) in status.items()))
    log(f"runs: {args.runs}, loop process on CPU {server_cpu}, echo client on CPU {client_cpu}")

    samples = []
    for rep in range(args.runs):
        # Rotate the order too, so no loop always runs right after another.
        order = usable[rep % len(usable):] + usable[:rep % len(usable)] if usable else []
        for name in args.names:
            mod = scenarios.load(name)
            seconds = args.duration or (mod.QUICK_SECONDS if args.quick else mod.SECONDS)
            own = getattr(mod, "VARIANTS", None)
            for lp in (own[rep % len(own):] + own[:rep % len(own)] if own else order):
                sample = {"scenario": name, "loop": lp, "run": rep + 1,
                          "seconds": seconds, "metrics": {}, "error": None}
                try:
                    sample["metrics"] = run_one(name, lp, seconds, args.quick)
                except Exception as e:
                    sample["error"] = f"{type(e).__name__}: {e}"
                samples.append(sample)
                key, label = mod.METRICS[0]
                got = sample["metrics"].get(key)
                log(f"[{rep + 1}/{args.runs}] {name:<10} {lp:<9} "
                    + (f"{label} {fmt(got)}" if got is not None else f"FAILED {sample['error']}"))

    summary, rows, notes = summarize(args, status, samples)
    print()
    print(table(rows))
    for n in notes:
        print(n)
    print(f"\n{len(samples)} samples in {time.monotonic() - started:.0f}s; "
          "higher is better everywhere; spread = (max-min)/median")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": machine_info(status),
                       "config": {k: v for k, v in vars(args).items() if k != "json"},
                       "samples": samples, "summary": summary}, f, indent=2)
        print(f"wrote {args.json}")
    if args.plots:
        from . import plots
        for path in plots.plot({"meta": machine_info(status), "summary": summary},
                               args.plots):
            print(f"wrote {path}")
    failed = any(s["error"] for s in samples) or not usable
    return 1 if failed else 0

"""The command line: prepare each library's workspace, run its suite on
asyncio's loop and on aiouring's, write the report.

    python tools/library_suites [LIBRARY ...] [--loops asyncio,aiouring]
                                [--workdir DIR] [--budget SECONDS] [--check]
                                [--prepare-only] [--list]

With no LIBRARY, every library of libraries.py runs. --check exits 1 when a
test fails only on aiouring and known.txt does not explain it.
"""

import argparse
import os
import platform
import subprocess
import sys
import time

from . import report
from .libraries import LIBRARIES
from .suite_run import load_run, run_suite
from .workspace import REPO_ROOT, Workspace, log

HERE = os.path.dirname(os.path.abspath(__file__))
KNOWN = os.path.join(HERE, "known.txt")
DEFAULT_WORKDIR = os.path.join(REPO_ROOT, "build", "library-suites")
LOOPS = ("asyncio", "aiouring")


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="tools/library_suites",
        description="Run widely used asyncio libraries' own test suites on "
                    "asyncio's loop and on aiouring's and compare.")
    ap.add_argument("libraries", nargs="*", metavar="LIBRARY",
                    help=f"which ones (default: all of {', '.join(LIBRARIES)})")
    ap.add_argument("--loops", default=",".join(LOOPS),
                    help="comma-separated loops to run (default: asyncio,aiouring)")
    ap.add_argument("--workdir", default=DEFAULT_WORKDIR,
                    help="downloads, venvs and results (default: build/library-suites)")
    ap.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                    help="stop a suite's run on one loop after this long")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 if a test fails only on aiouring and known.txt "
                         "does not list it")
    ap.add_argument("--report-only", action="store_true",
                    help="run nothing: compare the results of the last runs again "
                         "(e.g. after editing known.txt)")
    ap.add_argument("--prepare-only", action="store_true",
                    help="download and install, run nothing")
    ap.add_argument("--list", action="store_true", help="list the libraries and exit")
    args = ap.parse_args(argv)
    unknown = [name for name in args.libraries if name not in LIBRARIES]
    if unknown:
        ap.error(f"unknown librar{'y' if len(unknown) == 1 else 'ies'} "
                 f"{', '.join(unknown)}; choose from {', '.join(LIBRARIES)}")
    args.loops = [name.strip() for name in args.loops.split(",") if name.strip()]
    if not set(args.loops) <= set(LOOPS):
        ap.error(f"--loops takes names from {', '.join(LOOPS)}")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.list:
        for lib in LIBRARIES.values():
            print(f"{lib.name} {lib.version}: {lib.exercises}")
        return 0
    names = args.libraries or list(LIBRARIES)
    out_dir = os.path.join(args.workdir, "results")
    os.makedirs(out_dir, exist_ok=True)
    if not args.report_only:
        workspaces = {name: Workspace(LIBRARIES[name], args.workdir).prepare()
                      for name in names}
        if args.prepare_only:
            return 0
        for name in names:
            run_library(workspaces[name], args.loops, out_dir, args.budget)
    known = report.load_known(KNOWN)
    compared = [name for name in names if compare_library(LIBRARIES[name], out_dir, known)]
    if not compared:
        return 0
    path, comparisons = report.write(out_dir, list(LIBRARIES))
    print(report.table(comparisons))
    print(f"\nreport: {path}")
    unexplained = [f"{c['library']}::{f['nodeid']}" for c in comparisons
                   if c["library"] in compared
                   for f in c["fail_only_on_aiouring"] if not f["known"]]
    if unexplained:
        print(f"\n{len(unexplained)} test(s) fail only on aiouring and are not in known.txt:")
        print("\n".join("  " + name for name in unexplained))
    return 1 if args.check and unexplained else 0


def run_library(ws, loops, out_dir, budget):
    lib = ws.lib
    meta = {"when": time.strftime("%Y-%m-%d"), "aiouring": aiouring_revision(),
            "platform": f"Python {platform.python_version()}, Linux {platform.release()}"}
    for loop in loops:
        log(f"{lib.name} {lib.version} on {loop} ...")
        run = run_suite(ws, loop, out_dir, budget=budget, meta=meta, log=log)
        c = report.counts(run["tests"])
        log(f"{lib.name} on {loop}: " + ", ".join(f"{n} {k}" for k, n in c.items() if n)
            + f" in {run['seconds']:.0f} s")
        if not run["tests"]:
            with open(run["log"], encoding="utf-8", errors="replace") as f:
                tail = f.read().splitlines()[-15:]
            log(f"{lib.name} on {loop} ran no test (pytest exit {run['exit_codes']}); "
                f"the end of {run['log']}:\n" + "\n".join(tail))
    with open(os.path.join(out_dir, f"{lib.name}-freeze.txt"), "w") as f:
        f.write("\n".join(ws.installed_versions()) + "\n")


def compare_library(lib, out_dir, known):
    """Compares the last finished runs of lib on both loops, if there are."""
    runs = {loop: load_run(out_dir, lib, loop) for loop in LOOPS}
    if None in runs.values():
        return False
    comparison = report.compare(lib.name, runs, known)
    comparison.update(version=lib.version, **runs["aiouring"]["meta"])
    report.save(out_dir, comparison)
    return True


def aiouring_revision():
    """The checkout's commit, marked when it has uncommitted changes."""
    def git(*args):
        return subprocess.run(["git", "-C", REPO_ROOT, *args], capture_output=True,
                              text=True).stdout.strip()
    commit = git("rev-parse", "--short", "HEAD") or "?"
    return commit + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")

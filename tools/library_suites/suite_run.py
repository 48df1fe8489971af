"""Runs one library's test suite on one loop, to the end, whatever hangs.

pytest runs in a process group of its own, with the in-venv plugin writing
a JSON line when each test starts and finishes. The harness reads those
lines as they come: a test that is still running well past its per-test
timeout (pytest-timeout's own failure did not come) is recorded as "hung",
the process group is killed and pytest starts again with every test that
already has a result deselected. A process that dies inside a test gets
that test recorded as "crashed" and is resumed the same way.
"""

import json
import os
import signal
import subprocess
import tempfile
import time


POLL = 1.0              # seconds between looks at the results file
HANG_GRACE = 30         # seconds past the per-test timeout before a kill
MAX_RESTARTS = 25       # then the remaining tests are reported as not run
ENV_VAR = "AIOURING_LIBSUITE_LOOP"     # read by in_venv/libsuite_loop.py


class ResultsFile:
    """The JSON lines written so far, read incrementally."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.finished = {}          # nodeid -> finish record
        self.collect_errors = []
        self.running = None         # (nodeid, monotonic start) of the open test

    def poll(self):
        try:
            with open(self.path, encoding="utf-8") as f:
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:
            return
        complete, _, _ = chunk.rpartition("\n")
        if not complete:
            return
        self.offset += len(complete.encode()) + 1
        for line in complete.splitlines():
            self._take(json.loads(line))

    def _take(self, record):
        event = record["event"]
        if event == "start":
            self.running = (record["nodeid"], time.monotonic())
        elif event == "finish":
            self.finished[record["nodeid"]] = record
            if self.running and self.running[0] == record["nodeid"]:
                self.running = None
        elif event == "collect-error":
            self.collect_errors.append(record)

    def append(self, **record):
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        self._take(record)


def pytest_command(ws, loop, results, skip_file):
    lib = ws.lib
    args = [ws.pytest, "-p", "libsuite_plugin", "-p", "no:cacheprovider",
            *lib.pytest_args, "-q", "-rN",
            f"--timeout={lib.timeout}", "--timeout-method=signal",
            f"--libsuite-results={results}", f"--libsuite-skip={skip_file}",
            f"--libsuite-wake-after={lib.timeout + 2}"]
    if lib.asyncio_backend_only:
        args.append("--libsuite-asyncio-backend-only")
    return args + list(lib.paths)


def run_suite(ws, loop, out_dir, budget=None, meta=None, log=print,
              hang_grace=HANG_GRACE, python_path=()):
    """Runs ws's suite on loop ('asyncio' or 'aiouring'); returns a dict
    with the finish records by node id, collection errors, the pytest exit
    codes, the time taken and meta (kept as given)."""
    lib = ws.lib
    results_path = os.path.join(out_dir, f"{lib.name}-{loop}.jsonl")
    log_path = os.path.join(out_dir, f"{lib.name}-{loop}.log")
    for path in (results_path, log_path, _run_path(out_dir, lib, loop)):
        if os.path.exists(path):
            os.unlink(path)
    results = ResultsFile(results_path)
    # The venv's .pth puts aiouring and in_venv/ on every process's path;
    # python_path is for a pytest outside such a venv (the harness's tests).
    env = dict(os.environ, **{ENV_VAR: loop})
    env.pop("PYTHONPATH", None)
    if python_path:
        env["PYTHONPATH"] = os.pathsep.join(python_path)
    started = time.monotonic()
    exit_codes = []
    with tempfile.NamedTemporaryFile("w", prefix="libsuite-skip-", suffix=".txt",
                                     delete=False) as skip:
        skip_file = skip.name
    try:
        for _ in range(MAX_RESTARTS + 1):
            with open(skip_file, "w", encoding="utf-8") as f:
                f.write("".join(nodeid + "\n" for nodeid in results.finished))
            status = _run_once(ws, loop, results, skip_file, log_path, env,
                               started, budget, hang_grace)
            exit_codes.append(status)
            if status == "over budget" or results.running is None:
                break
            nodeid = results.running[0]
            if status == "hung":
                outcome = "hung"
                summary = (f"no result {lib.timeout + hang_grace} s after it "
                           f"started (per-test timeout {lib.timeout} s); killed")
            else:
                outcome = "crashed"
                summary = f"the pytest process ended inside this test ({_describe(status)})"
            log(f"{lib.name} on {loop}: {nodeid} {outcome}; resuming after it")
            results.append(event="finish", nodeid=nodeid, outcome=outcome,
                           summary=summary, duration=None,
                           loops_created={}, loops_run={})
            if budget and time.monotonic() - started > budget:
                break
    finally:
        os.unlink(skip_file)
    with open(_run_path(out_dir, lib, loop), "w", encoding="utf-8") as f:
        json.dump({"exit_codes": exit_codes, "meta": meta or {},
                   "seconds": round(time.monotonic() - started, 1)}, f)
    return load_run(out_dir, lib, loop)


def _run_path(out_dir, lib, loop):
    return os.path.join(out_dir, f"{lib.name}-{loop}.run.json")


def load_run(out_dir, lib, loop):
    """A finished run as run_suite returned it, from its files; None if the
    run is missing or did not finish."""
    try:
        with open(_run_path(out_dir, lib, loop), encoding="utf-8") as f:
            run = json.load(f)
    except FileNotFoundError:
        return None
    results = ResultsFile(os.path.join(out_dir, f"{lib.name}-{loop}.jsonl"))
    results.poll()
    run.update(tests=results.finished, collect_errors=results.collect_errors,
               log=os.path.join(out_dir, f"{lib.name}-{loop}.log"))
    return run


def _run_once(ws, loop, results, skip_file, log_path, env, started, budget, hang_grace):
    """One pytest process; returns its exit code, "hung" or "over budget"."""
    hang_after = ws.lib.timeout + hang_grace
    with open(log_path, "a", encoding="utf-8") as log_file:
        proc = subprocess.Popen(
            pytest_command(ws, loop, results.path, skip_file),
            cwd=ws.source, env=env, stdout=log_file, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            while True:
                try:
                    code = proc.wait(timeout=POLL)
                    results.poll()
                    return code
                except subprocess.TimeoutExpired:
                    pass
                results.poll()
                now = time.monotonic()
                if results.running and now - results.running[1] > hang_after:
                    _kill_group(proc)
                    return "hung"
                if budget and now - started > budget:
                    _kill_group(proc)
                    return "over budget"
        finally:
            if proc.poll() is None:
                _kill_group(proc)


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _describe(status):
    if isinstance(status, int) and status < 0:
        return f"killed by {signal.Signals(-status).name}"
    return f"exit code {status}"

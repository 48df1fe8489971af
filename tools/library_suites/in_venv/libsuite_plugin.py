"""pytest plugin the harness loads (-p libsuite_plugin) into a library's own
test suite: writes one JSON line per test (outcome, first lines of the
failure, which event loop classes were created and which ran), deselects
tests the harness names, and wakes a loop that sleeps through a per-test
timeout.

Records (--libsuite-results FILE, appended and flushed line by line, so the
harness can tell which test was running when a process hung or died):

    {"event": "start", "nodeid": ..., "time": ...}
    {"event": "finish", "nodeid": ..., "outcome": "passed" | "failed" |
     "error" | "skipped" | "xfailed", "summary": "...", "duration": s,
     "loops_created": {class: n}, "loops_run": {class: n}}
    {"event": "collect-error", "nodeid": ..., "summary": "..."}

"loops_run" counts the loops that became the running loop during the test
(setup, call and teardown): the proof of which loop a test really ran on.
"""

import json
import threading
import time

import pytest

# Installs the loop switch, for a pytest whose venv has no .pth doing it.
import libsuite_loop  # noqa: F401

SUMMARY_LINES = 25          # lines of a failure kept in a record
SUMMARY_CHARS = 4000


def pytest_addoption(parser):
    group = parser.getgroup("libsuite", "aiouring library-suite harness")
    group.addoption("--libsuite-results", metavar="FILE",
                    help="append one JSON record per test to FILE")
    group.addoption("--libsuite-skip", metavar="FILE",
                    help="deselect the node ids listed in FILE (one a line)")
    group.addoption("--libsuite-asyncio-backend-only", action="store_true",
                    help="deselect anyio-backend parametrizations other than "
                         "plain asyncio (trio, uvloop, eager tasks)")
    group.addoption("--libsuite-wake-after", type=float, metavar="SECONDS",
                    help="wake the running loop of a test that runs longer, so "
                         "a pending timeout signal is handled")


# -- which loops a test creates and runs --------------------------------------

class LoopTracker:
    """Counts loop constructions and loop runs by class, per test."""

    def __init__(self):
        self.created = {}
        self.ran = {}
        self.main_running = None        # the main thread's running loop
        self._main = threading.main_thread()

    def reset(self):
        self.created, self.ran = {}, {}

    @staticmethod
    def _name(loop):
        cls = type(loop)
        return f"{cls.__module__}.{cls.__qualname__}"

    def install(self):
        import asyncio.base_events as base_events
        import asyncio.events as events

        tracker = self
        base_init = base_events.BaseEventLoop.__init__

        def counting_init(loop, *args, **kwargs):
            name = tracker._name(loop)
            tracker.created[name] = tracker.created.get(name, 0) + 1
            base_init(loop, *args, **kwargs)

        base_events.BaseEventLoop.__init__ = counting_init

        set_running = events._set_running_loop

        def tracking_set_running_loop(loop):
            if threading.current_thread() is tracker._main:
                tracker.main_running = loop
            if loop is not None:
                name = tracker._name(loop)
                tracker.ran[name] = tracker.ran.get(name, 0) + 1
            set_running(loop)

        # base_events looks the function up on the module at each run.
        events._set_running_loop = tracking_set_running_loop


TRACKER = LoopTracker()


# -- waking a loop that sleeps through a timeout signal ------------------------

class Waker(threading.Thread):
    """A signal only interrupts a loop that returns to Python: one that
    waits in the kernel with nothing scheduled may sleep through the
    per-test timeout's SIGALRM. Past the limit, a no-op callback sent to the
    running loop brings it back to Python, where the pending handler runs."""

    def __init__(self, after):
        super().__init__(name="libsuite-waker", daemon=True)
        self.after = after
        self.started_at = None
        self.nodeid = None

    def run(self):
        while True:
            time.sleep(1.0)
            started, loop = self.started_at, TRACKER.main_running
            if started is None or loop is None or time.monotonic() - started < self.after:
                continue
            try:
                loop.call_soon_threadsafe(lambda: None)
            except Exception:       # closed meanwhile
                pass


# -- the plugin -----------------------------------------------------------------

class ResultWriter:
    def __init__(self, path):
        self.file = open(path, "a", encoding="utf-8")

    def write(self, **record):
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()


def summarize(report):
    text = str(report.longrepr) if report.longrepr is not None else ""
    if report.skipped and isinstance(report.longrepr, tuple):
        text = report.longrepr[2]
    lines = text.strip().splitlines()
    # pytest marks the error's lines with "E "; keep them with the few
    # traceback lines above them (where it was raised). Without them
    # (exception groups), the end of the text says most.
    marked = [i for i, line in enumerate(lines) if line.startswith("E ")]
    if marked:
        first = marked[0]
        kept = lines[max(0, first - 6):first] + [lines[i] for i in marked]
    else:
        kept = lines[-SUMMARY_LINES:]
    return "\n".join(kept[:SUMMARY_LINES])[:SUMMARY_CHARS]


class LibSuitePlugin:
    def __init__(self, config):
        self.config = config
        self.writer = None
        path = config.getoption("libsuite_results")
        if path:
            self.writer = ResultWriter(path)
        self.reports = {}
        self.waker = None
        wake_after = config.getoption("libsuite_wake_after")
        if wake_after:
            self.waker = Waker(wake_after)
            self.waker.start()

    # Deselection.
    def _skip_ids(self):
        path = self.config.getoption("libsuite_skip")
        if not path:
            return set()
        with open(path, encoding="utf-8") as f:
            return {line.rstrip("\n") for line in f if line.strip()}

    @staticmethod
    def _other_anyio_backend(item):
        callspec = getattr(item, "callspec", None)
        if callspec is None or "anyio_backend" not in callspec.params:
            return False
        backend = callspec.params["anyio_backend"]
        if isinstance(backend, tuple):
            name, options = backend
            return name != "asyncio" or options.get("loop_factory") is not None
        return backend != "asyncio"

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config, items):
        skip = self._skip_ids()
        asyncio_only = config.getoption("libsuite_asyncio_backend_only")
        keep, drop = [], []
        for item in items:
            if item.nodeid in skip or (asyncio_only and self._other_anyio_backend(item)):
                drop.append(item)
            else:
                keep.append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    def pytest_collectreport(self, report):
        if report.failed and self.writer:
            self.writer.write(event="collect-error", nodeid=report.nodeid,
                              summary=summarize(report))

    # Per-test records.
    def pytest_runtest_logstart(self, nodeid, location):
        TRACKER.reset()
        self.reports[nodeid] = []
        if self.waker:
            self.waker.started_at = time.monotonic()
        if self.writer:
            self.writer.write(event="start", nodeid=nodeid, time=time.time())

    def pytest_runtest_logreport(self, report):
        self.reports.setdefault(report.nodeid, []).append(report)

    def pytest_runtest_logfinish(self, nodeid, location):
        if self.waker:
            self.waker.started_at = None
        reports = self.reports.pop(nodeid, [])
        outcome, summary = outcome_of(reports)
        if self.writer:
            self.writer.write(
                event="finish", nodeid=nodeid, outcome=outcome, summary=summary,
                duration=round(sum(r.duration for r in reports), 3),
                loops_created=TRACKER.created, loops_run=TRACKER.ran)


def outcome_of(reports):
    """One outcome for a test's setup, call and teardown reports."""
    for report in reports:
        if report.failed:
            kind = "failed" if report.when == "call" else "error"
            return kind, f"[{report.when}] " + summarize(report)
    for report in reports:
        if report.skipped:
            if hasattr(report, "wasxfail"):
                return "xfailed", summarize(report)
            return "skipped", summarize(report)
    return "passed", ""


def pytest_configure(config):
    TRACKER.install()
    config.pluginmanager.register(LibSuitePlugin(config), "libsuite-results")

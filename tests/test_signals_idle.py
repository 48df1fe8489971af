"""A signal that arrives while the loop waits with nothing to do interrupts
the wait and runs Python's handlers: Ctrl-C stops an idle program and a
Python-level handler runs at once, under run_until_complete, run_forever,
the package's run() and asyncio.Runner, with or without
loop.add_signal_handler, and when the process has other threads. Each case is
a child process that gets a real signal; a hang is a failure."""

import signal
import subprocess
import sys
import textwrap
import time

import pytest

from child_processes import sigint_as_from_a_terminal

pytestmark = pytest.mark.timeout(120)

CHILD = """
    import asyncio, os, signal, sys, threading
    {loop_import}

    class Alarm(Exception):
        pass

    def raise_alarm(signum, frame):
        raise Alarm()

    def new_loop():
        return {new_loop}()

    # -- threads the process has besides the main one
    mode = {threads!r}
    if mode in ("idle-thread", "signal-to-thread"):
        parked = threading.Event()
        worker = threading.Thread(target=parked.wait, daemon=True)
        worker.start()

    def ready():
        if mode == "signal-to-thread":
            # The signal is delivered to the worker thread, not to the main one.
            threading.Timer(0.5, signal.pthread_kill, (worker.ident, {signum})).start()
        elif {signum} == signal.SIGALRM:
            signal.setitimer(signal.ITIMER_REAL, 0.5)
        print("ready", flush=True)

    if {signum} == signal.SIGALRM and not {via_loop}:
        signal.signal(signal.SIGALRM, raise_alarm)

    runner = {runner!r}
    try:
        if runner in ("run_until_complete", "run_forever"):
            loop = new_loop()
            asyncio.set_event_loop(loop)
            waiting = loop.create_future()
            if {via_loop}:
                loop.add_signal_handler({signum}, (lambda: loop.stop()) if runner == "run_forever"
                                        else (lambda: waiting.set_result("handled")))
            ready()
            if runner == "run_forever":
                loop.run_forever()
                print("handled", flush=True)
            else:
                print(loop.run_until_complete(waiting), flush=True)
        else:
            async def main():
                loop = asyncio.get_running_loop()
                waiting = loop.create_future()
                if {via_loop}:
                    loop.add_signal_handler({signum}, waiting.set_result, "handled")
                return await waiting
            ready()         # the signal comes 0.5 s later: the loop is idle by then
            if runner == "run":
                print({run}(main()), flush=True)
            else:
                with asyncio.Runner(loop_factory=new_loop) as r:
                    print(r.run(main()), flush=True)
    except KeyboardInterrupt:
        print("KeyboardInterrupt", flush=True)
    except Alarm:
        print("Alarm", flush=True)
"""

LOOPS = {
    "asyncio": dict(loop_import="", new_loop="asyncio.SelectorEventLoop", run="asyncio.run"),
    "aiouring": dict(loop_import="import aiouring", new_loop="aiouring.new_event_loop",
                     run="aiouring.run"),
}


def run_signalled_child(loop_name, runner, signum, via_loop, threads):
    program = textwrap.dedent(CHILD).format(
        runner=runner, signum=int(signum), via_loop=via_loop, threads=threads,
        **LOOPS[loop_name])
    proc = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=sigint_as_from_a_terminal)
    try:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        if signum == signal.SIGINT and threads != "signal-to-thread":
            time.sleep(0.5)
            proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            pytest.fail("the idle loop never ran the signal's handler (killed after 5 s)")
    finally:
        proc.kill()
        proc.wait()
    return out.split(), err


def cases():
    """(runner, signal, handled through add_signal_handler, threads)."""
    for runner in ("run_until_complete", "run_forever", "run", "Runner"):
        for signum, via_loop in ((signal.SIGINT, False), (signal.SIGINT, True),
                                 (signal.SIGALRM, False), (signal.SIGALRM, True)):
            yield runner, signum, via_loop, "none"
        yield runner, signal.SIGINT, False, "idle-thread"
        yield runner, signal.SIGALRM, True, "idle-thread"
    # A signal delivered to another thread only reaches a loop that set a
    # wake-up fd (add_signal_handler): asyncio's loop waits on otherwise.
    for runner in ("run_until_complete", "run"):
        yield runner, signal.SIGINT, True, "signal-to-thread"


def expected_output(runner, signum, via_loop):
    if via_loop:
        return ["handled"]
    return ["KeyboardInterrupt"] if signum == signal.SIGINT else ["Alarm"]


@pytest.mark.parametrize("runner, signum, via_loop, threads", [
    pytest.param(runner, signum, via_loop, threads,
                 id=f"{runner}-{signal.Signals(signum).name}-"
                    f"{'add_signal_handler' if via_loop else 'python-handler'}-{threads}")
    for runner, signum, via_loop, threads in cases()
])
def test_signal_interrupts_an_idle_loop(loop_name, runner, signum, via_loop, threads):
    out, err = run_signalled_child(loop_name, runner, signum, via_loop, threads)
    assert out == expected_output(runner, signum, via_loop), err[-2000:]

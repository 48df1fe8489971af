"""Unix signal handlers and Ctrl-C."""

import asyncio
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from child_processes import sigint_as_from_a_terminal


async def test_signal_handler_runs_on_the_loop(aloop):
    got = asyncio.Event()
    aloop.add_signal_handler(signal.SIGUSR1, got.set)
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        await asyncio.wait_for(got.wait(), 5)
    finally:
        assert aloop.remove_signal_handler(signal.SIGUSR1)
    assert not aloop.remove_signal_handler(signal.SIGUSR1)


async def test_signal_handler_wakes_an_idle_loop(aloop):
    got = asyncio.Event()
    aloop.add_signal_handler(signal.SIGUSR2, got.set)
    try:
        # The signal arrives while the loop sleeps with nothing else to do.
        aloop.run_in_executor(None, os.kill, os.getpid(), signal.SIGUSR2)
        await asyncio.wait_for(got.wait(), 5)
    finally:
        aloop.remove_signal_handler(signal.SIGUSR2)


async def test_invalid_signals(aloop):
    with pytest.raises(RuntimeError):
        aloop.add_signal_handler(signal.SIGKILL, lambda: None)
    with pytest.raises(ValueError):
        aloop.add_signal_handler(10_000, lambda: None)
    with pytest.raises(TypeError):
        aloop.add_signal_handler("SIGINT", lambda: None)


CTRL_C_PROGRAM = textwrap.dedent("""
    import asyncio, os, signal, sys
    {setup}
    async def main():
        print("ready", flush=True)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            print("cancelled", flush=True)
            raise
    try:
        {run}(main())
    except KeyboardInterrupt:
        print("KeyboardInterrupt", flush=True)
        sys.exit(3)
""")


@pytest.mark.parametrize("runner", ["asyncio", "aiouring"])
def test_ctrl_c_under_run_cancels_main_and_raises_keyboard_interrupt(runner):
    setup = "import aiouring" if runner == "aiouring" else ""
    program = CTRL_C_PROGRAM.format(setup=setup, run=f"{runner}.run")
    proc = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE,
                            text=True, preexec_fn=sigint_as_from_a_terminal)
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert out.split() == ["cancelled", "KeyboardInterrupt"]
    assert proc.returncode == 3


WAKEUP_FD_PROGRAM = textwrap.dedent("""
    import asyncio, signal
    {setup}
    async def main():
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, lambda: None)
        await asyncio.sleep(0)
    with asyncio.Runner(loop_factory={factory}) as runner:
        runner.run(main())
        runner.run(asyncio.sleep(0))    # the loop runs again, handler still set
    print(signal.set_wakeup_fd(-1))
""")


@pytest.mark.parametrize("loop", ["asyncio", "aiouring"])
def test_closing_a_loop_with_signal_handlers_restores_the_wakeup_fd(loop):
    """Run twice with a handler set, then closed: Python's wake-up fd is the
    one from before the loop (-1), not the loop's closed socket."""
    setup = "import aiouring" if loop == "aiouring" else ""
    factory = "aiouring.new_event_loop" if loop == "aiouring" else "asyncio.new_event_loop"
    done = subprocess.run([sys.executable, "-c", WAKEUP_FD_PROGRAM.format(
        setup=setup, factory=factory)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["-1"]

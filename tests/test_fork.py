"""A forked child never uses its parent's ring; it makes a loop of its own."""

import asyncio
import os

import pytest

import aiouring


@pytest.mark.aiouring_only("checks aiouring's ring ownership across fork()")
def test_child_after_fork_gets_a_fresh_loop_and_parent_goes_on(loop):
    loop.run_until_complete(asyncio.sleep(0.001))
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:        # child
        status = 1
        try:
            os.close(r)
            try:
                loop.run_until_complete(asyncio.sleep(0))
            except RuntimeError as exc:
                assert "fork" in str(exc)
            else:
                raise AssertionError("the parent's loop ran in the child")
            child_loop = aiouring.new_event_loop()
            result = child_loop.run_until_complete(asyncio.sleep(0.01, b"child ok"))
            child_loop.close()
            os.write(w, result)
            status = 0
        finally:
            os._exit(status)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert os.read(r, 100) == b"child ok"
    os.close(r)
    assert loop.run_until_complete(asyncio.sleep(0.001, "parent ok")) == "parent ok"

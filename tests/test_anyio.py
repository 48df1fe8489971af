"""anyio on aiouring: anyio.run() and anyio's pytest plugin take the loop
factory as a backend option, ``{"loop_factory": aiouring.new_event_loop}``.
The run test goes once per loop (asyncio's and aiouring's) through TCP over
loopback, a task group, a thread, a subprocess and a cancel scope."""

import asyncio
import sys

import anyio
import pytest
from anyio.abc import SocketAttribute

import aiouring
from conftest import FACTORIES


async def upper_echo(client):
    async with client:
        async for data in client:
            await client.send(data.upper())


async def exercise_anyio():
    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        port = listener.extra(SocketAttribute.local_port)
        async with anyio.create_task_group() as group:
            group.start_soon(listener.serve, upper_echo)
            replies = []
            for i in range(5):
                async with await anyio.connect_tcp("127.0.0.1", port) as stream:
                    await stream.send(b"hello %d" % i)
                    replies.append(await stream.receive())
            group.cancel_scope.cancel()
    assert replies == [b"HELLO %d" % i for i in range(5)]
    assert await anyio.to_thread.run_sync(sum, range(10)) == 45
    done = await anyio.run_process([sys.executable, "-c", "print('from a child')"])
    assert done.stdout == b"from a child\n"
    with anyio.move_on_after(0.05) as scope:
        await anyio.sleep(10)
    assert scope.cancelled_caught
    return asyncio.get_running_loop()


@pytest.mark.parametrize("loop_name", list(FACTORIES))
def test_anyio_run_with_a_loop_factory(loop_name):
    loop = anyio.run(exercise_anyio, backend="asyncio",
                     backend_options={"loop_factory": FACTORIES[loop_name]})
    assert isinstance(loop, aiouring.Loop) == (loop_name == "aiouring")
    assert loop.is_closed()


PLUGIN_TEST = """
import asyncio
import aiouring
import pytest

@pytest.fixture
def anyio_backend():
    return "asyncio", {"loop_factory": aiouring.new_event_loop}

@pytest.mark.anyio
async def test_on_aiouring():
    assert isinstance(asyncio.get_running_loop(), aiouring.Loop)
"""


def test_anyio_pytest_plugin_with_a_loop_factory(pytester):
    pytester.makepyfile(test_anyio_loop=PLUGIN_TEST)
    # pytest-asyncio is installed too: strict mode leaves anyio's tests alone.
    pytester.makeini("[pytest]\nasyncio_mode = strict\n"
                     "asyncio_default_fixture_loop_scope = function\n")
    result = pytester.runpytest_subprocess("-W", "error")
    result.assert_outcomes(passed=1)

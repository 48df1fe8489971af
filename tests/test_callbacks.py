"""call_soon / call_later / call_at / call_soon_threadsafe and handles."""

import asyncio
import contextvars
import logging
import threading
import time

import pytest


def test_call_soon_runs_in_order_with_args(loop):
    calls = []
    for i in range(5):
        loop.call_soon(calls.append, i)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert calls == [0, 1, 2, 3, 4]


def test_callbacks_scheduled_while_running_wait_for_next_iteration(loop):
    calls = []

    def first():
        calls.append("first")
        loop.call_soon(calls.append, "scheduled-by-first")

    loop.call_soon(first)
    loop.call_soon(calls.append, "second")
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert calls[:2] == ["first", "second"]
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert calls == ["first", "second", "scheduled-by-first"]


def test_cancelled_handle_does_not_run(loop):
    calls = []
    handle = loop.call_soon(calls.append, 1)
    handle.cancel()
    assert handle.cancelled()
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert calls == []


def test_context_is_used(loop):
    var = contextvars.ContextVar("var", default="default")
    context = contextvars.copy_context()
    context.run(var.set, "in-context")
    seen = []
    loop.call_soon(lambda: seen.append(var.get()), context=context)
    loop.call_soon(lambda: seen.append(var.get()))
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == ["in-context", "default"]


def test_call_later_order_and_delay(loop):
    calls = []
    start = loop.time()
    loop.call_later(0.03, calls.append, "c")
    loop.call_later(0.01, calls.append, "a")
    loop.call_later(0.02, calls.append, "b")
    loop.call_later(0.04, loop.stop)
    loop.run_forever()
    assert calls == ["a", "b", "c"]
    assert loop.time() - start >= 0.04


@pytest.mark.aiouring_only("asyncio's timer heap does not keep FIFO order for ties")
def test_timers_with_the_same_deadline_run_in_scheduling_order(loop):
    calls = []
    when = loop.time() + 0.01
    for i in range(20):
        loop.call_at(when, calls.append, i)
    loop.call_at(when + 0.001, loop.stop)
    loop.run_forever()
    assert calls == list(range(20))


def test_cancelled_timers_never_run_and_are_compacted(loop):
    calls = []
    handles = [loop.call_later(0.01, calls.append, i) for i in range(1000)]
    for handle in handles[:900]:
        handle.cancel()
    assert all(h.cancelled() for h in handles[:900])
    loop.call_later(0.02, loop.stop)
    loop.run_forever()
    assert calls == list(range(900, 1000))


def test_timer_handle_when(loop):
    handle = loop.call_at(loop.time() + 10, lambda: None)
    assert handle.when() == pytest.approx(loop.time() + 10, abs=0.1)
    handle.cancel()


def test_call_later_rejects_none(loop):
    with pytest.raises(TypeError):
        loop.call_later(None, lambda: None)
    with pytest.raises(TypeError):
        loop.call_at(None, lambda: None)


def test_time_is_monotonic_clock(loop):
    assert abs(loop.time() - time.monotonic()) < 0.01


def test_call_soon_threadsafe_wakes_a_sleeping_loop(loop):
    woke = []

    def from_thread():
        time.sleep(0.05)
        loop.call_soon_threadsafe(lambda: (woke.append(loop.time()), loop.stop()))

    # Nothing else is scheduled: without a wake-up the loop would sleep forever.
    thread = threading.Thread(target=from_thread)
    thread.start()
    start = loop.time()
    loop.run_forever()
    thread.join()
    assert woke and woke[0] - start < 1.0


def test_call_soon_threadsafe_from_many_threads(loop):
    count = 0
    done = asyncio.Event()

    def bump():
        nonlocal count
        count += 1
        if count == 8 * 200:
            done.set()

    def worker():
        for _ in range(200):
            loop.call_soon_threadsafe(bump)

    async def main():
        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        await asyncio.wait_for(done.wait(), 10)
        for t in threads:
            t.join()

    loop.run_until_complete(main())
    assert count == 1600


def test_exception_in_callback_goes_to_handler(loop, handler_calls):
    def boom():
        raise ZeroDivisionError("boom")

    loop.call_soon(boom)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert len(handler_calls) == 1
    context = handler_calls.pop()
    assert isinstance(context["exception"], ZeroDivisionError)
    assert "Exception in callback" in context["message"]


def test_keyboard_interrupt_in_callback_propagates_and_keeps_later_callbacks(loop):
    calls = []

    def interrupt():
        raise KeyboardInterrupt

    loop.call_soon(interrupt)
    loop.call_soon(calls.append, "after")
    with pytest.raises(KeyboardInterrupt):
        loop.run_forever()
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert calls == ["after"]


def test_run_until_complete_returns_result_and_raises(loop):
    async def ok():
        await asyncio.sleep(0.001)
        return 42

    async def bad():
        raise ValueError("bad")

    assert loop.run_until_complete(ok()) == 42
    with pytest.raises(ValueError):
        loop.run_until_complete(bad())


def test_is_running_and_nested_run_refused(loop):
    async def main():
        assert loop.is_running()
        coro = asyncio.sleep(0)
        with pytest.raises(RuntimeError):
            loop.run_until_complete(coro)
        coro.close()

    assert not loop.is_running()
    loop.run_until_complete(main())
    assert not loop.is_running()


def test_closed_loop_refuses_work(loop):
    loop.close()
    assert loop.is_closed()
    with pytest.raises(RuntimeError, match="closed"):
        loop.call_soon(lambda: None)
    with pytest.raises(RuntimeError, match="closed"):
        loop.call_later(1, lambda: None)
    coro = asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="closed"):
        loop.run_until_complete(coro)
    coro.close()
    loop.close()        # closing twice is fine


def test_close_running_loop_refused(loop):
    async def main():
        with pytest.raises(RuntimeError):
            loop.close()

    loop.run_until_complete(main())


def test_debug_mode_warns_about_slow_callbacks(loop, caplog):
    loop.set_debug(True)
    loop.slow_callback_duration = 0.01
    loop.call_soon(time.sleep, 0.03)
    loop.call_soon(loop.stop)
    with caplog.at_level(logging.WARNING, logger="asyncio"):
        loop.run_forever()
    assert any("took" in r.getMessage() for r in caplog.records)


def test_debug_mode_rejects_coroutine_functions_as_callbacks(loop):
    async def coro():
        pass

    loop.set_debug(True)
    with pytest.raises(TypeError):
        loop.call_soon(coro)


def test_debug_mode_rejects_call_soon_from_another_thread(loop):
    loop.set_debug(True)
    errors = []

    async def main():
        def other():
            try:
                loop.call_soon(lambda: None)
            except RuntimeError as exc:
                errors.append(exc)
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()

    loop.run_until_complete(main())
    assert errors


def test_task_factory(loop):
    created = []

    def factory(loop, coro, **kwargs):
        task = asyncio.Task(coro, loop=loop, **kwargs)
        created.append(task)
        return task

    loop.set_task_factory(factory)
    assert loop.get_task_factory() is factory
    loop.run_until_complete(asyncio.sleep(0))
    assert len(created) == 1


def test_create_future_and_task_types(loop):
    future = loop.create_future()
    assert isinstance(future, asyncio.Future)
    task = loop.create_task(asyncio.sleep(0, "x"), name="named")
    assert task.get_name() == "named"
    assert loop.run_until_complete(task) == "x"
    future.cancel()


def test_shutdown_asyncgens(loop):
    finalized = []

    async def agen():
        try:
            yield 1
            yield 2
        finally:
            finalized.append(True)

    async def main():
        gen = agen()
        await gen.__anext__()

    loop.run_until_complete(main())
    loop.run_until_complete(loop.shutdown_asyncgens())
    assert finalized == [True]


def test_run_in_executor_and_default_executor(loop):
    from concurrent.futures import ThreadPoolExecutor

    result = loop.run_until_complete(loop.run_in_executor(None, sum, [1, 2, 3]))
    assert result == 6
    executor = ThreadPoolExecutor(1)
    loop.set_default_executor(executor)
    name = loop.run_until_complete(
        loop.run_in_executor(None, lambda: threading.current_thread().name))
    assert name.startswith("ThreadPoolExecutor")
    loop.run_until_complete(loop.shutdown_default_executor())


def test_getaddrinfo_and_getnameinfo(loop):
    import socket
    infos = loop.run_until_complete(
        loop.getaddrinfo("127.0.0.1", 80, type=socket.SOCK_STREAM))
    assert infos[0][4] == ("127.0.0.1", 80)
    host, port = loop.run_until_complete(
        loop.getnameinfo(("127.0.0.1", 80), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV))
    assert (host, port) == ("127.0.0.1", "80")


async def test_sleep_and_wait_for_under_pytest_asyncio(aloop):
    start = aloop.time()
    await asyncio.sleep(0.02)
    assert aloop.time() - start >= 0.02
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.sleep(10), 0.01)


async def test_many_tasks_switching(aloop):
    counter = 0

    async def worker():
        nonlocal counter
        for _ in range(100):
            await asyncio.sleep(0)
            counter += 1

    await asyncio.gather(*(worker() for _ in range(50)))
    assert counter == 5000


async def test_timeouts_and_taskgroups(aloop):
    async with asyncio.timeout(0.01) as cm:
        with pytest.raises(asyncio.CancelledError):
            await asyncio.sleep(1)
    assert cm.expired()
    results = []
    async with asyncio.TaskGroup() as group:
        for i in range(5):
            group.create_task(asyncio.sleep(0.001 * i, i)).add_done_callback(
                lambda t: results.append(t.result()))
    assert sorted(results) == [0, 1, 2, 3, 4]

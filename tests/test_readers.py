"""add_reader / add_writer: level-triggered readiness callbacks on any fd."""

import asyncio
import errno
import os
import socket

import pytest


async def test_reader_called_until_data_is_drained(aloop):
    # Level-triggered as with select/epoll: a callback that reads only part
    # of the data is called again.
    r, w = os.pipe()
    os.set_blocking(r, False)
    chunks = []
    done = asyncio.Event()

    def on_readable():
        chunks.append(os.read(r, 3))
        if b"".join(chunks) == b"abcdefgh":
            aloop.remove_reader(r)
            done.set()

    aloop.add_reader(r, on_readable)
    os.write(w, b"abcdefgh")
    await asyncio.wait_for(done.wait(), 5)
    assert chunks == [b"abc", b"def", b"gh"]
    os.close(r)
    os.close(w)


async def test_remove_reader_stops_callbacks_and_reports(aloop):
    a, b = socket.socketpair()
    calls = []
    aloop.add_reader(a, calls.append, "readable")
    assert aloop.remove_reader(a) is True
    assert aloop.remove_reader(a) is False
    b.send(b"x")
    await asyncio.sleep(0.02)
    assert calls == []
    a.close()
    b.close()


async def test_add_reader_replaces_the_callback(aloop):
    a, b = socket.socketpair()
    calls = []
    aloop.add_reader(a, calls.append, "old")
    aloop.add_reader(a, lambda: (calls.append("new"), aloop.remove_reader(a)))
    b.send(b"x")
    await asyncio.sleep(0.02)
    assert calls == ["new"]
    a.close()
    b.close()


async def test_writer_called_when_writable(aloop):
    a, b = socket.socketpair()
    fired = asyncio.Event()

    def on_writable():
        aloop.remove_writer(a)
        fired.set()

    aloop.add_writer(a.fileno(), on_writable)
    await asyncio.wait_for(fired.wait(), 5)
    a.close()
    b.close()


async def test_reader_and_writer_on_same_fd(aloop):
    a, b = socket.socketpair()
    events = []
    both = asyncio.Event()

    def record(kind):
        events.append(kind)
        (aloop.remove_reader if kind == "r" else aloop.remove_writer)(a)
        if len(events) == 2:
            both.set()

    aloop.add_reader(a, record, "r")
    aloop.add_writer(a, record, "w")
    b.send(b"x")
    await asyncio.wait_for(both.wait(), 5)
    assert sorted(events) == ["r", "w"]
    a.close()
    b.close()


async def test_bad_fd(aloop):
    with pytest.raises(ValueError):
        aloop.add_reader(-1, lambda: None)
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(OSError) as info:
        aloop.add_reader(r, lambda: None)
    assert info.value.errno == errno.EBADF

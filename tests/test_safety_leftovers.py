"""Bytes the kernel delivered to a receive that was then cancelled are kept,
handed to the next receive on that socket in the form it asks for, and never
lost, duplicated or reordered: checked deterministically for each pair of
calls and under random cancellation of a counted byte stream."""

import asyncio
import random
import socket

import pytest

import aiouring

pytestmark = pytest.mark.timeout(120)


def nonblocking(*socks):
    for sock in socks:
        sock.setblocking(False)
    return socks


@pytest.fixture
def udp_pair():
    a, b = nonblocking(socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
                       socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    a.bind(("127.0.0.1", 0))
    b.bind(("127.0.0.1", 0))
    a.connect(b.getsockname())
    b.connect(a.getsockname())
    yield a, b
    a.close()
    b.close()


async def cancel_after_delivery(task):
    """Cancels task after the kernel completed its receive and before the task
    took the result (the future it waits on is done, the task is not)."""
    await asyncio.sleep(0)
    future = task._fut_waiter
    for _ in range(1000):
        if future.done():
            break
        await asyncio.sleep(0)
    assert future.done() and not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# -- kept data comes back in the form the next call asks for -----------------

@pytest.mark.aiouring_only("asyncio drops data received just before a cancel")
async def test_sock_recv_after_cancelled_recvfrom_returns_bytes(aloop, udp_pair):
    a, b = udp_pair
    b.send(b"datagram")
    await cancel_after_delivery(asyncio.ensure_future(aloop.sock_recvfrom(a, 100)))
    assert await asyncio.wait_for(aloop.sock_recv(a, 100), 5) == b"datagram"


@pytest.mark.aiouring_only("asyncio drops data received just before a cancel")
async def test_sock_recvfrom_after_cancelled_recv_returns_data_and_address(aloop, udp_pair):
    a, b = udp_pair
    b.send(b"datagram")
    await cancel_after_delivery(asyncio.ensure_future(aloop.sock_recv(a, 100)))
    data, address = await asyncio.wait_for(aloop.sock_recvfrom(a, 100), 5)
    assert data == b"datagram"
    assert address in (None, b.getsockname())


@pytest.mark.aiouring_only("asyncio drops data received just before a cancel")
async def test_sock_recv_into_after_cancelled_recvfrom_fills_the_buffer(aloop, udp_pair):
    a, b = udp_pair
    b.send(b"datagram")
    await cancel_after_delivery(asyncio.ensure_future(aloop.sock_recvfrom(a, 100)))
    buf = bytearray(100)
    assert await asyncio.wait_for(aloop.sock_recv_into(a, buf), 5) == 8
    assert buf[:8] == b"datagram"


@pytest.mark.aiouring_only("asyncio drops data received just before a cancel")
async def test_sock_recvfrom_into_after_cancelled_recv_fills_the_buffer(aloop, udp_pair):
    a, b = udp_pair
    b.send(b"datagram")
    await cancel_after_delivery(asyncio.ensure_future(aloop.sock_recv(a, 100)))
    buf = bytearray(100)
    n, address = await asyncio.wait_for(aloop.sock_recvfrom_into(a, buf), 5)
    assert (n, bytes(buf[:n])) == (8, b"datagram")
    assert address in (None, b.getsockname())


@pytest.mark.aiouring_only("asyncio drops data received just before a cancel")
async def test_saved_datagram_survives_a_failed_handover(aloop, udp_pair):
    """Whatever the next call does with it, the datagram is not dropped: a
    second call still gets it."""
    a, b = udp_pair
    b.send(b"datagram")
    await cancel_after_delivery(asyncio.ensure_future(aloop.sock_recvfrom(a, 100)))
    try:
        first = await asyncio.wait_for(aloop.sock_recv_into(a, bytearray(100)), 5)
    except TypeError:
        first = None
    if first is None:
        assert await asyncio.wait_for(aloop.sock_recv(a, 100), 5) in (
            b"datagram", (b"datagram", a.getpeername()))


# -- a byte that arrives as the receive is cancelled -------------------------

async def test_byte_arriving_as_recv_is_cancelled_goes_to_the_next_recv(aloop):
    a, b = nonblocking(*socket.socketpair())
    try:
        recv = asyncio.ensure_future(aloop.sock_recv(a, 10))
        await asyncio.sleep(0.02)               # in the kernel, waiting
        b.send(b"x")                            # arrives ...
        recv.cancel()                           # ... as the receive is cancelled
        await asyncio.wait([recv])
        if not recv.cancelled():
            assert recv.result() == b"x"
            return
        assert await asyncio.wait_for(aloop.sock_recv(a, 10), 2) == b"x"
    finally:
        a.close()
        b.close()


async def test_recv_again_in_the_cancelled_step_gets_the_byte_that_arrived(aloop):
    a, b = nonblocking(*socket.socketpair())

    async def receive_twice():
        try:
            await aloop.sock_recv(a, 10)
        except asyncio.CancelledError:
            pass
        return await aloop.sock_recv(a, 10)     # no await in between

    try:
        task = asyncio.ensure_future(receive_twice())
        await asyncio.sleep(0.02)               # the first receive is in the kernel
        b.send(b"x")
        task.cancel()
        assert await asyncio.wait_for(task, 2) == b"x"
    finally:
        a.close()
        b.close()


# -- a counted stream under random cancellation ------------------------------

STREAM_BYTES = 3000


async def cancel_with_wait_for(receive, seconds):
    return await asyncio.wait_for(receive, seconds)


async def cancel_with_timeout(receive, seconds):
    async with asyncio.timeout(seconds):
        return await receive


async def receive_counted_stream(loop, rng, recv_call, cancel_style):
    """The peer sends a counted stream in small bursts at random moments while
    receives are cancelled at random moments; returns what arrived once the
    peer is done and the socket has nothing more."""
    a, b = nonblocking(*socket.socketpair())
    expected = bytes(rng.getrandbits(8) for _ in range(STREAM_BYTES))

    async def peer():
        sent = 0
        while sent < len(expected):
            sent += b.send(expected[sent:sent + rng.randint(1, 5)])
            await asyncio.sleep(rng.choice((0, 0, 0.0005, 0.001)))

    sender = asyncio.ensure_future(peer())
    got = bytearray()
    try:
        async with asyncio.timeout(60):
            while len(got) < len(expected):
                try:
                    got += await cancel_style(recv_call(loop, a, rng),
                                              rng.choice((0, 0.0002, 0.0005, 0.001)))
                except TimeoutError:
                    if sender.done():
                        break       # nothing more came within the timeout
            await sender
            # Whatever is still owed arrives now, without cancellations.
            while len(got) < len(expected):
                try:
                    got += await asyncio.wait_for(recv_call(loop, a, rng), 0.5)
                except TimeoutError:
                    break
    finally:
        sender.cancel()
        a.close()
        b.close()
    return bytes(got), expected


def is_subsequence(got, expected):
    position = 0
    for byte in got:
        position = expected.find(byte, position) + 1
        if position == 0:
            return False
    return True


async def recv_bytes(loop, sock, rng):
    return await loop.sock_recv(sock, rng.randint(1, 7))


async def recv_into_bytes(loop, sock, rng):
    buf = bytearray(rng.randint(1, 7))
    n = await loop.sock_recv_into(sock, buf)
    return bytes(buf[:n])


@pytest.mark.parametrize("cancel_style", [
    cancel_with_wait_for,
    cancel_with_timeout,
], ids=["wait_for", "timeout"])
@pytest.mark.parametrize("recv_call", [recv_bytes, recv_into_bytes],
                         ids=["sock_recv", "sock_recv_into"])
@pytest.mark.parametrize("seed", range(2))
async def test_counted_stream_survives_random_cancellation(aloop, recv_call, cancel_style,
                                                          seed):
    got, expected = await receive_counted_stream(aloop, random.Random(seed), recv_call,
                                                 cancel_style)
    # Both loops: nothing duplicated, nothing out of order.
    assert is_subsequence(got, expected), "bytes duplicated or out of order"
    if isinstance(aloop, aiouring.Loop):
        # asyncio drops the bytes of a receive cancelled after its data came;
        # aiouring keeps them for the next receive.
        assert got == expected, f"{len(got)} of {len(expected)} bytes, in order"

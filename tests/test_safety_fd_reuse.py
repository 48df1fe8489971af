"""A sock_* request acts only on the socket it was made for, whatever the
caller does with its descriptors afterwards: closing the socket and reusing
its fd number before the loop iterates again must not redirect the request to
the new, unrelated socket, and closing a socket under a pending receive closes
the connection (the peer sees EOF at once, as with asyncio)."""

import asyncio
import socket

import pytest

pytestmark = pytest.mark.timeout(60)


def nonblocking_pair():
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    return a, b


def pair_reusing(fd):
    """A new connected pair (reuser, its_peer) whose first socket got the
    number fd, just freed by a close()."""
    first, second = nonblocking_pair()
    if second.fileno() == fd:
        first, second = second, first
    assert first.fileno() == fd, "the new socket did not reuse the closed fd number"
    return first, second


async def received_within(sock, seconds):
    """What arrived on sock within seconds, letting the loop run meanwhile
    (b'' for EOF, None for nothing)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        try:
            return sock.recv(65536)
        except BlockingIOError:
            if loop.time() >= deadline:
                return None
            await asyncio.sleep(0.01)


async def outcome_of(task, seconds):
    """('done', result) / ('error', exc) / ('pending', None) after seconds."""
    done, _ = await asyncio.wait([task], timeout=seconds)
    if not done:
        return "pending", None
    if task.cancelled():
        return "error", asyncio.CancelledError()
    if task.exception() is not None:
        return "error", task.exception()
    return "done", task.result()


async def cancel_and_wait(task):
    task.cancel()
    await asyncio.wait([task])


async def test_sendall_queued_before_fd_reuse_never_reaches_the_new_socket(aloop):
    a, a_peer = nonblocking_pair()
    fd = a.fileno()
    send = asyncio.ensure_future(aloop.sock_sendall(a, b"SECRET"))
    await asyncio.sleep(0)      # the send's first step ran: it is queued
    # Same iteration, no await: the caller closes a and the number is reused.
    a.close()
    reuser, reuser_peer = pair_reusing(fd)
    try:
        state, value = await outcome_of(send, 5)
        assert state in ("done", "error"), "sock_sendall() never finished"
        assert await received_within(reuser_peer, 0.2) is None, \
            "the bytes went to the socket that reused the fd number"
        if state == "done":
            assert await received_within(a_peer, 2) == b"SECRET"
        else:
            assert isinstance(value, OSError)
    finally:
        await cancel_and_wait(send)
        for sock in (a_peer, reuser, reuser_peer):
            sock.close()


async def recv_bytes(loop, sock, buf):
    return await loop.sock_recv(sock, len(buf))


async def recv_into(loop, sock, buf):
    n = await loop.sock_recv_into(sock, buf)
    return bytes(buf[:n])


@pytest.mark.parametrize("receive", [recv_bytes, recv_into], ids=["recv", "recv_into"])
async def test_recv_queued_before_fd_reuse_never_takes_the_new_sockets_data(aloop, receive):
    a, a_peer = nonblocking_pair()
    fd = a.fileno()
    buf = bytearray(100)
    recv = asyncio.ensure_future(receive(aloop, a, buf))
    await asyncio.sleep(0)      # the receive's first step ran: it is queued
    a.close()
    reuser, reuser_peer = pair_reusing(fd)
    try:
        reuser_peer.send(b"NEW")
        state, value = await outcome_of(recv, 0.3)
        assert not (state == "done" and value == b"NEW") and not buf.startswith(b"NEW"), \
            "the receive took the data of the socket that reused its fd number"
        assert await received_within(reuser, 2) == b"NEW"
    finally:
        await cancel_and_wait(recv)
        for sock in (a_peer, reuser, reuser_peer):
            sock.close()


async def test_close_with_recv_in_flight_closes_the_connection(aloop):
    a, peer = nonblocking_pair()
    recv = asyncio.ensure_future(aloop.sock_recv(a, 100))
    await asyncio.sleep(0.05)           # submitted: in the kernel
    assert not recv.done()
    a.close()
    try:
        assert await received_within(peer, 2) == b"", "the peer did not see EOF"
    finally:
        await cancel_and_wait(recv)
        peer.close()


async def test_pending_recv_never_returns_bytes_sent_after_close(aloop):
    a, peer = nonblocking_pair()
    recv = asyncio.ensure_future(aloop.sock_recv(a, 100))
    await asyncio.sleep(0.05)
    a.close()
    try:
        try:
            peer.send(b"after close")
        except OSError:
            pass                        # asyncio: the connection is gone
        state, value = await outcome_of(recv, 0.3)
        assert not (state == "done" and value), \
            f"a closed socket's receive returned {value!r}"
    finally:
        await cancel_and_wait(recv)
        peer.close()


async def test_close_with_recv_in_flight_sends_fin_over_tcp(aloop):
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    client.setblocking(False)
    server.setblocking(False)
    recv = asyncio.ensure_future(aloop.sock_recv(server, 100))
    await asyncio.sleep(0.05)
    server.close()
    try:
        assert await received_within(client, 2) == b"", "the peer did not see FIN"
    finally:
        await cancel_and_wait(recv)
        client.close()

"""Small sock_* and fd-watch behaviours where aiouring must answer exactly as
asyncio's loop does."""

import asyncio
import socket

import pytest

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def stream_pair():
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


@pytest.fixture
def tcp_pair():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    client.setblocking(False)
    server.setblocking(False)
    yield client, server
    client.close()
    server.close()


async def test_recv_of_zero_bytes_returns_at_once(aloop, stream_pair, tcp_pair):
    for sock in (stream_pair[0], tcp_pair[1]):
        assert await asyncio.wait_for(aloop.sock_recv(sock, 0), 2) == b""


async def test_recv_into_an_empty_buffer_returns_at_once(aloop, stream_pair, tcp_pair):
    for sock in (stream_pair[0], tcp_pair[1]):
        assert await asyncio.wait_for(aloop.sock_recv_into(sock, bytearray(0)), 2) == 0


async def test_recv_of_zero_bytes_leaves_pending_data(aloop, stream_pair):
    a, b = stream_pair
    b.send(b"kept")
    assert await asyncio.wait_for(aloop.sock_recv(a, 0), 2) == b""
    assert await asyncio.wait_for(aloop.sock_recv(a, 10), 2) == b"kept"


@pytest.mark.parametrize("watch", ["reader", "writer"])
def test_remove_watch_of_a_closed_socket_object(loop, stream_pair, watch):
    a, b = stream_pair
    getattr(loop, f"add_{watch}")(a, lambda: None)
    a.close()
    assert getattr(loop, f"remove_{watch}")(a) is True


@pytest.mark.parametrize("then", ["remove_reader(sock)", "nothing"])
def test_watch_on_a_closed_socket_never_fires_for_the_fd_reuser(loop, stream_pair, then):
    a, b = stream_pair
    fired = []
    fd = a.fileno()
    loop.add_reader(a, fired.append, "old")
    a.close()                   # before the loop ran
    if then == "remove_reader(sock)":
        try:
            loop.remove_reader(a)
        except ValueError:
            pass
    c, d = socket.socketpair()
    try:
        reuser = c if c.fileno() == fd else d
        assert reuser.fileno() == fd
        (d if reuser is c else c).send(b"ready")
        loop.run_until_complete(asyncio.sleep(0.1))
        assert fired == []
    finally:
        loop.remove_reader(fd)
        c.close()
        d.close()

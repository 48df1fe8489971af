"""loop.sock_* operations over real loopback TCP, Unix and UDP sockets."""

import asyncio
import errno
import os
import socket
import tempfile

import pytest


def nonblocking(sock):
    sock.setblocking(False)
    return sock


@pytest.fixture
def tcp_pair():
    """A connected (client, server-side) pair of non-blocking TCP sockets."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    yield nonblocking(client), nonblocking(server)
    client.close()
    server.close()


@pytest.fixture
def listener():
    sock = nonblocking(socket.create_server(("127.0.0.1", 0)))
    yield sock
    sock.close()


async def test_accept_connect_send_recv(aloop, listener):
    client = nonblocking(socket.socket())
    accept = asyncio.ensure_future(aloop.sock_accept(listener))
    await aloop.sock_connect(client, listener.getsockname())
    conn, address = await accept
    try:
        assert conn.gettimeout() == 0
        assert address == client.getsockname()
        await aloop.sock_sendall(client, b"ping")
        assert await aloop.sock_recv(conn, 100) == b"ping"
        await aloop.sock_sendall(conn, b"pong")
        buf = bytearray(10)
        assert await aloop.sock_recv_into(client, buf) == 4
        assert buf[:4] == b"pong"
    finally:
        conn.close()
        client.close()


async def test_connect_resolves_host_names(aloop, listener):
    client = nonblocking(socket.socket())
    accept = asyncio.ensure_future(aloop.sock_accept(listener))
    await aloop.sock_connect(client, ("localhost", listener.getsockname()[1]))
    conn, _ = await accept
    conn.close()
    client.close()


async def test_sendall_of_large_payload_arrives_whole(aloop, tcp_pair):
    client, server = tcp_pair
    payload = os.urandom(8 * 1024 * 1024)

    async def receive_all():
        chunks, size = [], 0
        while size < len(payload):
            chunk = await aloop.sock_recv(server, 1 << 20)
            assert chunk
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)

    received, _ = await asyncio.gather(receive_all(), aloop.sock_sendall(client, payload))
    assert received == payload


async def test_sendall_accepts_buffers(aloop, tcp_pair):
    client, server = tcp_pair
    await aloop.sock_sendall(client, memoryview(b"xxabcxx")[2:5])
    await aloop.sock_sendall(client, bytearray(b"def"))
    await aloop.sock_sendall(client, b"")
    data = b""
    while len(data) < 6:
        data += await aloop.sock_recv(server, 10)
    assert data == b"abcdef"


async def test_recv_returns_empty_bytes_at_eof(aloop, tcp_pair):
    client, server = tcp_pair
    client.shutdown(socket.SHUT_WR)
    assert await aloop.sock_recv(server, 10) == b""


async def test_unix_stream_sockets(aloop):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "sock")
        listener = nonblocking(socket.socket(socket.AF_UNIX))
        listener.bind(path)
        listener.listen()
        client = nonblocking(socket.socket(socket.AF_UNIX))
        accept = asyncio.ensure_future(aloop.sock_accept(listener))
        await aloop.sock_connect(client, path)
        conn, _ = await accept
        await aloop.sock_sendall(conn, b"over unix")
        assert await aloop.sock_recv(client, 100) == b"over unix"
        for sock in (conn, client, listener):
            sock.close()


async def test_udp_sendto_recvfrom(aloop):
    a = nonblocking(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    b = nonblocking(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    a.bind(("127.0.0.1", 0))
    b.bind(("127.0.0.1", 0))
    try:
        sent = await aloop.sock_sendto(a, b"datagram", b.getsockname())
        assert sent == 8
        data, sender = await aloop.sock_recvfrom(b, 100)
        assert (data, sender) == (b"datagram", a.getsockname())
        await aloop.sock_sendto(b, b"reply", a.getsockname())
        buf = bytearray(100)
        n, sender = await aloop.sock_recvfrom_into(a, buf)
        assert (bytes(buf[:n]), sender) == (b"reply", b.getsockname())
    finally:
        a.close()
        b.close()


async def test_udp_ipv6(aloop):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    a = nonblocking(socket.socket(socket.AF_INET6, socket.SOCK_DGRAM))
    try:
        a.bind(("::1", 0))
    except OSError:
        a.close()
        pytest.skip("no IPv6 loopback")
    try:
        await aloop.sock_sendto(a, b"six", a.getsockname())
        data, sender = await aloop.sock_recvfrom(a, 100)
        assert data == b"six"
        assert sender[:2] == a.getsockname()[:2]
    finally:
        a.close()


async def test_cancelled_recv_before_data_leaves_data_for_next_recv(aloop, tcp_pair):
    client, server = tcp_pair
    task = asyncio.ensure_future(aloop.sock_recv(server, 100))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await aloop.sock_sendall(client, b"after cancel")
    assert await aloop.sock_recv(server, 100) == b"after cancel"


@pytest.mark.aiouring_only("asyncio drops data received just before a cancel")
async def test_cancel_after_kernel_delivered_data_keeps_the_bytes(aloop, tcp_pair):
    client, server = tcp_pair
    client.send(b"delivered")
    task = asyncio.ensure_future(aloop.sock_recv(server, 100))
    await asyncio.sleep(0)
    future = task._fut_waiter
    # This coroutine is woken before the task in the iteration whose CQE
    # completes the recv: cancel the task then, after the kernel delivered
    # the bytes and before the task could take them.
    for _ in range(1000):
        if future.done():
            break
        await asyncio.sleep(0)
    assert future.done() and not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await aloop.sock_recv(server, 4) == b"deli"
    buf = bytearray(100)
    assert await aloop.sock_recv_into(server, buf) == 5
    assert buf[:5] == b"vered"


async def test_cancelled_accept_keeps_the_connection(aloop, listener):
    accept = asyncio.ensure_future(aloop.sock_accept(listener))
    await asyncio.sleep(0.01)
    accept.cancel()
    with pytest.raises(asyncio.CancelledError):
        await accept
    client = socket.create_connection(listener.getsockname())
    conn, address = await asyncio.wait_for(aloop.sock_accept(listener), 5)
    assert address == client.getsockname()
    conn.close()
    client.close()


async def test_connect_refused(aloop):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = nonblocking(socket.socket())
    with pytest.raises(ConnectionRefusedError):
        await aloop.sock_connect(client, ("127.0.0.1", port))
    client.close()


async def test_recv_on_closed_socket_raises_ebadf(aloop):
    sock = nonblocking(socket.socket())
    sock.close()
    with pytest.raises(OSError) as info:
        await aloop.sock_recv(sock, 10)
    assert info.value.errno == errno.EBADF


async def test_peer_reset(aloop, tcp_pair):
    client, server = tcp_pair
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
    client.close()
    with pytest.raises(ConnectionResetError):
        await aloop.sock_recv(server, 10)


async def test_sendall_to_closed_peer_fails(aloop, tcp_pair):
    client, server = tcp_pair
    server.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
    server.close()
    await asyncio.sleep(0.01)
    with pytest.raises((BrokenPipeError, ConnectionResetError)):
        for _ in range(100):
            await aloop.sock_sendall(client, b"x" * 65536)


async def test_blocking_socket_rejected_in_debug_mode(aloop, tcp_pair):
    client, server = tcp_pair
    aloop.set_debug(True)
    server.setblocking(True)
    for make in (lambda: aloop.sock_recv(server, 1),
                 lambda: aloop.sock_sendall(server, b"x"),
                 lambda: aloop.sock_accept(server)):
        coro = make()
        with pytest.raises(ValueError, match="non-blocking"):
            await coro


async def test_negative_recv_size_is_value_error(aloop, tcp_pair):
    with pytest.raises(ValueError):
        await aloop.sock_recv(tcp_pair[1], -1)


async def test_recv_into_readonly_buffer_is_type_error(aloop, tcp_pair):
    with pytest.raises(TypeError):
        await aloop.sock_recv_into(tcp_pair[1], b"readonly")


async def test_ssl_socket_rejected(aloop):
    import ssl
    sock = ssl.create_default_context().wrap_socket(
        socket.socket(), server_hostname="example.invalid", do_handshake_on_connect=False)
    with pytest.raises(TypeError):
        await aloop.sock_recv(sock, 1)
    sock.close()


async def test_sock_sendfile(aloop, tcp_pair, tmp_path):
    client, server = tcp_pair
    payload = os.urandom(300_000)
    path = tmp_path / "payload"
    path.write_bytes(payload)

    async def receive_all():
        data = b""
        while len(data) < len(payload) - 1000:
            data += await aloop.sock_recv(server, 65536)
        return data

    with open(path, "rb") as f:
        received, sent = await asyncio.gather(
            receive_all(), aloop.sock_sendfile(client, f, 1000))
    assert sent == len(payload) - 1000
    assert received == payload[1000:]


async def test_many_concurrent_echo_connections(aloop, listener):
    async def serve():
        while True:
            conn, _ = await aloop.sock_accept(listener)
            aloop.create_task(echo(conn))

    async def echo(conn):
        with conn:
            while data := await aloop.sock_recv(conn, 4096):
                await aloop.sock_sendall(conn, data)

    async def client(i):
        sock = nonblocking(socket.socket())
        with sock:
            await aloop.sock_connect(sock, listener.getsockname())
            for j in range(20):
                message = f"{i}:{j};".encode() * 10
                await aloop.sock_sendall(sock, message)
                received = b""
                while len(received) < len(message):
                    received += await aloop.sock_recv(sock, 4096)
                assert received == message

    server = aloop.create_task(serve())
    await asyncio.gather(*(client(i) for i in range(50)))
    server.cancel()
    with pytest.raises(asyncio.CancelledError):
        await server

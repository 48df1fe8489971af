"""Stream transports and servers: the asyncio transport contract, checked on
asyncio's loop and on aiouring's native (completion-based) transports."""

import asyncio
import contextlib
import os
import socket
import struct
import sys
import time

import pytest

pytestmark = pytest.mark.timeout(120)


class Collect(asyncio.Protocol):
    """Records every protocol call; `done` resolves on connection_lost."""

    def __init__(self, loop):
        self.loop = loop
        self.data = bytearray()
        self.calls = []
        self.eof = False
        self.transport = None
        self.done = loop.create_future()
        self.got = asyncio.Event()

    def connection_made(self, transport):
        self.calls.append("made")
        self.transport = transport

    def data_received(self, data):
        assert isinstance(data, bytes)
        self.data += data
        self.got.set()

    def eof_received(self):
        self.calls.append("eof")
        self.eof = True
        self.got.set()

    def connection_lost(self, exc):
        self.calls.append(("lost", exc))
        if not self.done.done():
            self.done.set_result(exc)

    async def wait_for_bytes(self, n, timeout=10):
        async with asyncio.timeout(timeout):
            while len(self.data) < n:
                self.got.clear()
                await self.got.wait()


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def eof_received(self):
        return False


class BufferedEcho(asyncio.BufferedProtocol):
    """Echoes through a deliberately small buffer: many get_buffer() calls."""

    def __init__(self, size=1000):
        self.buffer = bytearray(size)

    def connection_made(self, transport):
        self.transport = transport

    def get_buffer(self, sizehint):
        return self.buffer

    def buffer_updated(self, nbytes):
        self.transport.write(bytes(self.buffer[:nbytes]))

    def eof_received(self):
        return False


async def serve(loop, factory):
    server = await loop.create_server(factory, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()


async def test_protocol_echo(aloop):
    server, addr = await serve(aloop, Echo)
    async with server:
        tr, client = await aloop.create_connection(lambda: Collect(aloop), *addr)
        payload = os.urandom(300_000)
        for i in range(0, len(payload), 7000):
            tr.write(payload[i:i + 7000])
        await client.wait_for_bytes(len(payload))
        assert bytes(client.data) == payload
        tr.close()
        assert await client.done is None
        assert client.calls == ["made", ("lost", None)]


async def test_buffered_protocol_echo(aloop):
    server, addr = await serve(aloop, BufferedEcho)
    async with server:
        received = bytearray()
        done = aloop.create_future()

        class Client(asyncio.BufferedProtocol):
            buf = bytearray(333)

            def get_buffer(self, sizehint):
                return self.buf

            def buffer_updated(self, n):
                received.extend(self.buf[:n])
                if len(received) == len(payload):
                    done.set_result(None)

        payload = os.urandom(1_000_000)
        tr, _ = await aloop.create_connection(Client, *addr)
        tr.writelines([payload[:1], memoryview(payload)[1:500_000], bytearray(payload[500_000:])])
        await asyncio.wait_for(done, 20)
        assert received == payload
        tr.close()


async def test_transport_information(aloop):
    server, addr = await serve(aloop, Echo)
    async with server:
        tr, client = await aloop.create_connection(lambda: Collect(aloop), *addr)
        sock = tr.get_extra_info("socket")
        assert sock.fileno() >= 0 and sock.family == socket.AF_INET
        assert tr.get_extra_info("peername") == addr
        assert tr.get_extra_info("sockname") == sock.getsockname()
        assert tr.get_extra_info("nothing", 42) == 42
        assert tr.get_protocol() is client
        assert tr.can_write_eof()
        assert tr.is_reading() and not tr.is_closing()
        assert tr.get_write_buffer_size() == 0
        tr.set_write_buffer_limits(high=1000)
        assert tr.get_write_buffer_limits() == (250, 1000)
        tr.set_write_buffer_limits(low=10)
        assert tr.get_write_buffer_limits() == (10, 40)
        with pytest.raises(ValueError):
            tr.set_write_buffer_limits(high=1, low=2)
        with pytest.raises(TypeError):
            tr.write("text")
        other = Collect(aloop)
        tr.set_protocol(other)
        assert tr.get_protocol() is other
        tr.write(b"hi")
        await other.wait_for_bytes(2)
        assert other.data == b"hi" and client.data == b""
        tr.close()
        assert tr.is_closing() and not tr.is_reading()
        await other.done


async def test_flow_control_with_slow_reader(aloop):
    writer_side = {}
    paused = asyncio.Event()
    resumed = asyncio.Event()

    class Writer(asyncio.Protocol):
        def connection_made(self, transport):
            writer_side["tr"] = transport
            transport.set_write_buffer_limits(high=64 * 1024, low=16 * 1024)

        def pause_writing(self):
            paused.set()

        def resume_writing(self):
            resumed.set()

    server, addr = await serve(aloop, Writer)
    async with server:
        tr, client = await aloop.create_connection(lambda: Collect(aloop), *addr)
        tr.pause_reading()
        assert not tr.is_reading()
        while "tr" not in writer_side:
            await asyncio.sleep(0.01)
        chunk = os.urandom(256 * 1024)
        total = 0
        for _ in range(32):                 # 8 MiB: far more than socket buffers
            writer_side["tr"].write(chunk)
            total += len(chunk)
        await asyncio.wait_for(paused.wait(), 10)
        await asyncio.sleep(0.2)
        assert not resumed.is_set()
        assert writer_side["tr"].get_write_buffer_size() > 0
        tr.resume_reading()
        await asyncio.wait_for(resumed.wait(), 20)
        await client.wait_for_bytes(total, 30)
        assert bytes(client.data) == chunk * 32
        assert writer_side["tr"].get_write_buffer_size() == 0
        tr.close()


async def test_pause_reading_keeps_data(aloop):
    server_proto = {}

    class Server(Collect):
        def connection_made(self, transport):
            super().connection_made(transport)
            server_proto["p"] = self

    server, addr = await serve(aloop, lambda: Server(aloop))
    async with server:
        reader, writer = await asyncio.open_connection(*addr)
        writer.write(b"first")
        while "p" not in server_proto or len(server_proto["p"].data) < 5:
            await asyncio.sleep(0.01)
        proto = server_proto["p"]
        proto.transport.pause_reading()
        for i in range(50):
            writer.write(b"%04d" % i)
            await writer.drain()
            await asyncio.sleep(0)
        writer.write_eof()
        await asyncio.sleep(0.3)
        assert proto.data == b"first"
        assert not proto.eof
        proto.transport.resume_reading()
        proto.transport.pause_reading()
        proto.transport.resume_reading()
        await proto.wait_for_bytes(5 + 200)
        async with asyncio.timeout(5):
            while not proto.eof:
                await asyncio.sleep(0.01)
        assert proto.data == b"first" + b"".join(b"%04d" % i for i in range(50))
        writer.close()
        await writer.wait_closed()


async def test_half_close(aloop):
    class Upper(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport
            self.buf = b""

        def data_received(self, data):
            self.buf += data

        def eof_received(self):
            self.transport.write(self.buf.upper())
            self.transport.close()
            return True     # keep the write side open: close() after the write

    server, addr = await serve(aloop, Upper)
    async with server:
        tr, client = await aloop.create_connection(lambda: Collect(aloop), *addr)
        tr.write(b"half ")
        tr.write(b"closed")
        tr.write_eof()
        with pytest.raises(RuntimeError):
            tr.write(b"more")
        assert not tr.is_closing()
        assert await asyncio.wait_for(client.done, 10) is None
        assert client.data == b"HALF CLOSED"
        assert client.calls == ["made", "eof", ("lost", None)]


async def test_eof_received_false_closes(aloop):
    server, addr = await serve(aloop, lambda: Collect(aloop))
    async with server:
        reader, writer = await asyncio.open_connection(*addr)
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), 10) == b""
        writer.close()
        await writer.wait_closed()


async def test_abort(aloop):
    lost = aloop.create_future()

    class Server(asyncio.Protocol):
        def connection_lost(self, exc):
            lost.set_result(exc)

    server, addr = await serve(aloop, Server)
    async with server:
        tr, client = await aloop.create_connection(lambda: Collect(aloop), *addr)
        tr.write(b"x" * 1_000_000)
        tr.abort()
        assert tr.is_closing()
        assert tr.get_write_buffer_size() == 0
        assert await asyncio.wait_for(client.done, 10) is None
        await asyncio.wait_for(lost, 10)
        tr.abort()
        tr.close()
        await asyncio.sleep(0.05)
        assert client.calls == ["made", ("lost", None)]


@contextlib.asynccontextmanager
async def reset_by_peer(loop):
    """A connected Collect client whose peer has just aborted with a RST."""
    accepted = loop.create_future()
    server = await asyncio.start_server(
        lambda reader, writer: accepted.set_result(writer), "127.0.0.1", 0)
    async with server:
        tr, client = await loop.create_connection(
            lambda: Collect(loop), *server.sockets[0].getsockname())
        writer = await asyncio.wait_for(accepted, 10)
        writer.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        yield tr, client


async def test_connection_lost_once_on_peer_reset(aloop):
    async with reset_by_peer(aloop) as (tr, client):
        exc = await asyncio.wait_for(client.done, 10)
        await asyncio.sleep(0.05)
        assert isinstance(exc, ConnectionResetError)
        assert client.calls.count(("lost", exc)) == 1
        assert len([c for c in client.calls if c[0] == "lost"]) == 1
        tr.write(b"after reset")      # dropped silently, as asyncio does
        tr.close()


async def test_reset_while_writing(aloop):
    async with reset_by_peer(aloop) as (tr, client):
        chunk = b"z" * 65536
        async with asyncio.timeout(10):
            while not client.done.done():
                tr.write(chunk)
                await asyncio.sleep(0.001)
        exc = client.done.result()
        assert exc is None or isinstance(exc, (ConnectionResetError, BrokenPipeError))
        assert len([c for c in client.calls if c[0] == "lost"]) == 1


async def test_write_after_close(aloop, caplog):
    server, addr = await serve(aloop, Echo)
    async with server:
        tr, client = await aloop.create_connection(lambda: Collect(aloop), *addr)
        tr.write(b"before")
        tr.close()
        await client.done
        for _ in range(10):
            tr.write(b"after")       # no exception; asyncio logs a warning
        assert tr.is_closing()
        assert "socket.send() raised exception." in caplog.text


async def test_close_flushes_pending_writes(aloop):
    protocols = []

    def factory():
        protocols.append(Collect(aloop))
        return protocols[-1]

    server, addr = await serve(aloop, factory)
    async with server:
        reader, writer = await asyncio.open_connection(*addr)
        payload = os.urandom(4 * 1024 * 1024)
        writer.write(payload)
        writer.close()
        await writer.wait_closed()
        await asyncio.wait_for(protocols[0].done, 10)
        assert protocols[0].data == payload
        assert protocols[0].calls == ["made", "eof", ("lost", None)]


def open_fds():
    return len(os.listdir("/proc/self/fd"))


async def test_many_connections_no_fd_leak(aloop):
    server, addr = await serve(aloop, Echo)
    before = open_fds()
    started = time.monotonic()
    async with server:
        async def one(i):
            reader, writer = await asyncio.open_connection(*addr)
            msg = b"%05d" % i
            writer.write(msg)
            assert await reader.readexactly(5) == msg
            writer.close()
            await writer.wait_closed()

        sem = asyncio.Semaphore(100)

        async def limited(i):
            async with sem:
                await one(i)

        await asyncio.gather(*(limited(i) for i in range(10_000)))
        await asyncio.sleep(0.1)
    await server.wait_closed()
    await asyncio.sleep(0.1)
    elapsed = time.monotonic() - started
    assert open_fds() <= before
    assert elapsed < 60


async def test_server_close_and_serve_forever(aloop):
    server = await aloop.create_server(Echo, "127.0.0.1", 0, start_serving=False)
    addr = server.sockets[0].getsockname()
    assert not server.is_serving()
    task = aloop.create_task(server.serve_forever())
    await asyncio.sleep(0.05)
    assert server.is_serving()
    reader, writer = await asyncio.open_connection(*addr)
    writer.write(b"ping")
    assert await reader.readexactly(4) == b"ping"
    server.close()
    assert not server.is_serving()
    # Since Python 3.12 wait_closed() (which serve_forever() awaits once
    # cancelled) also waits for the accepted connection to go: close the
    # client first (the EOF makes Echo close its end).
    writer.close()
    await writer.wait_closed()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    await asyncio.wait_for(server.wait_closed(), 5)
    # The port is free again: nothing still listens on it.
    with pytest.raises(OSError):
        await asyncio.wait_for(asyncio.open_connection(*addr), 5)


@pytest.mark.skipif(sys.version_info < (3, 13), reason="Server.close_clients() is new in 3.13")
async def test_server_close_clients(aloop):
    server = await aloop.create_server(Echo, "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
    writer.write(b"ping")
    assert await reader.readexactly(4) == b"ping"
    server.close()
    server.close_clients()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    await asyncio.wait_for(server.wait_closed(), 5)
    writer.close()
    await writer.wait_closed()


@pytest.mark.skipif(sys.version_info < (3, 13), reason="asyncio removes the path since 3.13")
async def test_unix_server_close_removes_its_path(aloop, tmp_path):
    path = str(tmp_path / "sock")
    server = await aloop.create_unix_server(Echo, path)
    assert os.path.exists(path)
    server.close()
    await server.wait_closed()
    assert not os.path.exists(path)


async def test_unix_stream(aloop, tmp_path):
    path = str(tmp_path / "sock")
    server = await aloop.create_unix_server(Echo, path)
    async with server:
        reader, writer = await asyncio.open_unix_connection(path)
        writer.write(b"over unix")
        assert await reader.readexactly(9) == b"over unix"
        assert writer.get_extra_info("peername") == path
        writer.close()
        await writer.wait_closed()


async def test_connect_accepted_socket(aloop):
    a, b = socket.socketpair()
    with a, b:
        a.setblocking(False)
        tr, proto = await aloop.connect_accepted_socket(lambda: Collect(aloop), b)
        await aloop.sock_sendall(a, b"from a")
        await proto.wait_for_bytes(6)
        assert proto.data == b"from a"
        tr.write(b"from b")
        assert await aloop.sock_recv(a, 100) == b"from b"
        tr.close()
        await proto.done


async def test_aiohttp_app(aloop):
    import aiohttp       # requirements-dev.txt: missing is a failure, not a skip
    from aiohttp import web

    async def hello(request):
        body = await request.read()
        return web.Response(text=f"hello {request.match_info['name']} {len(body)}")

    app = web.Application()
    app.router.add_get("/hello/{name}", hello)
    app.router.add_post("/hello/{name}", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        async with aiohttp.ClientSession() as session:
            for i in range(20):
                async with session.get(f"http://127.0.0.1:{port}/hello/n{i}") as resp:
                    assert resp.status == 200
                    assert await resp.text() == f"hello n{i} 0"
            async with session.post(f"http://127.0.0.1:{port}/hello/big",
                                    data=b"x" * 1_000_000) as resp:
                assert await resp.text() == "hello big 1000000"
    finally:
        await runner.cleanup()


async def test_uvicorn_asgi_app(aloop):
    import uvicorn

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body",
                    "body": b"asgi " + scope["path"].encode() + b" %d" % len(body)})

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", loop="none", http="h11",
                            lifespan="off")
    server = uvicorn.Server(config)
    task = aloop.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:
                await asyncio.sleep(0.01)
        for i in range(10):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST /p%d HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                         b"Connection: close\r\n\r\nabc" % i)
            response = await asyncio.wait_for(reader.read(), 10)
            assert response.startswith(b"HTTP/1.1 200")
            assert b"asgi /p%d 3" % i in response
            writer.close()
            await writer.wait_closed()
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


@pytest.mark.aiouring_only("receiving without a provided buffer ring")
async def test_echo_without_buffer_ring(aloop):
    aloop._use_buffer_ring(False)
    try:
        server, addr = await serve(aloop, Echo)
        async with server:
            tr, client = await aloop.create_connection(lambda: Collect(aloop), *addr)
            payload = os.urandom(500_000)
            tr.write(payload)
            await client.wait_for_bytes(len(payload))
            assert bytes(client.data) == payload
            tr.pause_reading()
            tr.write(b"paused")
            await asyncio.sleep(0.1)
            tr.resume_reading()
            await client.wait_for_bytes(len(payload) + 6)
            tr.close()
            await client.done
    finally:
        aloop._use_buffer_ring(True)


async def test_abort_while_send_in_flight(aloop):
    # The peer does not read: the send stays in flight, then abort() drops it.
    accepted = aloop.create_future()
    server = await asyncio.start_server(
        lambda r, w: accepted.set_result(w), "127.0.0.1", 0)
    addr = server.sockets[0].getsockname()
    async with server:
        tr, client = await aloop.create_connection(lambda: Collect(aloop), *addr)
        writer = await asyncio.wait_for(accepted, 10)
        writer.transport.pause_reading()
        for _ in range(64):
            tr.write(b"w" * 256 * 1024)
        await asyncio.sleep(0.2)
        assert tr.get_write_buffer_size() > 0
        tr.abort()
        assert await asyncio.wait_for(client.done, 10) is None
        await asyncio.sleep(0.1)
        assert client.calls == ["made", ("lost", None)]
        writer.close()


async def test_tls_server_client_and_start_tls(aloop, tls_contexts):
    server_ctx, client_ctx = tls_contexts       # the client verifies the server

    async def handle(reader, writer):
        while line := await reader.readline():
            writer.write(line[::-1])
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
    addr = server.sockets[0].getsockname()
    async with server:
        reader, writer = await asyncio.open_connection(*addr, ssl=client_ctx)
        assert writer.get_extra_info("sslcontext") is client_ctx
        payload = os.urandom(20_000).hex().encode() + b"\n"
        writer.write(payload)
        reply = await asyncio.wait_for(reader.readexactly(len(payload)), 10)
        assert reply == payload[::-1]
        writer.close()
        await writer.wait_closed()

    # start_tls upgrades a plain connection made on the native transport.
    async def upgrade(reader, writer):
        assert await reader.readline() == b"STARTTLS\n"
        writer.write(b"GO\n")          # the client starts TLS only after this
        await writer.drain()
        await writer.start_tls(server_ctx)
        writer.write(b"secure " + await reader.readline())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(upgrade, "127.0.0.1", 0)
    addr = server.sockets[0].getsockname()
    async with server:
        reader, writer = await asyncio.open_connection(*addr)
        writer.write(b"STARTTLS\n")
        assert await asyncio.wait_for(reader.readline(), 10) == b"GO\n"
        await writer.start_tls(client_ctx, server_hostname="localhost")
        writer.write(b"hello\n")
        assert await asyncio.wait_for(reader.read(), 10) == b"secure hello\n"
        writer.close()
        await writer.wait_closed()


async def test_sendfile(aloop, tmp_path, monkeypatch):
    data = os.urandom(3 * 1024 * 1024 + 123)
    path = tmp_path / "blob"
    path.write_bytes(data)
    protocols = []

    def factory():
        protocols.append(Collect(aloop))
        return protocols[-1]

    if type(aloop).__module__.startswith("aiouring"):
        # The native path splices on the ring: os.sendfile is never needed.
        def no_sendfile(*args):
            raise AssertionError("os.sendfile called")
        monkeypatch.setattr(os, "sendfile", no_sendfile)
    server, addr = await serve(aloop, factory)
    async with server:
        tr, client = await aloop.create_connection(lambda: Collect(aloop), *addr)
        tr.write(b"header:")
        with open(path, "rb") as f:
            sent = await aloop.sendfile(tr, f, offset=100, count=2_000_000)
            assert sent == 2_000_000
            assert f.tell() == 2_000_100
            sent = await aloop.sendfile(tr, f, offset=2_000_100)
            assert sent == len(data) - 2_000_100
            assert await aloop.sendfile(tr, f, offset=len(data)) == 0
        tr.write(b":trailer")
        assert tr.is_reading()
        tr.close()
        await asyncio.wait_for(client.done, 10)
        await asyncio.wait_for(protocols[0].done, 10)
        assert protocols[0].data == b"header:" + data[100:] + b":trailer"


def test_keyboard_interrupt_in_protocol_leaves_the_loop(loop):
    """As from any asyncio callback: KeyboardInterrupt raised by a protocol
    method ends run_until_complete, and the loop stays usable."""

    class Interrupting(asyncio.Protocol):
        def data_received(self, data):
            raise KeyboardInterrupt

    async def connect_and_write():
        server = await loop.create_server(Interrupting, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"x")
        await asyncio.sleep(5)              # the interrupt ends the wait
        return server, writer

    task = loop.create_task(connect_and_write())
    with pytest.raises(KeyboardInterrupt):
        loop.run_until_complete(task)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(task)
    assert loop.run_until_complete(asyncio.sleep(0, "usable")) == "usable"

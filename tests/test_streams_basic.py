"""Servers, streams, datagrams and subprocesses work on the loop today
(through asyncio's transports on io_uring readiness)."""

import asyncio
import sys

import pytest


async def test_stream_echo_server(aloop):
    async def handle(reader, writer):
        while line := await reader.readline():
            writer.write(line.upper())
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()
    async with server:
        reader, writer = await asyncio.open_connection(host, port)
        for word in (b"hello\n", b"io_uring\n"):
            writer.write(word)
            assert await reader.readline() == word.upper()
        writer.write_eof()
        assert await reader.read() == b""
        writer.close()
        await writer.wait_closed()


async def test_datagram_endpoint(aloop):
    received = asyncio.get_running_loop().create_future()

    class Server(asyncio.DatagramProtocol):
        def connection_made(self, transport):
            self.transport = transport

        def datagram_received(self, data, addr):
            self.transport.sendto(data[::-1], addr)

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data, addr):
            received.set_result(data)

    server, _ = await aloop.create_datagram_endpoint(Server, local_addr=("127.0.0.1", 0))
    client, _ = await aloop.create_datagram_endpoint(
        Client, remote_addr=server.get_extra_info("sockname"))
    client.sendto(b"abc")
    assert await asyncio.wait_for(received, 5) == b"cba"
    client.close()
    server.close()


async def test_subprocess_pipes(aloop):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.read()[::-1])",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(proc.communicate(b"uring"), 30)
    assert out == b"gniru"
    assert proc.returncode == 0


async def test_connection_refused_from_create_connection(aloop):
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)

"""Datagram transports on asyncio's loop and on aiouring's native one."""

import asyncio
import socket

import pytest

pytestmark = pytest.mark.timeout(60)


class Recorder(asyncio.DatagramProtocol):
    def __init__(self):
        self.datagrams = asyncio.Queue()
        self.errors = asyncio.Queue()
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.datagrams.put_nowait((data, addr))

    def error_received(self, exc):
        self.errors.put_nowait(exc)

    def connection_lost(self, exc):
        self.lost.set_result(exc)


async def test_udp_echo_many(aloop):
    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport):
            self.transport = transport

        def datagram_received(self, data, addr):
            self.transport.sendto(data, addr)

    server, _ = await aloop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
    addr = server.get_extra_info("sockname")
    client, proto = await aloop.create_datagram_endpoint(Recorder, remote_addr=addr)
    assert isinstance(client, asyncio.BaseTransport)
    assert client.get_extra_info("peername") == addr
    for i in range(100):
        client.sendto(b"%d" % i)
    got = set()
    async with asyncio.timeout(10):
        while len(got) < 100:
            data, sender = await proto.datagrams.get()
            assert sender == addr
            got.add(int(data))
    big = bytes(range(256)) * 200           # 51,200 bytes in one datagram
    client.sendto(big)
    data, _ = await asyncio.wait_for(proto.datagrams.get(), 10)
    assert data == big
    with pytest.raises(ValueError):
        client.sendto(b"x", ("127.0.0.1", 1))
    with pytest.raises(TypeError):
        client.sendto("text")
    client.close()
    assert await asyncio.wait_for(proto.lost, 5) is None
    server.close()


async def test_udp_error_received(aloop):
    # A connected UDP socket learns of the closed port from ICMP.
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    closed_port = probe.getsockname()
    probe.close()
    transport, proto = await aloop.create_datagram_endpoint(
        Recorder, remote_addr=closed_port)
    exc = None
    async with asyncio.timeout(10):
        while exc is None:
            transport.sendto(b"anyone?")
            try:
                exc = await asyncio.wait_for(proto.errors.get(), 0.2)
            except TimeoutError:
                pass
    assert isinstance(exc, ConnectionRefusedError)
    assert not transport.is_closing()
    transport.close()
    await proto.lost


async def test_udp_unconnected_sendto_and_abort(aloop):
    a, pa = await aloop.create_datagram_endpoint(Recorder, local_addr=("127.0.0.1", 0))
    b, pb = await aloop.create_datagram_endpoint(Recorder, local_addr=("127.0.0.1", 0))
    a.sendto(b"to b", b.get_extra_info("sockname"))
    data, sender = await asyncio.wait_for(pb.datagrams.get(), 10)
    assert (data, sender) == (b"to b", a.get_extra_info("sockname"))
    a.abort()
    assert a.is_closing()
    assert await asyncio.wait_for(pa.lost, 5) is None
    b.close()
    await pb.lost


async def test_unix_datagram(aloop, tmp_path):
    path = str(tmp_path / "dgram")
    server, sproto = await aloop.create_datagram_endpoint(
        Recorder, local_addr=path, family=socket.AF_UNIX)
    client, cproto = await aloop.create_datagram_endpoint(
        Recorder, remote_addr=path, family=socket.AF_UNIX)
    client.sendto(b"unix datagram")
    data, _ = await asyncio.wait_for(sproto.datagrams.get(), 10)
    assert data == b"unix datagram"
    client.close()
    server.close()
    await cproto.lost
    await sproto.lost


async def test_callbacks_queued_before_a_datagram_arrives_run_first(aloop):
    """As on asyncio's loop: what was scheduled before the loop polled runs
    before the protocol hears of what that poll found."""
    order = []

    class Recorder(asyncio.DatagramProtocol):
        def datagram_received(self, data, addr):
            order.append("datagram")

    transport, _ = await aloop.create_datagram_endpoint(Recorder, local_addr=("127.0.0.1", 0))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(b"x", transport.get_extra_info("sockname"))     # in the kernel now
        aloop.call_soon(order.append, "callback")
        async with asyncio.timeout(10):
            while "datagram" not in order:
                await asyncio.sleep(0.001)
    transport.close()
    assert order == ["callback", "datagram"]

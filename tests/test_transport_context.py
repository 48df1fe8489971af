"""The contextvars context of a transport's protocol callbacks beyond what
asyncio's own loop gives before Python 3.15: the context passed to
_make_socket_transport()/_start_serving() (Python 3.15's asyncio passes one)
is the one the callbacks run in, and one transport's callbacks share it."""

import asyncio
import contextvars
import socket

import pytest

pytestmark = [pytest.mark.timeout(60),
              pytest.mark.aiouring_only("asyncio's transports take a context only "
                                        "from Python 3.15 on, and give each of "
                                        "their callbacks a copy of it")]

var = contextvars.ContextVar("var", default="unset")


class Seen(asyncio.Protocol):
    def __init__(self):
        self.seen = []
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        self.seen.append(("connection_made", var.get()))
        var.set("set by connection_made")

    def data_received(self, data):
        self.seen.append(("data_received", var.get()))

    def connection_lost(self, exc):
        self.seen.append(("connection_lost", var.get()))
        self.done.set_result(None)


async def test_socket_transport_runs_its_protocol_in_the_context_given(aloop):
    given = contextvars.Context()
    given.run(var.set, "given")
    mine, peer = socket.socketpair()
    mine.setblocking(False)
    with peer:
        protocol = Seen()
        waiter = aloop.create_future()
        transport = aloop._make_socket_transport(mine, protocol, waiter, context=given)
        await waiter
        peer.sendall(b"x")
        peer.shutdown(socket.SHUT_WR)
        await asyncio.wait_for(protocol.done, 5)
    assert protocol.seen == [("connection_made", "given"),
                             ("data_received", "set by connection_made"),
                             ("connection_lost", "set by connection_made")]
    assert var.get() == "unset"
    assert transport.is_closing()


async def test_server_connections_run_in_copies_of_the_context_given(aloop):
    given = contextvars.Context()
    given.run(var.set, "given")
    protocols = []

    def factory():
        protocols.append(Seen())
        return protocols[-1]

    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        aloop._start_serving(factory, listener, context=given)
        for _ in range(2):
            with socket.create_connection(listener.getsockname()) as peer:
                peer.sendall(b"x")
                peer.shutdown(socket.SHUT_WR)
                async with asyncio.timeout(5):
                    while not protocols or not protocols[-1].done.done():
                        await asyncio.sleep(0.01)
        aloop._stop_serving(listener)
    for protocol in protocols:
        assert protocol.seen[0] == ("connection_made", "given")
        assert protocol.seen[1:] == [("data_received", "set by connection_made"),
                                     ("connection_lost", "set by connection_made")]
    assert given.run(var.get) == "given"

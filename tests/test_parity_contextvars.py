"""Protocol callbacks run in the contextvars context the transport was created
in, as asyncio's transports run them: every callback of a connection sees the
value its creator set (for servers: the value the protocol factory set for
that connection), for streams, TLS, datagrams, pipes and subprocesses."""

import asyncio
import contextvars
import os
import socket
import sys

import pytest

pytestmark = pytest.mark.timeout(60)

origin = contextvars.ContextVar("origin", default="loop's context")


@pytest.fixture(autouse=True)
def reset_origin():
    """A callback run in the loop's (the thread's) own context and setting
    origin would leak the value into later tests: reset it there."""
    yield
    origin.set("loop's context")

WRONG_CONTEXT = pytest.mark.aiouring_defect(
    "protocol callbacks in the wrong context: only connection_made runs in the "
    "transport's context; the ring's completions call the rest in the loop's")


class Recorder:
    """Records which callbacks ran and the context value each one saw."""

    def __init__(self, loop):
        self.seen = {}
        self.done = loop.create_future()

    def saw(self, callback):
        self.seen.setdefault(callback, set()).add(origin.get())

    def finish(self):
        if not self.done.done():
            self.done.set_result(None)

    def assert_all_saw(self, value, callbacks):
        missing = [name for name in callbacks if name not in self.seen]
        assert not missing, f"never called: {missing}"
        wrong = {name: self.seen[name] for name in callbacks if self.seen[name] != {value}}
        assert not wrong, f"expected {value!r} in every callback, got {wrong}"


class StreamRecorder(Recorder, asyncio.Protocol):
    def connection_made(self, transport):
        self.saw("connection_made")
        self.transport = transport

    def data_received(self, data):
        self.saw("data_received")

    def eof_received(self):
        self.saw("eof_received")

    def connection_lost(self, exc):
        self.saw("connection_lost")
        self.finish()

    def pause_writing(self):
        self.saw("pause_writing")

    def resume_writing(self):
        self.saw("resume_writing")


class BufferedRecorder(StreamRecorder, asyncio.BufferedProtocol):
    buffer = bytearray(256)

    def get_buffer(self, sizehint):
        self.saw("get_buffer")
        return self.buffer

    def buffer_updated(self, nbytes):
        self.saw("buffer_updated")


STREAM_CALLBACKS = ["connection_made", "data_received", "eof_received", "connection_lost"]
BUFFERED_CALLBACKS = ["connection_made", "get_buffer", "buffer_updated", "eof_received",
                      "connection_lost"]


async def exchange(peer):
    """The peer sends, then half-closes, then waits for the other side to close."""
    loop = asyncio.get_running_loop()
    await loop.sock_sendall(peer, b"hello")
    peer.shutdown(socket.SHUT_WR)


def nonblocking_pair():
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    return a, b


@WRONG_CONTEXT
@pytest.mark.parametrize("protocol_class, callbacks", [
    (StreamRecorder, STREAM_CALLBACKS), (BufferedRecorder, BUFFERED_CALLBACKS),
], ids=["Protocol", "BufferedProtocol"])
async def test_create_connection_callbacks_see_the_creators_context(
        aloop, protocol_class, callbacks):
    mine, peer = nonblocking_pair()
    origin.set("creator")
    transport, protocol = await aloop.create_connection(
        lambda: protocol_class(aloop), sock=mine)
    origin.set("changed after creation")
    await exchange(peer)
    await asyncio.wait_for(protocol.done, 5)
    peer.close()
    protocol.assert_all_saw("creator", callbacks)


@WRONG_CONTEXT
async def test_connect_accepted_socket_callbacks_see_the_creators_context(aloop):
    mine, peer = nonblocking_pair()
    origin.set("creator")
    transport, protocol = await aloop.connect_accepted_socket(
        lambda: StreamRecorder(aloop), mine)
    await exchange(peer)
    await asyncio.wait_for(protocol.done, 5)
    peer.close()
    protocol.assert_all_saw("creator", STREAM_CALLBACKS)


@WRONG_CONTEXT
async def test_pause_and_resume_writing_see_the_creators_context(aloop):
    mine, peer = nonblocking_pair()
    origin.set("creator")
    transport, protocol = await aloop.create_connection(lambda: StreamRecorder(aloop),
                                                        sock=mine)
    transport.set_write_buffer_limits(high=1, low=0)
    for _ in range(2):          # more than the socket takes
        transport.write(os.urandom(4 * 1024 * 1024))
    async with asyncio.timeout(10):
        while "pause_writing" not in protocol.seen:
            await asyncio.sleep(0.01)
        while transport.get_write_buffer_size():
            await aloop.sock_recv(peer, 1 << 20)
        while "resume_writing" not in protocol.seen:
            await asyncio.sleep(0.01)
    transport.close()
    await asyncio.wait_for(protocol.done, 5)
    peer.close()
    protocol.assert_all_saw("creator", ["pause_writing", "resume_writing"])


@WRONG_CONTEXT
async def test_server_callbacks_see_the_context_the_factory_set(aloop):
    protocols = []

    def factory():
        origin.set(f"connection {len(protocols)}")
        protocols.append(StreamRecorder(aloop))
        return protocols[-1]

    origin.set("server")
    server = await aloop.create_server(factory, "127.0.0.1", 0)
    address = server.sockets[0].getsockname()
    peers = []
    async with server:
        # Both connections are open before either exchanges data.
        for _ in range(2):
            peer = socket.socket()
            peer.setblocking(False)
            await aloop.sock_connect(peer, address)
            peers.append(peer)
        async with asyncio.timeout(5):
            while len(protocols) < 2:
                await asyncio.sleep(0.01)
        for peer in peers:
            await exchange(peer)
        await asyncio.wait_for(asyncio.gather(*(p.done for p in protocols)), 5)
    for peer in peers:
        peer.close()
    for i, protocol in enumerate(protocols):
        protocol.assert_all_saw(f"connection {i}", STREAM_CALLBACKS)


@WRONG_CONTEXT
async def test_tls_callbacks_see_the_creators_context(aloop):
    from test.test_asyncio import utils as test_utils
    server_protocols = []

    def server_factory():
        origin.set("tls server connection")
        server_protocols.append(StreamRecorder(aloop))
        return server_protocols[-1]

    server = await aloop.create_server(server_factory, "127.0.0.1", 0,
                                       ssl=test_utils.simple_server_sslcontext())
    address = server.sockets[0].getsockname()
    async with server:
        origin.set("tls client")
        transport, client = await aloop.create_connection(
            lambda: StreamRecorder(aloop), *address,
            ssl=test_utils.simple_client_sslcontext())
        transport.write(b"over tls")
        async with asyncio.timeout(5):
            while not server_protocols or "data_received" not in server_protocols[0].seen:
                await asyncio.sleep(0.01)
        server_protocols[0].transport.write(b"back")
        async with asyncio.timeout(5):
            while "data_received" not in client.seen:
                await asyncio.sleep(0.01)
        transport.close()
        await asyncio.wait_for(client.done, 5)
        await asyncio.wait_for(server_protocols[0].done, 5)
    client.assert_all_saw("tls client", ["connection_made", "data_received", "connection_lost"])
    server_protocols[0].assert_all_saw("tls server connection",
                                       ["connection_made", "data_received", "connection_lost"])


class DatagramRecorder(Recorder, asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.saw("connection_made")
        self.transport = transport

    def datagram_received(self, data, address):
        self.saw("datagram_received")

    def error_received(self, exc):
        self.saw("error_received")

    def connection_lost(self, exc):
        self.saw("connection_lost")
        self.finish()


@WRONG_CONTEXT
async def test_datagram_callbacks_see_the_creators_context(aloop):
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    origin.set("creator")
    transport, protocol = await aloop.create_datagram_endpoint(
        lambda: DatagramRecorder(aloop), remote_addr=peer.getsockname())
    peer.sendto(b"datagram", transport.get_extra_info("sockname"))
    async with asyncio.timeout(5):
        while "datagram_received" not in protocol.seen:
            await asyncio.sleep(0.01)
    peer.close()                    # the next send is refused: error_received
    async with asyncio.timeout(5):
        while "error_received" not in protocol.seen:
            transport.sendto(b"to nobody")
            await asyncio.sleep(0.01)
    transport.close()
    await asyncio.wait_for(protocol.done, 5)
    protocol.assert_all_saw("creator", ["connection_made", "datagram_received",
                                        "error_received", "connection_lost"])


@WRONG_CONTEXT
async def test_read_pipe_callbacks_see_the_creators_context(aloop):
    r, w = os.pipe()
    origin.set("creator")
    transport, protocol = await aloop.connect_read_pipe(
        lambda: StreamRecorder(aloop), os.fdopen(r, "rb", buffering=0))
    os.write(w, b"through the pipe")
    os.close(w)
    await asyncio.wait_for(protocol.done, 5)
    protocol.assert_all_saw("creator", STREAM_CALLBACKS)


@WRONG_CONTEXT
async def test_write_pipe_callbacks_see_the_creators_context(aloop):
    r, w = os.pipe()
    origin.set("creator")
    transport, protocol = await aloop.connect_write_pipe(
        lambda: StreamRecorder(aloop), os.fdopen(w, "wb", buffering=0))
    transport.set_write_buffer_limits(high=1, low=0)
    for _ in range(2):          # more than the pipe takes
        transport.write(os.urandom(1024 * 1024))
    async with asyncio.timeout(10):
        while "pause_writing" not in protocol.seen:
            await asyncio.sleep(0.01)
        os.set_blocking(r, False)
        while transport.get_write_buffer_size():
            try:
                os.read(r, 1 << 20)
            except BlockingIOError:
                pass
            await asyncio.sleep(0)
        while "resume_writing" not in protocol.seen:
            await asyncio.sleep(0.01)
    os.close(r)                     # the write end sees EPIPE: connection_lost
    transport.write(b"x")
    await asyncio.wait_for(protocol.done, 5)
    protocol.assert_all_saw("creator", ["connection_made", "pause_writing",
                                        "resume_writing", "connection_lost"])


class ProcessRecorder(Recorder, asyncio.SubprocessProtocol):
    def connection_made(self, transport):
        self.saw("connection_made")

    def pipe_data_received(self, fd, data):
        self.saw("pipe_data_received")

    def pipe_connection_lost(self, fd, exc):
        self.saw("pipe_connection_lost")

    def process_exited(self):
        self.saw("process_exited")

    def connection_lost(self, exc):
        self.saw("connection_lost")
        self.finish()


async def start_recorded_process(loop):
    origin.set("creator")
    transport, protocol = await loop.subprocess_exec(
        lambda: ProcessRecorder(loop), sys.executable, "-c", "print('out')",
        stdin=None, stderr=None)
    await asyncio.wait_for(protocol.done, 10)
    transport.close()
    return protocol


@WRONG_CONTEXT
async def test_subprocess_pipe_callbacks_see_the_creators_context(aloop):
    protocol = await start_recorded_process(aloop)
    protocol.assert_all_saw("creator", ["connection_made", "pipe_data_received",
                                        "pipe_connection_lost"])


@pytest.mark.aiouring_only(
    "asyncio's child watcher thread calls process_exited (and so connection_lost) "
    "in the thread's own context")
@WRONG_CONTEXT
async def test_subprocess_exit_callbacks_see_the_creators_context(aloop):
    protocol = await start_recorded_process(aloop)
    protocol.assert_all_saw("creator", ["connection_made", "pipe_data_received",
                                        "pipe_connection_lost", "process_exited",
                                        "connection_lost"])


@WRONG_CONTEXT
def test_server_protocol_factory_cannot_change_the_programs_context(loop):
    """The factory runs in a context of its connection's own: what it sets
    does not leak into the context the program runs the loop from."""
    def factory():
        origin.set("set by the factory")
        return StreamRecorder(loop)

    async def connect_once():
        server = await loop.create_server(factory, "127.0.0.1", 0)
        async with server:
            peer = socket.socket()
            peer.setblocking(False)
            await loop.sock_connect(peer, server.sockets[0].getsockname())
            await exchange(peer)
            await asyncio.sleep(0.05)
            peer.close()

    loop.run_until_complete(connect_once())
    assert origin.get() == "loop's context"

"""What a stream transport hands its protocol, and when, checked on asyncio's
loop and on aiouring's (on aiouring's both receive paths where they differ):
the end of the input comes one loop iteration after the data before it; a
BufferedProtocol whose buffer is smaller than what arrived gets every byte
in order, across pauses and across an exit exception from buffer_updated()."""

import asyncio
import socket

import pytest

from conftest import is_aiouring

pytestmark = pytest.mark.timeout(60)


class IterationCounter:
    """Counts loop iterations: a callback that schedules itself again."""

    def __init__(self, loop):
        self.loop = loop
        self.count = 0
        self.handle = loop.call_soon(self.tick)

    def tick(self):
        self.count += 1
        self.handle = self.loop.call_soon(self.tick)

    def stop(self):
        self.handle.cancel()


class RecordIterations(asyncio.Protocol):
    def __init__(self, counter):
        self.counter = counter
        self.events = []
        self.done = asyncio.get_running_loop().create_future()

    def data_received(self, data):
        self.events.append(("data", data, self.counter.count))

    def eof_received(self):
        self.events.append(("eof", None, self.counter.count))

    def connection_lost(self, exc):
        self.done.set_result(None)


@pytest.mark.parametrize("receive_path", ["multishot", "single-shot"])
async def test_eof_comes_an_iteration_after_the_data_before_it(aloop, receive_path):
    if is_aiouring(aloop):
        aloop._use_buffer_ring(receive_path == "multishot")
    mine, peer = socket.socketpair()
    with peer:
        # Data and the end are both waiting before the transport reads at all.
        peer.sendall(b"last words")
        peer.shutdown(socket.SHUT_WR)
        counter = IterationCounter(aloop)
        try:
            _, protocol = await aloop.create_connection(
                lambda: RecordIterations(counter), sock=mine)
            await asyncio.wait_for(protocol.done, 5)
        finally:
            counter.stop()
    kinds = [kind for kind, _, _ in protocol.events]
    assert kinds == ["data", "eof"]
    assert protocol.events[0][1] == b"last words"
    assert protocol.events[1][2] > protocol.events[0][2]


class SmallBuffers(asyncio.BufferedProtocol):
    """A BufferedProtocol with a 4-byte buffer; optionally pauses reading
    after every buffer_updated(), or raises an exit exception after its
    first."""

    def __init__(self, after_first=None):
        self.after_first = after_first
        self.buffer = bytearray(4)
        self.data = bytearray()
        self.updates = 0
        self.got = asyncio.Event()

    def connection_made(self, transport):
        self.transport = transport

    def get_buffer(self, sizehint):
        return self.buffer

    def buffer_updated(self, nbytes):
        self.data += self.buffer[:nbytes]
        self.updates += 1
        self.got.set()
        if self.after_first == "pause":
            self.transport.pause_reading()
        if self.updates == 1 and self.after_first == "interrupt":
            raise KeyboardInterrupt


async def wait_for_data(protocol, expected):
    async with asyncio.timeout(5):
        while bytes(protocol.data) != expected:
            protocol.got.clear()
            await protocol.got.wait()


async def test_buffered_protocol_paused_mid_chunk_gets_every_byte_in_order(aloop):
    mine, peer = socket.socketpair()
    with peer:
        transport, protocol = await aloop.create_connection(
            lambda: SmallBuffers("pause"), sock=mine)
        peer.sendall(b"abcdefgh")
        async with asyncio.timeout(5):
            while not protocol.updates:
                await asyncio.sleep(0.01)
        peer.sendall(b"ijklmnop")       # arrives while paused
        await asyncio.sleep(0.05)
        assert bytes(protocol.data) == b"abcd"
        async with asyncio.timeout(5):
            while len(protocol.data) < 16:
                updates = protocol.updates
                transport.resume_reading()
                while protocol.updates == updates:
                    await asyncio.sleep(0.001)
                assert not transport.is_reading()
        assert bytes(protocol.data) == b"abcdefghijklmnop"
        transport.close()


def test_exit_exception_from_buffer_updated_loses_no_byte(loop):
    mine, peer = socket.socketpair()
    with peer:
        transport, protocol = loop.run_until_complete(
            loop.create_connection(lambda: SmallBuffers("interrupt"), sock=mine))
        peer.sendall(b"abcdefghijkl")
        stop = loop.create_future()
        timer = loop.call_later(5, stop.set_result, "no exception")
        with pytest.raises(KeyboardInterrupt):
            loop.run_until_complete(stop)
        timer.cancel()
        assert bytes(protocol.data) == b"abcd"
        loop.run_until_complete(wait_for_data(protocol, b"abcdefghijkl"))
        transport.close()
        loop.run_until_complete(asyncio.sleep(0))

"""A BufferedProtocol's data lands straight in the buffer its get_buffer()
returned (on aiouring's loop the receive is in flight in that buffer before
any data arrives). Checked on asyncio's loop and on aiouring's: every byte
arrives in order whatever the buffer's size, across a pause, a protocol
swap and an abort while a receive is in flight; the buffer is kept alive
by the transport while it is in use and released after; on aiouring's loop
a bytearray cannot be resized under the kernel."""

import asyncio
import gc
import socket

import pytest

from conftest import is_aiouring

pytestmark = pytest.mark.timeout(60)


class Collector(asyncio.BufferedProtocol):
    """Collects what arrives through buffers of `size` bytes; `fresh`
    returns a new bytearray each time and keeps only the last one."""

    def __init__(self, size, fresh=False):
        self.size = size
        self.fresh = fresh
        self.buffer = bytearray(size)
        self.data = bytearray()
        self.updates = 0
        self.lost = None
        self.got = asyncio.Event()
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        self.transport = transport

    def get_buffer(self, sizehint):
        if self.fresh:
            self.buffer = bytearray(self.size)
        return self.buffer

    def buffer_updated(self, nbytes):
        self.data += self.buffer[:nbytes]
        self.updates += 1
        self.got.set()

    def connection_lost(self, exc):
        self.lost = exc
        if not self.done.done():
            self.done.set_result(None)


async def wait_for_bytes(protocol, count):
    async with asyncio.timeout(10):
        while len(protocol.data) < count:
            protocol.got.clear()
            await protocol.got.wait()


async def reading_started(loop):
    # connection_made() and the first receive come in the iterations after
    # create_connection() returns.
    for _ in range(5):
        await asyncio.sleep(0)


def pattern(size):
    return bytes(i % 251 for i in range(size))


@pytest.mark.parametrize("buffer_size", [1000, 65536, 256 * 1024])
async def test_a_64k_message_arrives_whole_in_order_whatever_the_buffer_size(aloop, buffer_size):
    message = pattern(65536) * 3
    mine, peer = socket.socketpair()
    with peer:
        transport, protocol = await aloop.create_connection(
            lambda: Collector(buffer_size), sock=mine)
        await aloop.sock_sendall(peer, message)
        await wait_for_bytes(protocol, len(message))
        assert bytes(protocol.data) == message
        transport.close()
        await protocol.done


async def test_fresh_buffers_the_protocol_drops_are_kept_until_filled(aloop):
    message = pattern(200_000)
    mine, peer = socket.socketpair()
    with peer:
        transport, protocol = await aloop.create_connection(
            lambda: Collector(4096, fresh=True), sock=mine)
        await reading_started(aloop)
        gc.collect()
        await aloop.sock_sendall(peer, message)
        await wait_for_bytes(protocol, len(message))
        assert bytes(protocol.data) == message
        transport.close()
        await protocol.done


async def test_a_buffer_in_use_cannot_be_resized_and_is_released_after(aloop):
    mine, peer = socket.socketpair()
    with peer:
        transport, protocol = await aloop.create_connection(
            lambda: Collector(1024), sock=mine)
        await reading_started(aloop)
        if is_aiouring(aloop):
            # The receive is in flight into it: the kernel may write there.
            with pytest.raises(BufferError):
                protocol.buffer.extend(b"more")
        peer.sendall(b"hello")
        await wait_for_bytes(protocol, 5)
        transport.close()
        await protocol.done
        for _ in range(3):
            await asyncio.sleep(0)
        protocol.buffer.extend(b"more")     # nothing holds it any more
        assert len(protocol.buffer) == 1028
        assert bytes(protocol.data) == b"hello"


@pytest.mark.parametrize("order", ["pause-then-send", "send-then-pause"])
async def test_pause_with_a_receive_in_flight_loses_nothing(aloop, order):
    mine, peer = socket.socketpair()
    with peer:
        transport, protocol = await aloop.create_connection(
            lambda: Collector(3), sock=mine)
        await reading_started(aloop)
        peer.sendall(b"abc")
        await wait_for_bytes(protocol, 3)
        if order == "pause-then-send":
            transport.pause_reading()
            await asyncio.sleep(0.02)
            peer.sendall(b"defghij")
        else:
            # Data and the pause reach the loop in the same iteration.
            peer.sendall(b"defghij")
            transport.pause_reading()
        await asyncio.sleep(0.05)
        updates = protocol.updates
        assert bytes(protocol.data) in (b"abc", b"abcdef")
        await asyncio.sleep(0.05)
        assert protocol.updates == updates      # nothing while paused
        transport.resume_reading()
        await wait_for_bytes(protocol, 10)
        assert bytes(protocol.data) == b"abcdefghij"
        transport.close()
        await protocol.done


async def test_abort_with_a_receive_in_flight(aloop):
    mine, peer = socket.socketpair()
    with peer:
        transport, protocol = await aloop.create_connection(
            lambda: Collector(1024), sock=mine)
        await reading_started(aloop)
        transport.abort()
        peer.sendall(b"too late")
        await asyncio.wait_for(protocol.done, 5)
        for _ in range(3):
            await asyncio.sleep(0)
        assert protocol.updates == 0
        assert protocol.lost is None
        protocol.buffer.extend(b"x")        # released
        assert transport.is_closing()


class PlainCollector(asyncio.Protocol):
    def __init__(self):
        self.data = bytearray()
        self.got = asyncio.Event()

    def data_received(self, data):
        self.data += data
        self.got.set()


async def test_protocol_swapped_while_a_receive_is_in_flight(aloop):
    mine, peer = socket.socketpair()
    with peer:
        transport, first = await aloop.create_connection(
            lambda: Collector(1024), sock=mine)
        await reading_started(aloop)
        second = PlainCollector()
        transport.set_protocol(second)
        peer.sendall(b"for the second")
        async with asyncio.timeout(5):
            while len(second.data) < 14:
                second.got.clear()
                await second.got.wait()
        assert bytes(second.data) == b"for the second"
        assert first.updates == 0
        transport.close()
        await asyncio.sleep(0)


class PausingPlainCollector(PlainCollector):
    """Pauses reading after every data_received() when `pausing` is set."""

    def __init__(self):
        super().__init__()
        self.pausing = False

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        assert type(data) is bytes
        super().data_received(data)
        if self.pausing:
            self.transport.pause_reading()


async def wait_for_plain(protocol, count):
    async with asyncio.timeout(10):
        while len(protocol.data) < count:
            protocol.got.clear()
            await protocol.got.wait()


async def test_protocol_gets_large_then_small_reads_in_order(aloop):
    # Reads of whole provided buffers and of a few bytes, in turns.
    mine, peer = socket.socketpair()
    peer.setblocking(False)
    with peer:
        transport, protocol = await aloop.create_connection(PausingPlainCollector, sock=mine)
        expected = bytearray()
        for round_ in range(3):
            big = pattern(65536 * 2 + round_)
            await aloop.sock_sendall(peer, big)
            expected += big
            await wait_for_plain(protocol, len(expected))
            for i in range(12):
                small = bytes([65 + i]) * (i + 1)
                await aloop.sock_sendall(peer, small)
                expected += small
                await wait_for_plain(protocol, len(expected))
        assert bytes(protocol.data) == bytes(expected)
        # Paused after each large read: whatever is in flight is kept, in order.
        protocol.pausing = True
        big = pattern(65536 * 4)
        sending = aloop.create_task(aloop.sock_sendall(peer, big))
        expected += big
        async with asyncio.timeout(10):
            while len(protocol.data) < len(expected):
                await asyncio.sleep(0.005)
                transport.resume_reading()
        await sending
        assert bytes(protocol.data) == bytes(expected)
        transport.close()
        await asyncio.sleep(0)


async def test_protocol_eof_after_large_reads(aloop):
    mine, peer = socket.socketpair()
    with peer:
        transport, protocol = await aloop.create_connection(PausingPlainCollector, sock=mine)
        protocol.eof = aloop.create_future()
        protocol.eof_received = lambda: protocol.eof.set_result(len(protocol.data))
        big = pattern(65536 * 3)
        await aloop.sock_sendall(peer, big)
        await wait_for_plain(protocol, len(big))
        await aloop.sock_sendall(peer, b"tail")
        peer.shutdown(socket.SHUT_WR)
        assert await asyncio.wait_for(protocol.eof, 5) == len(big) + 4
        assert bytes(protocol.data) == big + b"tail"
        transport.close()
        await asyncio.sleep(0)


@pytest.mark.aiouring_only("from Python 3.12 on asyncio's transports keep a reference to "
                           "a bytearray or memoryview they could not send at once")
@pytest.mark.parametrize("kind", [bytearray, memoryview])
async def test_a_buffer_changed_after_write_goes_out_as_it_was(aloop, kind):
    # write() of a bytearray or memoryview sends straight from it where the
    # socket takes it at once; what waits is a copy.
    mine, peer = socket.socketpair()
    mine.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
    peer.setblocking(False)
    with peer:
        transport, _ = await aloop.create_connection(asyncio.Protocol, sock=mine)
        source = bytearray(pattern(1 << 20))
        expected = bytes(source)
        transport.write(source if kind is bytearray else memoryview(source))
        assert transport.get_write_buffer_size() > 0   # the socket took part of it
        source[:] = b"x" * len(source)
        small = bytearray(b"tail")
        transport.write(small if kind is bytearray else memoryview(small))
        small[:] = b"XXXX"
        received = bytearray()
        async with asyncio.timeout(10):
            while len(received) < len(expected) + 4:
                received += await aloop.sock_recv(peer, 1 << 16)
        same = bytes(received) == expected + b"tail"    # (a diff of 1 MiB takes minutes)
        assert same, "the bytes sent are not the ones write() was given"
        transport.close()
        await asyncio.sleep(0)



class PausesInGetBuffer(Collector):
    """Pauses reading from inside every second get_buffer() call."""

    def __init__(self):
        super().__init__(5)
        self.calls = 0

    def get_buffer(self, sizehint):
        self.calls += 1
        if self.calls % 2 == 0:
            self.transport.pause_reading()
        return self.buffer


async def test_pause_from_inside_get_buffer_loses_nothing(aloop):
    message = pattern(5000)
    mine, peer = socket.socketpair()
    peer.setblocking(False)
    with peer:
        transport, protocol = await aloop.create_connection(PausesInGetBuffer, sock=mine)
        await aloop.sock_sendall(peer, message)
        async with asyncio.timeout(10):
            while len(protocol.data) < len(message):
                await asyncio.sleep(0.001)
                transport.resume_reading()
        assert bytes(protocol.data) == message
        transport.close()
        await protocol.done

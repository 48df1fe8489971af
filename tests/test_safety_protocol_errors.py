"""An exception raised by protocol code never leaves a transport without its
receive: after a KeyboardInterrupt (or SystemExit) escapes data_received()
and the loop is run again, later data is still delivered, as with asyncio.
aiouring runs each case on both of its receive paths: multishot into the
provided buffer ring, and single-shot into the transport's own buffer."""

import asyncio
import socket

import pytest


pytestmark = pytest.mark.timeout(60)


class RaisesOnFirstData(asyncio.Protocol):
    def __init__(self, exc_type):
        self.exc_type = exc_type
        self.data = bytearray()
        self.raised = False
        self.got = asyncio.Event()

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.data += data
        self.got.set()
        if not self.raised:
            self.raised = True
            raise self.exc_type()


class BufferedRaisesOnFirstData(RaisesOnFirstData, asyncio.BufferedProtocol):
    def __init__(self, exc_type):
        super().__init__(exc_type)
        self.buffer = bytearray(4096)

    def get_buffer(self, sizehint):
        return self.buffer

    def buffer_updated(self, nbytes):
        self.data_received(bytes(self.buffer[:nbytes]))


async def wait_for_data(protocol, expected):
    async with asyncio.timeout(3):
        while bytes(protocol.data) != expected:
            protocol.got.clear()
            await protocol.got.wait()


def run_until_interrupted(loop, exc_type):
    """Runs the loop until protocol code raises exc_type out of it."""
    stop = loop.create_future()
    timer = loop.call_later(5, stop.set_result, "no exception")
    try:
        with pytest.raises(exc_type):
            loop.run_until_complete(stop)
    finally:
        timer.cancel()
        stop.cancel()


SINGLE_SHOT_DEFECT = pytest.mark.aiouring_defect(
    "exception from a protocol method stops the transport: on the single-shot "
    "path the RECV is re-armed after data_received() returns, so an escaping "
    "KeyboardInterrupt or SystemExit skips it")

LOOPS_AND_RECEIVE_PATHS = pytest.mark.parametrize("loop_name, receive_path", [
    ("asyncio", None),
    ("aiouring", "multishot"),
    pytest.param("aiouring", "single-shot", marks=SINGLE_SHOT_DEFECT),
])


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
@pytest.mark.parametrize("protocol_class", [RaisesOnFirstData, BufferedRaisesOnFirstData],
                         ids=["Protocol", "BufferedProtocol"])
@LOOPS_AND_RECEIVE_PATHS
def test_exit_exception_from_data_received_keeps_the_receive(
        loop, receive_path, exc_type, protocol_class):
    if receive_path is not None:
        loop._use_buffer_ring(receive_path == "multishot")
    a, b = socket.socketpair()
    try:
        transport, protocol = loop.run_until_complete(
            loop.create_connection(lambda: protocol_class(exc_type), sock=a))
        b.send(b"first")
        run_until_interrupted(loop, exc_type)
        assert protocol.data == b"first"
        b.send(b"second")
        loop.run_until_complete(wait_for_data(protocol, b"firstsecond"))
        transport.close()
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        b.close()


class DatagramRaisesOnFirst(asyncio.DatagramProtocol):
    def __init__(self, exc_type):
        self.exc_type = exc_type
        self.data = bytearray()
        self.raised = False
        self.got = asyncio.Event()

    def datagram_received(self, data, address):
        self.data += data
        self.got.set()
        if not self.raised:
            self.raised = True
            raise self.exc_type()


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
def test_exit_exception_from_datagram_received_keeps_the_receive(loop, exc_type):
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    try:
        transport, protocol = loop.run_until_complete(loop.create_datagram_endpoint(
            lambda: DatagramRaisesOnFirst(exc_type), local_addr=("127.0.0.1", 0)))
        address = transport.get_extra_info("sockname")
        peer.sendto(b"first", address)
        run_until_interrupted(loop, exc_type)
        peer.sendto(b"second", address)
        loop.run_until_complete(wait_for_data(protocol, b"firstsecond"))
        transport.close()
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        peer.close()


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
def test_exit_exception_from_pipe_data_received_keeps_the_read(loop, exc_type):
    import os
    r, w = os.pipe()
    try:
        transport, protocol = loop.run_until_complete(loop.connect_read_pipe(
            lambda: RaisesOnFirstData(exc_type), os.fdopen(r, "rb", buffering=0)))
        os.write(w, b"first")
        run_until_interrupted(loop, exc_type)
        os.write(w, b"second")
        loop.run_until_complete(wait_for_data(protocol, b"firstsecond"))
        transport.close()
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        os.close(w)

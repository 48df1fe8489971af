"""Writes reach the kernel when asyncio's do: once write() on an idle
transport returns, whatever the socket (or pipe) accepted without blocking is
sent, and get_write_buffer_size() counts only the rest. Code that writes and
then blocks, aborts, or closes as its loop is torn down relies on it."""

import asyncio
import os
import socket

import pytest

pytestmark = pytest.mark.timeout(60)

NOT_SENT_AT_ONCE = pytest.mark.aiouring_defect(
    "writes reach the kernel late: write() on an idle transport queues the "
    "bytes until the next loop iteration instead of sending them")


class Keep(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport


def stream_transport(loop, family):
    """(transport, peer): a transport on one end of a connected pair, a
    blocking plain socket with a timeout on the other."""
    if family == "unix":
        mine, peer = socket.socketpair()
    else:
        with socket.create_server(("127.0.0.1", 0)) as listener:
            mine = socket.create_connection(listener.getsockname())
            peer, _ = listener.accept()
    peer.settimeout(2)
    transport, _ = loop.run_until_complete(loop.create_connection(Keep, sock=mine))
    return transport, peer


def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


@NOT_SENT_AT_ONCE
@pytest.mark.parametrize("family", ["unix", "tcp"])
def test_small_write_leaves_nothing_buffered(loop, family):
    transport, peer = stream_transport(loop, family)
    try:
        transport.write(b"hello")
        assert transport.get_write_buffer_size() == 0
        transport.writelines([b"more", b" data"])
        assert transport.get_write_buffer_size() == 0
    finally:
        transport.close()
        loop.run_until_complete(asyncio.sleep(0))
        peer.close()


@NOT_SENT_AT_ONCE
def test_large_write_buffers_only_what_the_socket_did_not_take(loop):
    transport, peer = stream_transport(loop, "tcp")
    try:
        payload = os.urandom(64 * 1024 * 1024)
        transport.write(payload)
        buffered = transport.get_write_buffer_size()
        assert 0 < buffered < len(payload)
    finally:
        transport.abort()
        loop.run_until_complete(asyncio.sleep(0))
        peer.close()


@NOT_SENT_AT_ONCE
@pytest.mark.parametrize("family", ["unix", "tcp"])
def test_peer_gets_the_bytes_while_the_writer_blocks(loop, family):
    transport, peer = stream_transport(loop, family)
    try:
        transport.write(b"ping")
        # No loop iteration from here on: the loop's thread blocks.
        assert recv_exactly(peer, 4) == b"ping"
    except TimeoutError:
        pytest.fail("the peer got nothing while the writer blocked")
    finally:
        transport.close()
        loop.run_until_complete(asyncio.sleep(0))
        peer.close()


@NOT_SENT_AT_ONCE
def test_write_then_abort_delivers_the_write(loop):
    transport, peer = stream_transport(loop, "tcp")
    try:
        transport.write(b"reply")
        transport.abort()
        loop.run_until_complete(asyncio.sleep(0.05))
        assert recv_exactly(peer, 5) == b"reply"
    finally:
        peer.close()


class ReplyCloseAndExit(asyncio.Protocol):
    """Answers the first request, closes, and ends the program (SystemExit
    out of the handler, as sys.exit() in a request handler does)."""

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(b"reply to " + data)
        self.transport.close()
        raise SystemExit(0)


@NOT_SENT_AT_ONCE
def test_write_and_close_in_a_handler_that_ends_the_program_delivers_the_write(loop):
    mine, peer = socket.socketpair()
    peer.settimeout(2)
    try:
        loop.run_until_complete(loop.create_connection(ReplyCloseAndExit, sock=mine))
        peer.sendall(b"request")
        with pytest.raises(SystemExit):
            loop.run_forever()
        loop.close()
        assert recv_exactly(peer, 16) == b"reply to request"
    finally:
        peer.close()


# -- datagrams and pipes -----------------------------------------------------

@NOT_SENT_AT_ONCE
def test_datagram_sendto_on_an_idle_transport_is_sent_at_once(loop):
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.settimeout(2)
    try:
        transport, _ = loop.run_until_complete(loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=peer.getsockname()))
        transport.sendto(b"datagram")
        assert transport.get_write_buffer_size() == 0
        assert peer.recv(100) == b"datagram"
        transport.close()
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        peer.close()


def test_pipe_write_on_an_idle_transport_is_sent_at_once(loop):
    r, w = os.pipe()
    try:
        transport, _ = loop.run_until_complete(
            loop.connect_write_pipe(asyncio.Protocol, os.fdopen(w, "wb", buffering=0)))
        transport.write(b"through the pipe")
        assert transport.get_write_buffer_size() == 0
        os.set_blocking(r, False)
        assert os.read(r, 100) == b"through the pipe"
        transport.close()
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        os.close(r)


class CountPauses(asyncio.Protocol):
    paused = 0

    def connection_made(self, transport):
        self.transport = transport

    def pause_writing(self):
        self.paused += 1


@pytest.mark.aiouring_defect(
    "writes reach the kernel late: the first write() into an idle transport "
    "does not count towards pausing, so a write the socket cannot take whole "
    "never calls pause_writing()")
def test_first_write_bigger_than_the_socket_takes_pauses_the_protocol(loop):
    mine, peer = socket.socketpair()
    try:
        transport, protocol = loop.run_until_complete(
            loop.create_connection(CountPauses, sock=mine))
        transport.write(os.urandom(16 * 1024 * 1024))
        assert protocol.paused == 1
        transport.abort()
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        peer.close()

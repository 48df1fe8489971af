"""Model-based test of the sock_* API: Hypothesis drives random sequences of
receives of every kind, interrupted and stopped readers, sends, closes with
requests in flight and fd-number reuse over several live connections, on
asyncio's loop and on aiouring's, and checks after every step what the program
and each peer observed against what a correct loop must show:

- every byte a connection's reader got is the next byte its own peer sent
  (nothing from another connection, nothing lost, duplicated or reordered);
- a running reader has everything its peer sent once the loop settled;
- every byte a peer got is the next byte the program sent on that connection;
- a closed socket's peer sees EOF, and a closed socket gets no more data;
- a zero-byte receive returns b'' at once, and no call fails unexpectedly.

Each connection's peer and program send from byte ranges of their own, so a
byte that reaches the wrong connection is recognised. A failing run is not
shrunk (each replay waits for the loop to settle): set AIOURING_MODEL_SHRINK=1
to get the smallest failing sequence."""

import asyncio
import os
import socket

import pytest
from hypothesis import Phase, settings, strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, invariant, precondition, rule,
                                 run_state_machine_as_test)

from conftest import FACTORIES
from model_support import Peer, run_on, until_quiet

pytestmark = pytest.mark.timeout(300)

MAX_CONNECTIONS = 4
RECEIVE_KINDS = ["recv", "recv_into", "recvfrom", "recvfrom_into"]
# Each connection has two streams (peer -> program, program -> peer); stream k
# sends the values [k * BYTES_PER_STREAM, (k + 1) * BYTES_PER_STREAM) in turn.
BYTES_PER_STREAM = 256 // (2 * MAX_CONNECTIONS)


def stream_bytes(stream, start, n):
    return bytes(BYTES_PER_STREAM * stream + (start + i) % BYTES_PER_STREAM
                 for i in range(n))


class Connection:
    """One connected pair: `ours` is driven through the loop's sock_* API,
    `peer` is a plain socket the test reads and writes directly."""

    def __init__(self, index, ours, peer):
        self.index = index
        self.ours, self.peer = ours, Peer(peer)
        self.peer_sent = bytearray()        # by the peer, in order
        self.program_got = bytearray()      # by the program's reader
        self.program_sent = bytearray()     # handed to sock_sendall, in order
        self.closed = False
        self.got_at_close = None
        self.reader = None
        self.stop_reading = False
        self.sender = None
        self.errors = []

    def __repr__(self):
        return f"<connection {self.index}{' closed' if self.closed else ''}>"

    @property
    def reading(self):
        return self.reader is not None and not self.reader.done()


async def receive(loop, sock, kind, size):
    if kind == "recv":
        return await loop.sock_recv(sock, size)
    if kind == "recvfrom":
        data, _ = await loop.sock_recvfrom(sock, size)
        return data
    buf = bytearray(size)
    if kind == "recv_into":
        n = await loop.sock_recv_into(sock, buf)
    else:
        n, _ = await loop.sock_recvfrom_into(sock, buf)
    return bytes(buf[:n])


async def read_until_stopped(loop, conn, kinds, sizes):
    """The program's reader: receives until EOF; an interruption (a cancel
    while it is not stopping) makes it receive again at once."""
    calls = 0
    while True:
        kind, size = kinds[calls % len(kinds)], sizes[calls % len(sizes)]
        calls += 1
        try:
            data = await receive(loop, conn.ours, kind, size)
        except asyncio.CancelledError:
            if conn.stop_reading:
                raise
            continue
        except OSError as exc:
            if not conn.closed:
                conn.errors.append(f"{kind}: {exc!r}")
            return
        except Exception as exc:
            conn.errors.append(f"{kind}: {exc!r}")
            return
        if not isinstance(data, bytes):
            conn.errors.append(f"{kind} returned {data!r}")
            return
        if not data:
            return
        conn.program_got += data


class SocketModel(RuleBasedStateMachine):
    loop_name = None        # set per loop by the test below

    def __init__(self):
        super().__init__()
        self.loop = FACTORIES[self.loop_name]()
        self.handler_calls = []
        self.loop.set_exception_handler(lambda loop, context: self.handler_calls.append(context))
        self.connections = []

    def teardown(self):
        try:
            for conn in self.connections:
                conn.stop_reading = True
                for task in (conn.reader, conn.sender):
                    if task is not None:
                        task.cancel()
            self.run(asyncio.sleep(0.01))
        finally:
            for conn in self.connections:
                conn.ours.close()
                conn.peer.close()
            self.loop.close()

    # -- driving the loop -------------------------------------------------

    def run(self, coro):
        return run_on(self.loop, coro)

    def observations(self):
        for conn in self.connections:
            conn.peer.read_available()
        return [(len(c.program_got), len(c.peer.got), c.peer.eof, len(c.errors),
                 c.reading) for c in self.connections]

    def settle(self):
        """Runs the loop until nothing observable changes any more."""
        self.run(until_quiet(self.observations))

    def new_connection(self):
        ours, peer = socket.socketpair()
        ours.setblocking(False)
        conn = Connection(len(self.connections), ours, peer)
        self.connections.append(conn)
        return conn

    def open_connections(self):
        return [c for c in self.connections if not c.closed]

    # -- rules ------------------------------------------------------------

    @rule()
    def time_passes(self):
        self.settle()

    @precondition(lambda self: len(self.connections) < MAX_CONNECTIONS)
    @rule()
    def connect(self):
        self.new_connection()

    @precondition(lambda self: self.open_connections())
    @rule(data=st.data(), n=st.integers(1, 40))
    def peer_sends(self, data, n):
        conn = data.draw(st.sampled_from(self.open_connections()))
        chunk = stream_bytes(2 * conn.index, len(conn.peer_sent), n)
        conn.peer_sent += conn.peer.send(chunk)
        self.settle()

    @precondition(lambda self: any(not c.reading for c in self.open_connections()))
    @rule(data=st.data(),
          kinds=st.lists(st.sampled_from(RECEIVE_KINDS), min_size=1, max_size=4),
          sizes=st.lists(st.integers(1, 50), min_size=1, max_size=4))
    def start_reader(self, data, kinds, sizes):
        conn = data.draw(st.sampled_from([c for c in self.open_connections()
                                          if not c.reading]))
        conn.stop_reading = False
        conn.reader = self.loop.create_task(read_until_stopped(self.loop, conn, kinds, sizes))
        self.settle()

    @precondition(lambda self: any(c.reading for c in self.open_connections()))
    @rule(data=st.data())
    def stop_reader(self, data):
        conn = data.draw(st.sampled_from([c for c in self.open_connections() if c.reading]))
        conn.stop_reading = True
        conn.reader.cancel()
        self.settle()

    @precondition(lambda self: any(c.reading for c in self.open_connections()))
    @rule(data=st.data(), n=st.integers(0, 20))
    def peer_sends_as_reader_is_interrupted(self, data, n):
        """The peer's bytes arrive as the pending receive is cancelled; the
        reader receives again in the same step (as code under
        asyncio.timeout() does)."""
        conn = data.draw(st.sampled_from([c for c in self.open_connections() if c.reading]))
        chunk = stream_bytes(2 * conn.index, len(conn.peer_sent), n)
        if chunk:
            conn.peer_sent += conn.peer.send(chunk)
        conn.reader.cancel()
        self.settle()

    @precondition(lambda self: any(c.sender is None or c.sender.done()
                                   for c in self.open_connections()))
    @rule(data=st.data(), n=st.integers(1, 200))
    def program_sends(self, data, n):
        conn = data.draw(st.sampled_from([c for c in self.open_connections()
                                          if c.sender is None or c.sender.done()]))
        chunk = stream_bytes(2 * conn.index + 1, len(conn.program_sent), n)
        conn.program_sent += chunk
        conn.sender = self.loop.create_task(self.loop.sock_sendall(conn.ours, chunk))
        self.settle()
        assert conn.sender.done(), "sock_sendall of a few bytes never finished"
        assert conn.sender.exception() is None, conn.sender.exception()

    @precondition(lambda self: any(not c.reading for c in self.open_connections()))
    @rule(data=st.data())
    def receive_nothing(self, data):
        conn = data.draw(st.sampled_from([c for c in self.open_connections()
                                          if not c.reading]))
        try:
            got = self.run(asyncio.wait_for(self.loop.sock_recv(conn.ours, 0), 1))
        except TimeoutError:
            got = "no answer within 1 s"
        assert got == b"", f"sock_recv(sock, 0) gave {got!r}"

    @precondition(lambda self: self.open_connections())
    @rule(data=st.data())
    def close(self, data):
        """Closes our socket, with whatever requests are in flight on it."""
        conn = data.draw(st.sampled_from(self.open_connections()))
        self.close_ours(conn)
        self.settle()
        self.check_closed_connection(conn)
        self.retire_reader(conn)

    @precondition(lambda self: self.open_connections()
                  and len(self.connections) < MAX_CONNECTIONS)
    @rule(data=st.data(), send=st.integers(0, 100), new_peer_sends=st.integers(0, 30))
    def close_and_reuse_the_fd(self, data, send, new_peer_sends):
        """In one step: start a send, close the socket, open a connection that
        gets the same fd number (its peer may send at once)."""
        conn = data.draw(st.sampled_from(self.open_connections()))
        fd = conn.ours.fileno()

        async def race():
            if send and (conn.sender is None or conn.sender.done()):
                chunk = stream_bytes(2 * conn.index + 1, len(conn.program_sent), send)
                conn.program_sent += chunk
                conn.sender = self.loop.create_task(self.loop.sock_sendall(conn.ours, chunk))
                await asyncio.sleep(0)      # the send's first step ran
            self.close_ours(conn)
            new = self.new_connection()
            if new.ours.fileno() != fd and new.peer.sock.fileno() == fd:
                new.ours, new.peer = new.peer.sock, Peer(new.ours)
            if new_peer_sends:
                chunk = stream_bytes(2 * new.index, 0, new_peer_sends)
                new.peer_sent += new.peer.send(chunk)
        self.run(race())
        self.settle()
        self.check_closed_connection(conn)
        self.retire_reader(conn)

    # -- helpers for closing -------------------------------------------------

    def close_ours(self, conn):
        conn.closed = True
        conn.got_at_close = len(conn.program_got)
        conn.ours.close()

    def check_closed_connection(self, conn):
        assert conn.peer.eof, f"connection {conn.index}: the peer never saw EOF after close()"
        try:
            conn.peer.sock.send(b"late")
        except OSError:
            pass
        self.settle()
        assert len(conn.program_got) == conn.got_at_close, \
            f"connection {conn.index}: a closed socket still received data"

    def retire_reader(self, conn):
        """A reader left on a closed socket is cancelled by the program (as
        asyncio requires before its fd can be used again)."""
        if conn.reader is not None and not conn.reader.done():
            conn.stop_reading = True
            conn.reader.cancel()
            self.settle()

    # -- what every step must leave true --------------------------------------

    @invariant()
    def every_connection_sees_only_its_own_bytes_in_order(self):
        for conn in self.connections:
            assert not conn.errors, f"connection {conn.index}: {conn.errors}"
            assert bytes(conn.program_got) == bytes(conn.peer_sent[:len(conn.program_got)]), \
                f"connection {conn.index}: the reader got bytes its peer did not send there"
            assert bytes(conn.peer.got) == bytes(conn.program_sent[:len(conn.peer.got)]), \
                f"connection {conn.index}: its peer got bytes the program did not send there"

    @invariant()
    def a_running_reader_has_everything_sent_to_it(self):
        for conn in self.open_connections():
            if conn.reading:
                assert len(conn.program_got) == len(conn.peer_sent), \
                    f"connection {conn.index}: {len(conn.peer_sent) - len(conn.program_got)} " \
                    "bytes sent by the peer never reached the running reader"

    @invariant()
    def every_finished_send_reached_the_peer(self):
        for conn in self.open_connections():
            if conn.sender is not None and conn.sender.done():
                assert len(conn.peer.got) == len(conn.program_sent), \
                    f"connection {conn.index}: sent bytes never reached the peer"

    @invariant()
    def no_exception_handler_calls(self):
        assert not self.handler_calls, self.handler_calls


# Shrinking a failing run replays it hundreds of times, each waiting for the
# loop to settle: minutes. Ask for it when debugging a failure.
PHASES = (tuple(Phase) if os.environ.get("AIOURING_MODEL_SHRINK")
          else (Phase.explicit, Phase.reuse, Phase.generate))


def test_socket_operations_match_the_model(loop_name):
    machine = type(f"SocketModel_{loop_name}", (SocketModel,), {"loop_name": loop_name})
    run_state_machine_as_test(machine, settings=settings(
        max_examples=25, stateful_step_count=12, deadline=None, phases=PHASES))

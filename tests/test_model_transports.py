"""Model-based test of stream transports: Hypothesis drives random sequences
of write, writelines, pause_reading, resume_reading, write_eof, close and
abort on a transport, and of sends, half-closes and protocol exceptions from
its live peer, on asyncio's loop and on aiouring's (on both of aiouring's
receive paths), and checks after every step what the protocol and the peer
observed against what a correct loop must show:

- the protocol got exactly the peer's bytes, in order, none while paused;
- the peer got exactly the written bytes, in order, and EOF after write_eof,
  close or abort (an abort after writes the socket took loses none of them);
- a write into an idle transport leaves nothing buffered;
- an exception escaping data_received does not stop the receiving;
- a write followed at once by close() or abort() still reaches the peer;
- every protocol callback runs in the context the transport was created in.

A failing run is not shrunk (each replay waits for the loop to settle): set
AIOURING_MODEL_SHRINK=1 to get the smallest failing sequence."""

import asyncio
import contextvars
import os
import socket

import pytest
from hypothesis import Phase, settings, strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, invariant, precondition, rule,
                                 run_state_machine_as_test)

from conftest import FACTORIES
from model_support import Peer, run_on, until_quiet

pytestmark = pytest.mark.timeout(300)

origin = contextvars.ContextVar("origin", default="loop's context")

PHASES = (tuple(Phase) if os.environ.get("AIOURING_MODEL_SHRINK")
          else (Phase.explicit, Phase.reuse, Phase.generate))


def counted(start, n):
    return bytes((start + i) % 251 for i in range(n))


class ModelProtocol(asyncio.Protocol):
    def __init__(self):
        self.got = bytearray()
        self.eof = False
        self.lost = 0
        self.contexts = {}
        self.interrupt_next = False

    def saw(self, callback):
        self.contexts.setdefault(callback, set()).add(origin.get())

    def connection_made(self, transport):
        self.saw("connection_made")

    def data_received(self, data):
        self.saw("data_received")
        self.got += data
        if self.interrupt_next:
            self.interrupt_next = False
            raise KeyboardInterrupt

    def eof_received(self):
        self.saw("eof_received")
        self.eof = True
        return True             # stay open for writing

    def connection_lost(self, exc):
        self.saw("connection_lost")
        self.lost += 1

    def pause_writing(self):
        self.saw("pause_writing")

    def resume_writing(self):
        self.saw("resume_writing")


class TransportModel(RuleBasedStateMachine):
    loop_name = None
    receive_path = None

    def __init__(self):
        super().__init__()
        self.loop = FACTORIES[self.loop_name]()
        self.handler_calls = []
        self.loop.set_exception_handler(lambda loop, context: self.handler_calls.append(context))
        if self.receive_path is not None:
            self.loop._use_buffer_ring(self.receive_path == "multishot")
        ours, peer = socket.socketpair()
        self.peer = Peer(peer)

        async def create():
            origin.set("creator")
            # The program drives its transport from the creator's context
            # too: asyncio's transports arm their callbacks in the caller's.
            self.creators_context = contextvars.copy_context()
            return await self.loop.create_connection(ModelProtocol, sock=ours)
        self.transport, self.protocol = self.run(create())
        self.written = bytearray()
        self.peer_sent = bytearray()
        self.peer_shut = False
        self.paused = False
        self.got_at_pause = 0
        self.eof_written = False
        self.ended = None           # "close" or "abort"

    def call(self, method, *args):
        """transport.method(*args), called from the creator's context."""
        return self.creators_context.run(getattr(self.transport, method), *args)

    def teardown(self):
        try:
            self.call("abort")
            self.settle()
        finally:
            self.peer.close()
            self.loop.close()

    def run(self, coro):
        return run_on(self.loop, coro)

    def observations(self):
        self.peer.read_available()
        return (len(self.protocol.got), self.protocol.eof, self.protocol.lost,
                len(self.peer.got), self.peer.eof)

    def settle(self):
        """Runs the loop until nothing observable changes any more; an exit
        exception from protocol code (a planned one) is let through first."""
        for _ in range(3):
            waiter = self.loop.create_task(until_quiet(self.observations))
            try:
                self.run(waiter)
                return
            except KeyboardInterrupt:
                waiter.cancel()
                self.run(asyncio.sleep(0))

    @property
    def writable(self):
        return self.ended is None and not self.eof_written

    # -- rules ------------------------------------------------------------

    @rule()
    def time_passes(self):
        self.settle()

    @precondition(lambda self: self.writable)
    @rule(n=st.integers(1, 3000))
    def write(self, n):
        idle = self.call("get_write_buffer_size") == 0
        chunk = counted(len(self.written), n)
        self.written += chunk
        self.call("write", chunk)
        if idle:
            assert self.call("get_write_buffer_size") == 0, \
                "bytes a write into an idle transport left buffered"
        self.settle()

    @precondition(lambda self: self.writable)
    @rule(sizes=st.lists(st.integers(0, 500), max_size=5))
    def writelines(self, sizes):
        chunks = []
        for n in sizes:
            chunks.append(counted(len(self.written), n))
            self.written += chunks[-1]
        self.call("writelines", chunks)
        self.settle()

    @precondition(lambda self: not self.peer_shut and not self.peer.eof)
    @rule(n=st.integers(1, 3000))
    def peer_sends(self, n):
        chunk = counted(len(self.peer_sent), n)
        self.peer_sent += self.peer.send(chunk)
        self.settle()

    @precondition(lambda self: not self.peer_shut and not self.peer.eof
                  and self.ended is None and not self.paused)
    @rule(n=st.integers(1, 100))
    def peer_sends_and_data_received_raises(self, n):
        self.protocol.interrupt_next = True
        self.peer_sends(n)
        self.protocol.interrupt_next = False

    @precondition(lambda self: not self.peer_shut)
    @rule()
    def peer_half_closes(self):
        self.peer.sock.shutdown(socket.SHUT_WR)
        self.peer_shut = True
        self.settle()

    @precondition(lambda self: self.ended is None and not self.paused)
    @rule()
    def pause_reading(self):
        self.call("pause_reading")
        self.paused = True
        self.got_at_pause = len(self.protocol.got)
        self.settle()

    @precondition(lambda self: self.ended is None and self.paused)
    @rule()
    def resume_reading(self):
        self.call("resume_reading")
        self.paused = False
        self.settle()

    @precondition(lambda self: self.writable)
    @rule()
    def write_eof(self):
        self.call("write_eof")
        self.eof_written = True
        self.settle()

    @precondition(lambda self: self.ended is None)
    @rule(how=st.sampled_from(["close", "abort"]))
    def end(self, how):
        self.call(how)
        self.ended = how
        self.settle()

    @precondition(lambda self: self.writable)
    @rule(n=st.integers(1, 3000), how=st.sampled_from(["close", "abort"]))
    def write_and_end_at_once(self, n, how):
        chunk = counted(len(self.written), n)
        self.written += chunk
        self.call("write", chunk)
        self.call(how)
        self.ended = how
        self.settle()

    # -- what every step must leave true --------------------------------------

    @invariant()
    def protocol_got_the_peers_bytes(self):
        got = bytes(self.protocol.got)
        assert got == bytes(self.peer_sent[:len(got)]), "the protocol got bytes out of order"
        if self.paused:
            assert len(got) == self.got_at_pause, "data_received() ran while paused"
        elif self.ended is None:
            assert len(got) == len(self.peer_sent), \
                f"{len(self.peer_sent) - len(got)} bytes never reached the protocol"
            assert self.protocol.eof == self.peer_shut, "eof_received() missing"

    @invariant()
    def peer_got_the_written_bytes(self):
        got = bytes(self.peer.got)
        assert got == bytes(self.written[:len(got)]), "the peer got bytes out of order"
        assert len(got) == len(self.written), \
            f"{len(self.written) - len(got)} written bytes never reached the peer"
        if self.eof_written or self.ended:
            assert self.peer.eof, "the peer never saw EOF"

    @invariant()
    def connection_lost_once_after_the_end(self):
        assert self.protocol.lost == (1 if self.ended else 0)

    @invariant()
    def callbacks_ran_in_the_creators_context(self):
        wrong = {name: values for name, values in self.protocol.contexts.items()
                 if values != {"creator"}}
        assert not wrong, f"callbacks outside the transport's context: {wrong}"

    @invariant()
    def no_exception_handler_calls(self):
        assert not self.handler_calls, self.handler_calls


MODEL_DEFECTS = (
    "transport model: writes wait for the next iteration (buffer size, abort), "
    "callbacks run outside the transport's context, and on the single-shot "
    "path an exception from data_received stops the receiving")


@pytest.mark.parametrize("loop_name, receive_path", [
    ("asyncio", None),
    pytest.param("aiouring", "multishot", marks=pytest.mark.aiouring_defect(MODEL_DEFECTS)),
    pytest.param("aiouring", "single-shot", marks=pytest.mark.aiouring_defect(MODEL_DEFECTS)),
])
def test_stream_transport_matches_the_model(loop_name, receive_path):
    machine = type(f"TransportModel_{loop_name}_{receive_path}", (TransportModel,),
                   {"loop_name": loop_name, "receive_path": receive_path})
    run_state_machine_as_test(machine, settings=settings(
        max_examples=25, stateful_step_count=12, deadline=None, phases=PHASES))

"""The loop under injected faults: a seeded fraction of its requests fail
before the kernel runs them (EIO, ECONNRESET, EAGAIN, ENOBUFS, ECANCELED,
where each is truthful) or move fewer bytes than asked (short reads and
writes), through the ring's fault injector (Ring.inject_faults). Every
workload — stream, datagram, pipe and TLS echo, sock_* calls, file copies,
linked chains, chain programs — must deliver every byte exactly once and in
order or end with a clean exception (never hang, never corrupt), leave no
descriptor or memory behind over its rounds, and leave the loop usable:
the same workload without faults afterwards completes in full."""

import array
import asyncio
import contextlib
import gc
import os
import random
import socket
import sys

import pytest

import aiouring
import aiouring.bpf as bpf
from aiouring import ops
from aiouring._ring import FAULT_NAMES

# Each workload must end within this; a hang is a failure, not a fault.
WORKLOAD_TIMEOUT = 30.0
ROUNDS = 4
SEEDS = (1, 2, 3)


def open_fds():
    return len(os.listdir("/proc/self/fd"))


class Run:
    """A workload run for ROUNDS rounds on one aiouring loop with faults
    injected, then once without: what it delivered and what it cost. What
    the run keeps between rounds has a fixed size, so the memory it samples
    is the loop's."""

    def __init__(self, workload, seed, rate, kinds, timeout=WORKLOAD_TIMEOUT):
        self.timeout = timeout
        self.total = Tally()
        self.counts = dict.fromkeys(FAULT_NAMES, 0)
        self.fds = array.array("q", [0] * ROUNDS)
        self.blocks = array.array("q", [0] * ROUNDS)
        self.handler_calls = []
        loop = aiouring.new_event_loop()
        loop.set_exception_handler(lambda _loop, context: self.handler_calls.append(context))
        try:
            for number in range(ROUNDS):
                injector = loop._ring.inject_faults(seed * 1000 + number, rate, kinds)
                self.total.merge(self.run(loop, workload, f"round {number}", injector))
                loop._ring.inject_faults(None)
                for name, count in injector.counts.items():
                    self.counts[name] += count
                del injector
                gc.collect()
                self.fds[number] = open_fds()
                self.blocks[number] = sys.getallocatedblocks()
            self.clean = self.run(loop, workload, "the run without faults", None)
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def run(self, loop, workload, what, injector):
        try:
            return loop.run_until_complete(asyncio.wait_for(workload(loop), self.timeout))
        except TimeoutError:
            raise AssertionError(f"{workload.__name__} hung in {what} ({injector!r})") from None

    def check(self, block_slack=100):
        """Faults were injected; no descriptor and no memory growth after
        the first two rounds (caches fill on the first error paths taken;
        a leak per request would show as hundreds of blocks a round); the
        clean run delivered everything; errors nobody
        waited for (a write failing after close()) were reported to the
        exception handler as OSErrors, and only those."""
        assert sum(self.counts.values()) > 0, "no fault was injected"
        assert self.clean.failed == 0, f"the loop is not usable after faults: {self.clean}"
        assert max(self.fds[1:]) <= self.fds[0], f"descriptors leaked: {list(self.fds)}"
        assert self.blocks[-1] - self.blocks[1] < block_slack, (
            f"memory grew: {list(self.blocks)} allocated blocks after each round")
        unexpected = [c for c in self.handler_calls
                      if not isinstance(c.get("exception"), OSError)]
        assert not unexpected, f"the exception handler got more than I/O errors: {unexpected}"
        assert not self.total.silent or self.handler_calls, (
            f"{self.total.silent} transfer(s) ended early with no exception and no report")


class Tally:
    """Transfers that completed in full and that ended with an exception."""

    def __init__(self):
        self.complete = self.failed = self.silent = 0
        self.errors = set()

    def add(self, complete, error=None):
        """complete: everything arrived; else error is the exception that
        ended the transfer (None: it ended early without one)."""
        if complete:
            self.complete += 1
        else:
            self.failed += 1
            if error is None:
                self.silent += 1
            else:
                self.errors.add(type(error).__name__)

    def merge(self, other):
        self.complete += other.complete
        self.failed += other.failed
        self.silent += other.silent
        self.errors |= other.errors

    def explain_silent(self, peer_errors):
        """Transfers that ended early without an exception on this side are
        explained by as many exceptions on the other side (which closed)."""
        assert self.silent <= len(peer_errors), (
            f"{self.silent} transfer(s) ended early with no exception on either side")
        self.errors.update(type(error).__name__ for error in peer_errors)
        self.silent = 0

    def __repr__(self):
        return (f"Tally(complete={self.complete}, failed={self.failed}, "
                f"silent={self.silent}, errors={self.errors})")


def payload(seed, size):
    return random.Random(seed).randbytes(size)


def delivered(sent, got):
    """Every byte received exactly once and in order: got is a prefix."""
    assert sent[:len(got)] == got, (
        f"received bytes differ from those sent ({len(got)} of {len(sent)} received)")
    return len(got) == len(sent)


# -- streams (TCP, TLS) ------------------------------------------------------

def echo_handler(server_errors):
    async def echo(reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError as exc:
            server_errors.append(exc)       # the client then sees an early end
        finally:
            writer.close()
    return echo


async def stream_round_trip(port, data, ssl=None):
    """Sends data to the echo server and reads it back; returns what came
    back and the exception that ended the exchange early, if any."""
    got = bytearray()
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=ssl, server_hostname="localhost" if ssl else None)
    except OSError as exc:
        return got, exc
    error = None

    async def send():
        for start in range(0, len(data), 16384):
            writer.write(data[start:start + 16384])
            await writer.drain()

    sender = asyncio.ensure_future(send())
    try:
        while len(got) < len(data):
            chunk = await reader.read(65536)
            if not chunk:
                break
            got += chunk
        await sender
    except OSError as exc:
        error = exc
    finally:
        sender.cancel()
        with contextlib.suppress(BaseException):
            await sender
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return bytes(got), error


def stream_echo(connections=6, size=200_000, tls=None):
    async def stream_echo(loop):
        server_ssl, client_ssl = tls or (None, None)
        server_errors = []
        server = await asyncio.start_server(echo_handler(server_errors), "127.0.0.1", 0,
                                            ssl=server_ssl)
        port = server.sockets[0].getsockname()[1]
        tally = Tally()
        sent = [payload(i, size) for i in range(connections)]
        results = await asyncio.gather(*(stream_round_trip(port, data, client_ssl)
                                         for data in sent))
        for data, (got, error) in zip(sent, results):
            tally.add(delivered(data, got), error)
        server.close()
        await server.wait_closed()
        tally.explain_silent(server_errors)
        return tally
    return stream_echo


# Stream transports drop a send the kernel cancelled (see the test below):
# the echo tests leave that fault out until they are fixed.
STREAM_FAULTS = ("eio", "econnreset", "eagain", "enobufs", "short_read", "short_write")


@pytest.mark.parametrize("seed", SEEDS)
def test_stream_echo_under_faults(seed):
    Run(stream_echo(), seed, 0.1, STREAM_FAULTS).check()


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_tls_echo_under_faults(seed, tls_contexts):
    Run(stream_echo(connections=4, size=100_000, tls=tls_contexts), seed, 0.1,
        STREAM_FAULTS).check()


def test_stream_echo_when_the_kernel_cancels_requests():
    """Sends, receives and the server's multishot accept that the kernel ends
    with ECANCELED (not cancelled by the loop) are resubmitted."""
    Run(stream_echo(), 1, 0.2, ("ecanceled",), timeout=5).check()


# -- datagrams ---------------------------------------------------------------

class DatagramEcho(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.transport.sendto(data, addr)

    def error_received(self, exc):
        pass


class DatagramCollector(asyncio.DatagramProtocol):
    def __init__(self):
        self.received = {}
        self.arrived = None

    def datagram_received(self, data, addr):
        self.received.setdefault(int.from_bytes(data[:4], "big"), []).append(data)
        if self.arrived is not None and not self.arrived.done():
            self.arrived.set_result(None)

    def error_received(self, exc):
        pass

    async def wait(self, number, timeout):
        while number not in self.received:
            self.arrived = asyncio.get_running_loop().create_future()
            await asyncio.wait_for(self.arrived, timeout)


def datagram(number):
    return number.to_bytes(4, "big") + payload(number, 1200)


async def datagram_echo(loop, count=40, attempts=4):
    """Each datagram is sent until its echo comes back (at most attempts
    times): what arrives is intact and no more copies than were sent; once
    faults stop, the same endpoints still echo."""
    tally = Tally()
    server, _ = await loop.create_datagram_endpoint(DatagramEcho, local_addr=("127.0.0.1", 0))
    try:
        client, collector = await loop.create_datagram_endpoint(
            DatagramCollector, remote_addr=server.get_extra_info("sockname"))
    except OSError as exc:          # its connect(2) failed
        server.close()
        tally.add(False, exc)
        return tally
    sends = {}
    try:
        for number in range(count + 1):
            if number == count:
                loop._ring.inject_faults(None)      # the last one without faults
            for _ in range(attempts):
                client.sendto(datagram(number))
                sends[number] = sends.get(number, 0) + 1
                try:
                    await collector.wait(number, 0.1)
                    break
                except TimeoutError:
                    pass
            tally.add(number in collector.received)
        for number, copies in collector.received.items():
            assert all(copy == datagram(number) for copy in copies), "a datagram changed"
            assert len(copies) <= sends[number], "a datagram arrived more often than sent"
        assert count in collector.received, "the endpoints stopped echoing after faults"
    finally:
        client.close()
        server.close()
    return tally


@pytest.mark.parametrize("seed", SEEDS)
def test_datagram_echo_under_faults(seed):
    Run(datagram_echo, seed, 0.1, None).check()


# -- pipes (a subprocess) ----------------------------------------------------

async def pipe_echo(loop, size=1_000_000):
    """Bytes through `cat` over the subprocess's stdin and stdout pipes."""
    data = payload(size, size)
    tally = Tally()
    proc = await asyncio.create_subprocess_exec(
        "cat", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)

    async def feed():
        for start in range(0, size, 32768):
            proc.stdin.write(data[start:start + 32768])
            await proc.stdin.drain()
        proc.stdin.close()

    feeder = asyncio.ensure_future(feed())
    got = bytearray()
    error = None
    try:
        while chunk := await proc.stdout.read(65536):
            got += chunk
    except OSError as exc:
        error = exc
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    try:
        await feeder
    except OSError as exc:
        error = error or exc
    await proc.wait()
    tally.add(delivered(data, bytes(got)), error)
    return tally


@pytest.mark.parametrize("seed", SEEDS)
def test_pipe_echo_under_faults(seed):
    Run(pipe_echo, seed, 0.1, None).check()


# -- sock_* calls -----------------------------------------------------------

async def sock_echo(loop, size=200_000):
    """sock_sendall one way, sock_recv/sock_recv_into and sock_sendall back
    (an echo through a socket pair); on any error both sockets are closed,
    which must end every call still waiting on them."""
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    data = payload(size + 1, size)
    got = bytearray()
    errors = []

    async def guarded(coro):
        try:
            await coro
        except OSError as exc:
            errors.append(exc)
            a.close()
            b.close()

    async def send():
        for start in range(0, size, 50_000):
            await loop.sock_sendall(a, data[start:start + 50_000])

    async def echo():
        buffer = bytearray(32768)
        while True:
            n = await loop.sock_recv_into(b, buffer)
            if not n:
                return
            await loop.sock_sendall(b, buffer[:n])

    async def receive():
        while len(got) < size:
            chunk = await loop.sock_recv(a, 65536)
            if not chunk:
                return
            got.extend(chunk)
        a.close()
        b.close()

    tasks = [asyncio.ensure_future(guarded(c)) for c in (send(), echo(), receive())]
    await asyncio.gather(*tasks)
    a.close()
    b.close()
    tally = Tally()
    tally.add(delivered(data, bytes(got)), errors[0] if errors else None)
    return tally


@pytest.mark.parametrize("seed", SEEDS)
def test_sock_calls_under_faults(seed):
    Run(sock_echo, seed, 0.1, None).check()


# -- files ------------------------------------------------------------------

@pytest.fixture
def source_file(tmp_path):
    data = payload(99, 1 << 20)
    path = tmp_path / "source.bin"
    path.write_bytes(data)
    return path, data


def file_copy(source, copies=3):
    path, data = source

    async def file_copy(loop):
        tally = Tally()
        target = path.with_name("copy.bin")
        for _ in range(copies):
            error = None
            try:
                async with aiouring.open(path, "rb") as fin, aiouring.open(target, "wb") as fout:
                    while chunk := await fin.read(65536):
                        await fout.write(chunk)
            except OSError as exc:
                error = exc
            copied = target.read_bytes()
            if error is None:
                assert copied == data, "a copy that raised nothing differs from its source"
            tally.add(copied == data, error)
            # The splice pump: chains of two SPLICEs through a pipe.
            await copy_between_files(tally, source, target, lambda fin, fout:
                                     aiouring.fs.sendfile(fout, fin, 0, len(data)))
        return tally
    return file_copy


async def copy_between_files(tally, source, target, copy):
    """copy(fin, fout) from the source file to target: what target holds
    must be a prefix of the source, all of it unless an exception ended it."""
    path, data = source
    error = None
    with open(path, "rb") as fin, open(target, "wb") as fout:
        try:
            assert await copy(fin, fout) == len(data)
        except OSError as exc:
            error = exc
    tally.add(delivered(data, target.read_bytes()), error)


@pytest.mark.parametrize("seed", SEEDS)
def test_file_copy_under_faults(seed, source_file):
    Run(file_copy(source_file), seed, 0.1, None).check()


# -- linked chains ----------------------------------------------------------

def chains(source, count=30):
    path, data = source

    async def chains(loop):
        """open (direct) -> read -> close, and open -> write -> fsync ->
        close, as linked chains; a failed step fails the chain with a
        ChainError and the direct descriptor it opened is closed."""
        tally = Tally()
        target = path.with_name("chain-out.bin")
        for number in range(count):
            buffer = ops.buffer(65536)
            offset = (number * 65536) % len(data)
            opened = ops.openat(path, direct=True)
            try:
                _, nread, _ = await aiouring.chain(opened, ops.read(opened, buffer, offset),
                                                   ops.close(opened))
                assert bytes(memoryview(buffer)[:nread]) == data[offset:offset + nread]
                tally.add(nread == 65536)
            except OSError as exc:
                tally.add(False, exc)
            written = ops.openat(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, direct=True)
            try:
                _, nwritten, _, _ = await aiouring.chain(
                    written, ops.write(written, data[:65536], 0), ops.fsync(written),
                    ops.close(written))
                assert target.read_bytes()[:nwritten] == data[:nwritten]
                tally.add(nwritten == 65536)
            except OSError as exc:
                tally.add(False, exc)
        for _ in range(100):
            if loop._link_stats()["direct_descriptors"] == 0:
                break
            await asyncio.sleep(0.01)
        assert loop._link_stats()["direct_descriptors"] == 0, "direct descriptors leaked"
        return tally
    return chains


@pytest.mark.parametrize("seed", SEEDS)
def test_linked_chains_under_faults(seed, source_file):
    Run(chains(source_file), seed, 0.1, None).check()


# -- chain programs (loop-side on this kernel) -------------------------------

def program_copy(source, copies=3):
    path, _ = source

    async def program_copy(loop):
        tally = Tally()
        target = path.with_name("program-copy.bin")
        for _ in range(copies):
            await copy_between_files(tally, source, target, lambda fin, fout:
                                     bpf.copy(fin, fout, chunk=65536))
        return tally
    return program_copy


@pytest.mark.parametrize("seed", SEEDS)
def test_chain_program_copy_under_faults(seed, source_file):
    Run(program_copy(source_file), seed, 0.1, None).check()

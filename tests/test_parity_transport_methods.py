"""Every transport aiouring hands out has the whole public method set of its
asyncio counterpart, and each method answers as asyncio's does (same kind of
result, same exception): code that treats transports uniformly calls them
all. Each case builds the same transport on asyncio's loop and on aiouring's
and calls every method on both, in the same order."""

import asyncio
import os
import socket
import sys
from asyncio import selector_events, unix_events

import pytest

import aiouring

pytestmark = pytest.mark.timeout(60)

# Calls that end a transport: each is made on a transport of its own.
FINAL_CALLS = ["write_eof", "close", "abort"]


def public_methods(cls):
    return {name for name in dir(cls)
            if not name.startswith("_") and callable(getattr(cls, name, None))}


def arguments(name, protocol):
    return {
        "get_extra_info": ("peername",),
        "set_protocol": (protocol,),
        "write": (b"x",),
        "writelines": ([b"x", b"y"],),
        "sendto": (b"x",),
    }.get(name, ())


def outcome(call):
    try:
        result = call()
    except Exception as exc:
        return "raises", type(exc).__name__
    return "returns", type(result).__name__


async def stream_transport(loop):
    a, b = socket.socketpair()
    transport, protocol = await loop.create_connection(asyncio.Protocol, sock=a)
    return transport, protocol, b.close


async def datagram_transport(loop):
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    transport, protocol = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, remote_addr=peer.getsockname())
    return transport, protocol, peer.close


async def read_pipe_transport(loop):
    r, w = os.pipe()
    transport, protocol = await loop.connect_read_pipe(asyncio.Protocol,
                                                       os.fdopen(r, "rb", buffering=0))
    return transport, protocol, lambda: os.close(w)


async def write_pipe_transport(loop):
    r, w = os.pipe()
    transport, protocol = await loop.connect_write_pipe(asyncio.Protocol,
                                                        os.fdopen(w, "wb", buffering=0))
    return transport, protocol, lambda: os.close(r)


async def subprocess_transport(loop):
    transport, protocol = await loop.subprocess_exec(
        asyncio.SubprocessProtocol, sys.executable, "-c", "import sys; sys.stdin.read()")
    return transport, protocol, lambda: None


KINDS = {
    "stream": (stream_transport, selector_events._SelectorSocketTransport),
    "datagram": (datagram_transport, selector_events._SelectorDatagramTransport),
    "read pipe": (read_pipe_transport, unix_events._UnixReadPipeTransport),
    "write pipe": (write_pipe_transport, unix_events._UnixWritePipeTransport),
    "subprocess": (subprocess_transport, unix_events._UnixSubprocessTransport),
}

MISSING_METHODS = {
    "write pipe": pytest.mark.aiouring_defect(
        "write pipe transport lacks methods: pause_reading, resume_reading and "
        "is_reading (asyncio's raise NotImplementedError), and writelines"),
    "datagram": pytest.mark.aiouring_defect(
        "datagram transport lacks methods: write, writelines, write_eof and "
        "can_write_eof (asyncio's raise NotImplementedError)"),
}


def kind_params():
    return [pytest.param(kind, marks=[MISSING_METHODS[kind]] if kind in MISSING_METHODS else [],
                         id=kind)
            for kind in KINDS]


def call_every_method(loop, make, methods):
    """Builds a transport on loop and calls each method on it; each call that
    ends a transport gets a fresh one. Their outcomes, by method name."""
    async def on_fresh_transport(names):
        transport, protocol, cleanup = await make(loop)
        outcomes = {}
        try:
            for name in names:
                method = getattr(transport, name, None)
                if method is None:
                    outcomes[name] = ("missing", None)
                    continue
                outcomes[name] = outcome(
                    lambda: method(*arguments(name, protocol)))  # noqa: B023 (called at once)
                await asyncio.sleep(0)
            await asyncio.sleep(0.05)
        finally:
            transport.close()
            cleanup()
        if hasattr(transport, "_wait"):
            await transport._wait()
        await asyncio.sleep(0.01)
        return outcomes

    async def exercise():
        outcomes = await on_fresh_transport(sorted(methods - set(FINAL_CALLS)))
        for name in FINAL_CALLS:
            if name in methods:
                outcomes.update(await on_fresh_transport([name]))
        return outcomes
    try:
        return loop.run_until_complete(exercise())
    finally:
        loop.close()


@pytest.mark.parametrize("kind", kind_params())
def test_transport_has_every_method_of_its_asyncio_counterpart(kind):
    make, counterpart = KINDS[kind]
    loop = aiouring.new_event_loop()
    try:
        transport, _, cleanup = loop.run_until_complete(make(loop))
        missing = public_methods(counterpart) - public_methods(type(transport))
        transport.close()
        cleanup()
        if hasattr(transport, "_wait"):
            loop.run_until_complete(transport._wait())
        loop.run_until_complete(asyncio.sleep(0.01))
    finally:
        loop.close()
    assert not missing, f"{kind} transport lacks {sorted(missing)}"


@pytest.mark.parametrize("kind", kind_params())
def test_transport_methods_answer_as_asyncios_do(kind):
    make, counterpart = KINDS[kind]
    methods = public_methods(counterpart)
    expected = call_every_method(asyncio.SelectorEventLoop(), make, methods)
    got = call_every_method(aiouring.new_event_loop(), make, methods)
    differ = {name: (expected[name], got[name]) for name in methods
              if expected[name] != got[name]}
    assert not differ, f"(asyncio, aiouring) outcomes differ: {differ}"


def test_server_has_every_method_of_asyncios():
    from asyncio.base_events import Server
    loop = aiouring.new_event_loop()
    try:
        server = loop.run_until_complete(loop.create_server(asyncio.Protocol, "127.0.0.1", 0))
        missing = public_methods(Server) - public_methods(type(server))
        server.close()
        loop.run_until_complete(server.wait_closed())
    finally:
        loop.close()
    assert not missing, f"the server lacks {sorted(missing)}"

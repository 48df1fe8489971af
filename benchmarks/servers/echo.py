"""Echo servers on the transport API, for the proto/buffered/streams echo
scenarios.

    python -m benchmarks.servers.echo --kind {protocol,buffered,streams}
                                      --loop NAME [--port P] [--max-seconds S]
                                      [--tls CERTFILE KEYFILE]

Listens on 127.0.0.1 (port 0 picks a free one), prints "ready PORT" once it
accepts, and stops by itself after --max-seconds so it can never linger.
"""
import argparse
import asyncio
import socket
import ssl

from .. import loops


class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


class EchoBufferedProtocol(asyncio.BufferedProtocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buffer = bytearray(256 * 1024)
        self.view = memoryview(self.buffer)

    def get_buffer(self, sizehint):
        return self.view

    def buffer_updated(self, nbytes):
        self.transport.write(self.view[:nbytes])


async def echo_stream(reader, writer):
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while data := await reader.read(256 * 1024):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass        # client went away mid-message
    writer.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--kind", default="protocol", choices=("protocol", "buffered", "streams"))
    p.add_argument("--loop", default="asyncio", choices=loops.NAMES)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--max-seconds", type=float, default=300)
    p.add_argument("--tls", nargs=2, metavar=("CERTFILE", "KEYFILE"),
                   help="serve TLS with this certificate and key")
    args = p.parse_args()
    ctx = None
    if args.tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(*args.tls)

    loop = loops.new_loop(args.loop)
    asyncio.set_event_loop(loop)
    if args.kind == "streams":
        coro = asyncio.start_server(echo_stream, "127.0.0.1", args.port, backlog=128,
                                    ssl=ctx)
    else:
        factory = EchoProtocol if args.kind == "protocol" else EchoBufferedProtocol
        coro = loop.create_server(factory, "127.0.0.1", args.port, backlog=128, ssl=ctx)
    server = loop.run_until_complete(coro)
    loops.serve_for(loop, args.max_seconds, server.sockets[0].getsockname()[1], server.close)


if __name__ == "__main__":
    main()

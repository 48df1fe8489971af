"""A minimal HTTP/1.1 keep-alive "hello" server on asyncio.Protocol, for the
http_hello scenario (driven by wrk).

    python -m benchmarks.servers.http_hello --loop NAME [--port P] [--max-seconds S]

Prints "ready PORT" once it accepts; stops by itself after --max-seconds.
"""
import argparse
import asyncio

from .. import loops

BODY = b"Hello, World!"
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY))


class HttpHello(asyncio.Protocol):
    """Answers every request (headers only; wrk sends GETs) with RESPONSE."""

    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""

    def data_received(self, data):
        buffer = self.buffer + data if self.buffer else data
        count = buffer.count(b"\r\n\r\n")
        if count:
            self.transport.write(RESPONSE * count)
            buffer = buffer[buffer.rindex(b"\r\n\r\n") + 4:]
        self.buffer = buffer


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--loop", default="asyncio", choices=loops.NAMES)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--max-seconds", type=float, default=300)
    args = p.parse_args()

    loop = loops.new_loop(args.loop)
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(
        loop.create_server(HttpHello, "127.0.0.1", args.port, backlog=1024))
    loops.serve_for(loop, args.max_seconds, server.sockets[0].getsockname()[1], server.close)


if __name__ == "__main__":
    main()

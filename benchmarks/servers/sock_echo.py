"""Echo server on the low-level loop.sock_* API, for the sock_echo scenario.

    python -m benchmarks.servers.sock_echo --loop NAME [--port P] [--max-seconds S]

Listens on 127.0.0.1 (port 0 picks a free one), prints "ready PORT" once it
accepts, and stops by itself after --max-seconds so it can never linger.
"""
import argparse
import asyncio
import socket

from .. import loops


async def handle(loop, conn):
    with conn:
        try:
            while data := await loop.sock_recv(conn, 65536):
                await loop.sock_sendall(conn, data)
        except OSError:
            pass  # client went away mid-message


async def serve(loop, lsock):
    tasks = set()  # strong refs so handler tasks aren't collected mid-run
    while True:
        conn, _ = await loop.sock_accept(lsock)
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        task = loop.create_task(handle(loop, conn))
        tasks.add(task)
        task.add_done_callback(tasks.discard)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--loop", default="asyncio", choices=loops.NAMES)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--max-seconds", type=float, default=300)
    args = p.parse_args()

    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", args.port))
    lsock.listen(128)
    lsock.setblocking(False)

    loop = loops.new_loop(args.loop)
    asyncio.set_event_loop(loop)
    loop.create_task(serve(loop, lsock))
    loops.serve_for(loop, args.max_seconds, lsock.getsockname()[1], lsock.close)


if __name__ == "__main__":
    main()

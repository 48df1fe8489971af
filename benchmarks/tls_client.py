"""Ping-pong TLS load generator for the tls_echo scenario.

    python -m benchmarks.tls_client HOST PORT CONNS MSG_SIZE WARMUP_S DURATION_S

Speaks the C echo client's protocol (benchmarks/echo_client.c) over TLS:
CONNS connections each send MSG_SIZE bytes and wait for all of them to come
back, then send again. Prints "start" when the measured window opens and
"done ECHOES SECONDS" when it closes, then exits. It always runs on asyncio's
own loop, so every server loop faces the same client.
"""
import asyncio
import os
import ssl
import sys
import time


def client_context():
    # The server's certificate is self-signed and made for this run only.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def main(host, port, conns, size, warmup, duration):
    ctx = client_context()
    msg = os.urandom(size)
    echoes = 0
    stop = False

    async def one():
        nonlocal echoes
        reader, writer = await asyncio.open_connection(host, port, ssl=ctx)
        try:
            while not stop:
                writer.write(msg)
                await reader.readexactly(size)
                echoes += 1
        finally:
            writer.transport.abort()

    tasks = [asyncio.create_task(one()) for _ in range(conns)]
    await asyncio.sleep(warmup)
    for t in tasks:
        if t.done():
            t.result()          # a connection failed: report it
    start, count0 = time.perf_counter(), echoes
    print("start", flush=True)
    await asyncio.sleep(duration)
    elapsed, count = time.perf_counter() - start, echoes - count0
    print("done", count, f"{elapsed:.6f}", flush=True)
    stop = True
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


if __name__ == "__main__":
    host, port, conns, size, warmup, duration = sys.argv[1:7]
    asyncio.run(main(host, int(port), int(conns), int(size), float(warmup), float(duration)))

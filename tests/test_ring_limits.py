"""More requests than the SQ holds, and more completions than the CQ holds,
in one loop iteration: nothing is refused and nothing is lost."""

import asyncio
import socket

import pytest


@pytest.mark.aiouring_only("asyncio keeps one pending sock_recv per socket")
@pytest.mark.parametrize("count", [3000, 10000])
async def test_more_requests_than_ring_entries(aloop, count):
    # count receives of one byte each wait on one socket (the SQ has 1024
    # entries, the CQ 4096), then count bytes arrive at once.
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    try:
        receives = [aloop.create_task(aloop.sock_recv(b, 1)) for _ in range(count)]
        await asyncio.sleep(0.05)
        payload = bytes(i % 251 for i in range(count))
        await aloop.sock_sendall(a, payload)
        results = await asyncio.wait_for(asyncio.gather(*receives), 30)
        assert all(len(r) == 1 for r in results)
        assert sorted(b"".join(results)) == sorted(payload)
    finally:
        a.close()
        b.close()

"""What the model-based tests (test_model_*.py) share: a peer that records
what it reads, and running a loop until nothing observable changes."""

import asyncio


class Peer:
    """The far end of a connection: a plain non-blocking socket whose reads
    are recorded (bytes in order, and whether EOF came)."""

    def __init__(self, sock):
        sock.setblocking(False)
        self.sock = sock
        self.got = bytearray()
        self.eof = False

    def read_available(self):
        while not self.eof:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return
            except OSError:         # reset: as good as EOF for the model
                self.eof = True
                return
            if not data:
                self.eof = True
                return
            self.got += data

    def send(self, data):
        """Sends what the socket takes at once; returns those bytes."""
        return data[:self.sock.send(data)]

    def close(self):
        self.sock.close()


def run_on(loop, coro):
    """loop.run_until_complete(coro) with loop as the current event loop."""
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(coro)
    finally:
        asyncio.set_event_loop(None)


async def until_quiet(observe, quiet_rounds=5, max_rounds=300):
    """Lets the loop run (1 ms at a time) until observe() has returned the
    same value quiet_rounds times in a row."""
    quiet, last = 0, None
    for _ in range(max_rounds):
        await asyncio.sleep(0.001)
        now = observe()
        quiet = quiet + 1 if now == last else 0
        last = now
        if quiet >= quiet_rounds:
            return

"""A linked chain: open, read and close a file as one IOSQE_IO_LINK chain
that resumes the coroutine once."""
import aiouring
from aiouring import ops


async def main() -> None:
    opened = ops.openat(__file__, direct=True)     # into the ring's file table
    buf = ops.buffer(64)
    results = await aiouring.chain(opened, ops.read(opened, buf), ops.close(opened))
    first_line = bytes(memoryview(buf)[:results[1]]).splitlines()[0]
    print(results[1], "bytes:", first_line.decode())


aiouring.run(main())

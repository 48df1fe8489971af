"""Async files: on aiouring's loop every call is an io_uring request (OPENAT,
READ, WRITE, ...); the same code runs on any other loop through its executor."""
import os
import tempfile

import aiouring


async def main() -> None:
    path = os.path.join(tempfile.mkdtemp(), "notes.txt")
    async with aiouring.open(path, "w", encoding="utf-8") as f:
        await f.write("first line\nsecond line\n")
    async with aiouring.open(path, encoding="utf-8") as f:
        async for line in f:
            print(line.rstrip())
    print((await aiouring.fs.stat(path)).st_size, "bytes")
    await aiouring.fs.unlink(path)


aiouring.run(main())

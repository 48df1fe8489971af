"""A chain program: read -> write exactly what was read -> repeat until EOF,
decided in the kernel on Linux 7.1+ (loop-side elsewhere); one wake-up."""
import os
import tempfile

import aiouring
import aiouring.bpf as bpf


async def main() -> None:
    directory = tempfile.mkdtemp()
    src, dst = os.path.join(directory, "src"), os.path.join(directory, "dst")
    with open(src, "wb") as f:
        f.write(os.urandom(1 << 20))
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        copied = await bpf.copy(fin, fout, chunk=64 * 1024)
    print(copied, "bytes copied on the", copied.path, "path in", copied.steps, "steps")


aiouring.run(main())

"""Checks an installed aiouring from the outside, the way a user meets it
after `pip install aiouring-loop`. tools/dist_check.py runs it with the
interpreter of each fresh virtual environment it installs into, from a
directory where no checkout is importable.

    python installed_smoke.py SITE_DIR PROGRAM.c

SITE_DIR is where aiouring must have been imported from (the environment's
site-packages); PROGRAM.c is a user chain program (tests/programs/sum_reads.c)
that `python -m aiouring.bpf build` compiles against the installed chain.h
and dispatcher sources. Prints one line per check; exits 1 on the first
failure, saying what failed.
"""

import asyncio
import importlib.metadata
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

DISTRIBUTION = "aiouring-loop"


def check(condition, what):
    if not condition:
        print(f"FAILED: {what}", flush=True)
        sys.exit(1)
    print(f"ok: {what}", flush=True)


def cli(*args):
    return subprocess.run([sys.executable, *args], capture_output=True,
                          text=True)


async def echo_and_file(workdir):
    """A socket echo through sock_* requests and a file round trip."""
    import aiouring
    loop = asyncio.get_running_loop()
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    with a, b:
        await loop.sock_sendall(a, b"ping over io_uring")
        echoed = await loop.sock_recv(b, 100)
    path = os.path.join(workdir, "file.txt")
    async with aiouring.open(path, "w", encoding="utf-8") as f:
        await f.write("written by an installed aiouring\n")
    async with aiouring.open(path, encoding="utf-8") as f:
        text = await f.read()
    return type(loop).__name__, echoed, text


async def run_program(bundle, source_path):
    import aiouring.bpf as bpf
    loop = asyncio.get_running_loop()
    loop.bpf.register(bundle)
    buffer = bytearray(4096)
    fd = os.open(source_path, os.O_RDONLY)
    try:
        return await bpf.run("sum_reads", buffers=[buffer], files=[fd])
    finally:
        os.close(fd)


def main(site_dir, program):
    import aiouring
    from aiouring import info

    where = os.path.realpath(aiouring.__file__)
    check(where.startswith(os.path.realpath(site_dir) + os.sep),
          f"aiouring is imported from the installation ({where})")
    installed = importlib.metadata.version(DISTRIBUTION)
    check(installed == aiouring.__version__,
          f"{DISTRIBUTION} {installed} installs aiouring {aiouring.__version__}")

    with tempfile.TemporaryDirectory(prefix="aiouring-smoke-") as workdir:
        loop_name, echoed, text = aiouring.run(echo_and_file(workdir))
        check(loop_name == "Loop" and echoed == b"ping over io_uring"
              and text == "written by an installed aiouring\n",
              "aiouring.run: a socket echo and a file round trip on the io_uring loop")

        found = aiouring.features()
        build = info.build_options()
        check(found["io_uring"] and build is not None,
              f"features() probes the kernel; build options recorded: {build}")
        if not build["kernel_path"]:
            check(build["kernel_path_missing"] in (found["bpf_loop_reason"] or ""),
                  f"features() says why chain programs run loop-side: {found['bpf_loop_reason']}")
        else:
            check(found["bpf_loop"] or bool(found["bpf_loop_reason"]),
                  f"features() says where chain programs run: "
                  f"{found['bpf_loop_reason'] or 'in the kernel'}")

        done = cli("-m", "aiouring", "info")
        first = done.stdout.splitlines()[0] if done.stdout else ""
        check(done.returncode == 0 and first.startswith(f"aiouring        {aiouring.__version__}"),
              f"python -m aiouring info starts with aiouring's own version: {first!r}")
        done = cli("-m", "aiouring", "info", "--json")
        check(done.returncode == 0 and json.loads(done.stdout)["build"] == build,
              "python -m aiouring info --json reports the build options")

        native_only = not (shutil.which("clang") and build["kernel_path"])
        bundle = os.path.join(workdir, "sum.chain")
        done = cli("-m", "aiouring.bpf", "build", program, "-o", bundle,
                   *(["--native-only"] if native_only else []))
        check(done.returncode == 0,
              "python -m aiouring.bpf build compiles a user program against the installed "
              f"sources ({'native only' if native_only else 'native + BPF'})"
              + ("" if done.returncode == 0 else f": {done.stderr.strip()}"))
        total = aiouring.run(run_program(bundle, program))
        check(total == os.path.getsize(program),
              f"the user program runs on the loop ({total} bytes read, on the {total.path} path)")
    print("installed aiouring works")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])

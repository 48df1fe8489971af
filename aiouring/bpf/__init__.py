"""Chain programs: dependent multi-step I/O decided without Python.

A chain program decides each next request from the result of the last one
(read a header, then as many bytes as it says; read a block, then the block
it points to). Started from a coroutine, it runs every step without Python
and resumes the coroutine once, with its result:

    nbytes = await aiouring.bpf.copy(src, dst)

On Linux 7.1+ with the io_uring BPF struct_ops the programs run in the
kernel, inside io_uring_enter; elsewhere the same programs, compiled
natively, run loop-side in aiouring's core on each completion. Results and
errors are the same on both paths; ``path()`` says which one is active.
Every function takes ``path=`` ('kernel', 'loop-side' or None: the kernel
where it can) to force one; the environment variable AIOURING_BPF does the
same for a whole process.
Programs are written in C against ``chain.h`` (next to this file); see
docs/chain-programs.md.
"""

import asyncio
import os

from .. import _ring

__all__ = ["copy", "read_frame", "pointer_chase", "recv_send", "nop_chain",
           "run", "program_names", "path"]

FRAME_HEADER_SIZE = 4


def _running_loop():
    loop = asyncio.get_running_loop()
    if not isinstance(loop, _ring.ProgramLoop):
        raise RuntimeError("chain programs run on an aiouring loop "
                           "(aiouring.run(), aiouring.install() or aiouring.Loop)")
    return loop


def _fileno(obj):
    return obj if isinstance(obj, int) else obj.fileno()


def program_names():
    """The registered programs, in index order."""
    loop = asyncio.get_running_loop()
    return _running_loop()._chain_program_names() if loop else []


def _forced_path():
    forced = os.environ.get("AIOURING_BPF") or None
    return None if forced == "auto" else forced


def path():
    """Where chain programs run on this machine: 'kernel' or 'loop-side'."""
    from ..features import features
    forced = _forced_path()
    if forced is not None:
        return forced
    return "kernel" if features()["bpf_loop"] else "loop-side"


async def run(name, *args, keepalive=None, max_steps=None, path=None):
    """Runs program `name` with integer arguments (up to six) and returns its
    result. A negative result raises the matching OSError. keepalive holds
    the objects the arguments point into. path forces where it runs
    ('kernel': RuntimeError if it cannot; 'loop-side')."""
    loop = _running_loop()
    names = loop._chain_program_names()
    try:
        index = names.index(name)
    except ValueError:
        raise ValueError(f"no chain program named {name!r}; have {names}") from None
    if path is None:
        path = _forced_path()
    if max_steps is None:
        return await loop._run_chain_program(index, args, keepalive, path=path)
    return await loop._run_chain_program(index, args, keepalive, max_steps, path)


def _pinned(size):
    buffer = bytearray(size)
    view = memoryview(buffer)          # pins it: a bytearray with exports cannot move
    return buffer, view, _ring.buffer_address(buffer)


async def copy(src, dst, *, chunk=64 * 1024, max_bytes=None, path=None):
    """Copies from src to dst (files, sockets or pipes: objects with fileno()
    or descriptors) until EOF, or max_bytes: read a chunk, write exactly what
    was read, repeat. Both are used at their current position. Returns the
    number of bytes copied."""
    if chunk <= 0:
        raise ValueError("chunk must be positive")
    if max_bytes is not None and max_bytes < 0:
        raise ValueError("max_bytes must not be negative")
    buffer, view, address = _pinned(chunk)
    limit = (1 << 63) - 1 if max_bytes is None else max_bytes
    return await run("copy", _fileno(src), _fileno(dst), address, chunk, limit,
                     keepalive=(buffer, view), path=path)


async def read_frame(sock, *, max_size=1 << 20, path=None):
    """Reads one length-prefixed frame from a stream (4-byte big-endian
    length, then that many bytes) and returns its body. Raises EOFError at a
    clean end of stream, OSError(EPROTO) when the stream ends inside a frame
    and OSError(EMSGSIZE) when the header announces more than max_size (then
    no body byte has been read)."""
    if max_size < 0:
        raise ValueError("max_size must not be negative")
    buffer, view, address = _pinned(max(max_size, FRAME_HEADER_SIZE))
    try:
        length = await run("read_frame", _fileno(sock), address, max_size,
                           keepalive=(buffer, view), path=path)
    except OSError as exc:
        if exc.errno == 61:     # ENODATA: the stream ended between frames
            raise EOFError("end of stream before a frame header") from None
        raise
    return bytes(view[:length])


async def pointer_chase(fd, offset, depth, *, block=4096, field=0, path=None):
    """Reads the block at offset, then the block at the little-endian u64
    found at byte `field` of it, and so on: depth reads in all. Returns
    (offset, data) of the last block read. OSError(EIO) when a read comes
    back short (a pointer past the end of the file)."""
    if depth <= 0 or block <= 0:
        raise ValueError("depth and block must be positive")
    if not 0 <= field <= block - 8:
        raise ValueError("field must leave room for a u64 inside the block")
    buffer, view, address = _pinned(block)
    last = await run("pointer_chase", _fileno(fd), offset, depth, block, address, field,
                     keepalive=(buffer, view), path=path)
    return last, bytes(view)


async def recv_send(sock_in, sock_out, *, chunk=64 * 1024, path=None):
    """Relays a stream from sock_in to sock_out until EOF (one leg of a
    proxy); returns the number of bytes relayed."""
    if chunk <= 0:
        raise ValueError("chunk must be positive")
    buffer, view, address = _pinned(chunk)
    return await run("recv_send", _fileno(sock_in), _fileno(sock_out), address, chunk,
                     keepalive=(buffer, view), path=path)


async def nop_chain(count, *, max_steps=None, path=None):
    """count dependent no-op steps: what one chain step costs by itself."""
    return await run("nop_chain", count, max_steps=max_steps, path=path)

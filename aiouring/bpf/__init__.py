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
docs/chain-programs.md. Your own programs are built into a bundle with

    python -m aiouring.bpf build prog.c -o prog.chain

and registered on a loop with ``loop.bpf.register("prog.chain")`` (or
``register()`` here, for the running loop); ``run(name, *args)`` then runs
them like the built-ins, on either path.
"""

import asyncio
import ctypes
import os

from .. import _ring
from .errors import BuildError, ChainProgramError, VerifierError

__all__ = ["copy", "read_frame", "pointer_chase", "recv_send", "nop_chain",
           "run", "program_names", "path", "register", "LoopPrograms", "buffer_address",
           "ChainResult",
           "ChainProgramError", "BuildError", "VerifierError"]

FRAME_HEADER_SIZE = 4
ChainResult = _ring.ChainResult


def buffer_address(buffer):
    """The address of a writable buffer's memory, to pass to a program as an
    argument. Keep the buffer pinned (hold a memoryview of it, and pass both
    as run()'s keepalive) while the chain may use it."""
    return _ring.buffer_address(buffer)


def _running_loop():
    loop = asyncio.get_running_loop()
    if not isinstance(loop, _ring.Loop):
        raise RuntimeError("chain programs run on an aiouring loop "
                           "(aiouring.run(), aiouring.install() or aiouring.Loop)")
    return loop


def _fileno(obj):
    return obj if isinstance(obj, int) else obj.fileno()


def program_names():
    """The running loop's programs, in index order: the built-ins, then the
    ones its bundle registered."""
    return _running_loop()._programs.names()


_VERIFIER_MARKERS = ("-- BEGIN PROG LOAD LOG --", "processed ", "verifier")


def _verifier_reason(log):
    """The verifier's own words for a rejection: the line before its
    "processed N insns" summary (or the log's last line)."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if line.startswith("processed ") and i > 0:
            return lines[i - 1]
    verifier = [line for line in lines if not line.startswith("libbpf:")]
    return verifier[-1] if verifier else (lines[-1] if lines else "")


def _load_error(message):
    if any(marker in message for marker in _VERIFIER_MARKERS):
        return VerifierError("the BPF verifier rejected the chain dispatcher of the "
                             f"registered programs: {_verifier_reason(message)}\n"
                             + message, message)
    return ChainProgramError("cannot load the chain dispatcher of the registered "
                             "programs: " + message)


def register(bundle, *, loop=None):
    """Registers the programs of a bundle (built by `python -m aiouring.bpf
    build prog.c -o BUNDLE`) on loop (default: the running loop) and
    returns their names. They take the indices after the built-ins; run()
    and program_names() see them.

    Loop-side, the bundle's native library is loaded into the process. On a
    kernel with the io_uring BPF struct_ops (aiouring.features()['bpf_loop'])
    its BPF dispatcher (built-ins + these programs) is loaded for the loop's
    program ring at once, so the verifier checks it here: VerifierError (its
    text holds the verifier log) when it refuses it, and then nothing is
    registered. A program ring already started is replaced when no chain runs
    in it (RuntimeError otherwise: register before starting chains).

    ValueError: not a bundle, built for another aiouring version, a name
    already registered, or a second bundle on the same loop (build all of a
    loop's programs into one bundle)."""
    from .build import read_manifest
    from ..features import features
    if loop is None:
        loop = _running_loop()
    elif not isinstance(loop, _ring.Loop):
        raise TypeError("chain programs register on an aiouring loop")
    bundle = os.path.abspath(os.fspath(bundle))
    manifest = read_manifest(bundle)
    taken = set(loop._programs.names())
    for name in manifest["programs"]:
        if name in taken:
            raise ValueError(f"a chain program named {name!r} is already registered")
    native = os.path.join(bundle, manifest["native"])
    try:
        library = ctypes.CDLL(native, mode=os.RTLD_NOW | os.RTLD_LOCAL)
        version = ctypes.string_at(ctypes.addressof(
            ctypes.c_char.in_dll(library, "aiouring_user_version"))).decode()
        table = ctypes.addressof(ctypes.c_char.in_dll(library, "aiouring_user_programs"))
        count = ctypes.c_int.in_dll(library, "aiouring_user_program_count").value
        size = ctypes.c_int.in_dll(library, "aiouring_user_chain_size").value
    except (OSError, ValueError) as exc:
        raise ValueError(f"{native}: not a chain program library: {exc}") from None
    from .. import __version__
    if version != __version__ or size != 136:
        raise ValueError(f"{native} was built for aiouring {version}, this is "
                         f"aiouring {__version__}: build it again")
    if count != len(manifest["programs"]):
        raise ValueError(f"{native} does not hold the programs {bundle}/manifest.json lists")
    dispatcher = None
    if manifest.get("bpf") and features()["bpf_loop"]:
        dispatcher = os.path.join(bundle, manifest["bpf"])
    return loop._programs.register(bundle, table, count, library, dispatcher, _load_error)


class LoopPrograms:
    """A loop's chain programs (``loop.bpf``): register a bundle, list and
    run programs on that loop."""

    __slots__ = ("_loop",)

    def __init__(self, loop):
        self._loop = loop

    def register(self, bundle):
        """Registers a bundle's programs on this loop: see aiouring.bpf.register()."""
        return register(bundle, loop=self._loop)

    def program_names(self):
        """This loop's programs, in index order."""
        return self._loop._programs.names()

    async def run(self, name, *args, **kwargs):
        """Runs a program on this loop (it must be the running one): see
        aiouring.bpf.run()."""
        if _running_loop() is not self._loop:
            raise RuntimeError("loop.bpf.run() runs on that loop, while it runs")
        return await run(name, *args, **kwargs)


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
    """Runs program `name` (a built-in or a registered one) with integer
    arguments (up to six) and returns its result, a ChainResult: an int
    whose .path says where the chain ran and .steps how many requests it
    issued. A negative result raises the matching OSError. keepalive holds
    the objects the arguments point into. path forces where it runs
    ('kernel': RuntimeError if it cannot; 'loop-side')."""
    loop = _running_loop()
    names = loop._programs.names()
    try:
        index = names.index(name)
    except ValueError:
        raise ValueError(f"no chain program named {name!r}; have {names}") from None
    if path is None:
        path = _forced_path()
    if max_steps is None:
        return await loop._programs.run(index, args, keepalive, path=path)
    return await loop._programs.run(index, args, keepalive, max_steps, path)


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

"""Chain programs: multi-step I/O decided without Python.

A chain program decides each next request from the results of the last
ones (read a header, then as many bytes as it says; read a block, then the
block it points to; read 64 blocks at once and gather their results).
Started from a coroutine, it runs every step without Python and resumes the
coroutine once, with its result:

    nbytes = await aiouring.bpf.copy(src, dst)

On Linux 7.1+ with the io_uring BPF struct_ops the programs run in the
kernel, inside io_uring_enter; elsewhere the same programs, compiled
natively, run loop-side in aiouring's core on each completion. Results and
errors are the same on both paths; ``path()`` says which one is available.
Every function takes ``path=`` ('kernel', 'loop-side' or None: the faster
of the two for this program, judged from recent chains) to force one; the
environment variable AIOURING_BPF does the same for a whole process.

Programs name memory and files by index, never by address: a coroutine
hands over buffers (``buffers=[...]``: bytearray, memoryview, mmap,
aiouring.ops.buffer(), bytes, or a str/path for paths) and files
(``files=[...]``), each buffer held (a bytearray cannot be resized) until
the chain's last request completed, and the driver checks every request
against them on both paths (ChainRequestError otherwise).

Programs are written in C against ``chain.h`` (next to this file); see
docs/chain-programs.md. Your own programs are built into a bundle with

    python -m aiouring.bpf build prog.c -o prog.chain

and registered on a loop with ``loop.bpf.register("prog.chain")`` (or
``register()`` here, for the running loop); ``run(name, *args, ...)`` then
runs them like the built-ins, on either path.
"""

import asyncio
import ctypes
import errno
import os
import struct

from .. import _ring
from .errors import BuildError, ChainProgramError, VerifierError

__all__ = ["copy", "read_frame", "pointer_chase", "recv_send", "nop_chain",
           "multi_read", "read_file", "btree_lookup", "splice_relay",
           "run", "start", "program_names", "path", "register", "LoopPrograms",
           "sockaddr", "ChainResult", "RunningChain", "ChainRequestError",
           "ChainProgramError", "BuildError", "VerifierError",
           "CONTEXT_SIZE", "MAX_ARGS", "MAX_BUFFERS", "MAX_FILES", "MAX_INFLIGHT"]

FRAME_HEADER_SIZE = 4
ChainResult = _ring.ChainResult
RunningChain = _ring.RunningChain
ChainRequestError = _ring.ChainRequestError
CONTEXT_SIZE = 1024       # bytes of a chain's context region (chain.h)
MAX_ARGS = 8
MAX_BUFFERS = 8
MAX_FILES = 8
MAX_INFLIGHT = 64


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


_CHAIN_SIZE = 1288        # sizeof(struct aiouring_chain): the layout the bundle was built for
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
    if version != __version__ or size != _CHAIN_SIZE:
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


# The environment's own dict: reading it costs no exception per chain when
# AIOURING_BPF is unset (os.environ.get raises and catches KeyError).
_ENVIRON = getattr(os.environ, "_data", None)


def _forced_path():
    if isinstance(_ENVIRON, dict):
        forced = _ENVIRON.get(b"AIOURING_BPF")
        forced = forced.decode() if forced else None
    else:
        forced = os.environ.get("AIOURING_BPF") or None
    return None if forced == "auto" else forced


def path():
    """Where chain programs run on this machine: 'kernel' or 'loop-side'."""
    from ..features import features
    forced = _forced_path()
    if forced is not None:
        return forced
    return "kernel" if features()["bpf_loop"] else "loop-side"


def start(name, *args, buffers=(), files=(), context=0, max_steps=None, path=None,
          linked=None):
    """Starts program `name` (a built-in or a registered one) on the running
    loop and returns a RunningChain: await it for the result; its context()
    reads the context region while the chain runs. See run()."""
    loop = _running_loop()
    index = loop._programs.index_of(name)
    if path is None:
        path = _forced_path()
    if max_steps is None:
        return loop._programs.start(index, args, buffers, files, context, path=path,
                                    linked=linked)
    return loop._programs.start(index, args, buffers, files, context, max_steps, path, linked)


async def run(name, *args, buffers=(), files=(), context=0, max_steps=None, path=None):
    """Runs program `name` and returns its result, a ChainResult: an int
    whose .path says where the chain ran, .steps how many requests it
    issued and .context the first `context` bytes (at most CONTEXT_SIZE) of
    its context region. args: up to MAX_ARGS integers (c->arg[]). buffers:
    up to MAX_BUFFERS objects the program's requests name by index (see the
    module's doc); files: up to MAX_FILES files, sockets or descriptors,
    named CHAIN_FILE(i). A negative result raises the matching OSError; a
    request outside what was handed over raises ChainRequestError.
    max_steps bounds the requests it may issue (ELOOP beyond; default
    2**20). path forces where it runs ('kernel': RuntimeError if it cannot;
    'loop-side')."""
    return await start(name, *args, buffers=buffers, files=files, context=context,
                       max_steps=max_steps, path=path)


def sockaddr(sock, address):
    """The struct sockaddr of address for sock's family, as bytes: a buffer
    to hand over for a program's chain_connect()."""
    return _ring.chain_sockaddr(sock.family, address)


async def copy(src, dst, *, chunk=64 * 1024, max_bytes=None, path=None):
    """Copies from src to dst (files, sockets or pipes: objects with fileno()
    or descriptors) until EOF, or max_bytes: read a chunk, write exactly what
    was read, repeat. Both are used at their current position. Returns the
    number of bytes copied."""
    if chunk <= 0:
        raise ValueError("chunk must be positive")
    if max_bytes is not None and max_bytes < 0:
        raise ValueError("max_bytes must not be negative")
    limit = (1 << 63) - 1 if max_bytes is None else max_bytes
    return await run("copy", chunk, limit, buffers=[bytearray(chunk)], files=[src, dst],
                     path=path)


async def read_frame(sock, *, max_size=1 << 20, path=None):
    """Reads one length-prefixed frame from a stream (4-byte big-endian
    length, then that many bytes) and returns its body. Raises EOFError at a
    clean end of stream, OSError(EPROTO) when the stream ends inside a frame
    and OSError(EMSGSIZE) when the header announces more than max_size (then
    no body byte has been read)."""
    if max_size < 0:
        raise ValueError("max_size must not be negative")
    buffer = bytearray(max(max_size, FRAME_HEADER_SIZE))
    try:
        length = await run("read_frame", max_size, buffers=[buffer], files=[sock], path=path)
    except OSError as exc:
        if exc.errno == errno.ENODATA:      # the stream ended between frames
            raise EOFError("end of stream before a frame header") from None
        raise
    return bytes(buffer[:length])


async def pointer_chase(fd, offset, depth, *, block=4096, field=0, path=None):
    """Reads the block at offset, then the block at the little-endian u64
    found at byte `field` of it, and so on: depth reads in all. Returns
    (offset, data) of the last block read. OSError(EIO) when a read comes
    back short (a pointer past the end of the file)."""
    if depth <= 0 or block <= 0:
        raise ValueError("depth and block must be positive")
    if not 0 <= field <= block - 8:
        raise ValueError("field must leave room for a u64 inside the block")
    buffer = bytearray(block)
    last = await run("pointer_chase", offset, depth, block, field, buffers=[buffer],
                     files=[fd], path=path)
    return last, bytes(buffer)


async def recv_send(sock_in, sock_out, *, chunk=64 * 1024, path=None):
    """Relays a stream from sock_in to sock_out until EOF (one leg of a
    proxy); returns the number of bytes relayed."""
    if chunk <= 0:
        raise ValueError("chunk must be positive")
    return await run("recv_send", chunk, buffers=[bytearray(chunk)],
                     files=[sock_in, sock_out], path=path)


async def splice_relay(sock_in, sock_out, *, chunk=64 * 1024, path=None):
    """Relays a stream from sock_in to sock_out until EOF through a pipe with
    splice(2), so the bytes never pass through the process (one leg of a
    proxy); returns the number of bytes relayed."""
    if chunk <= 0:
        raise ValueError("chunk must be positive")
    pipe_read, pipe_write = os.pipe()
    try:
        return await run("splice_relay", chunk,
                         files=[sock_in, sock_out, pipe_read, pipe_write], path=path)
    finally:
        os.close(pipe_read)
        os.close(pipe_write)


async def nop_chain(count, *, max_steps=None, path=None):
    """count dependent no-op steps: what one chain step costs by itself."""
    return await run("nop_chain", count, max_steps=max_steps, path=path)


MULTI_READ_MAX = CONTEXT_SIZE // 4


async def multi_read(file, offsets, size=4096, *, into=None, path=None):
    """Reads size bytes at each of offsets (at most 256) from file, all in
    one chain with up to MAX_INFLIGHT reads in flight, and returns the data
    read at each offset (bytes; shorter at the end of the file). With into
    (a writable buffer of at least len(offsets) * size bytes; aligned, e.g.
    aiouring.ops.buffer(), for O_DIRECT files) the data stays there, read i
    at i * size, and the counts are returned. A failed read raises its
    OSError (the first one, in the order of offsets)."""
    if not isinstance(offsets, (list, tuple)):
        offsets = list(offsets)
    count = len(offsets)
    if count > MULTI_READ_MAX:
        raise ValueError(f"multi_read reads at most {MULTI_READ_MAX} blocks per chain")
    if size <= 0:
        raise ValueError("size must be positive")
    if count == 0:
        return []
    try:
        table = struct.pack(f"<{count}Q", *offsets)
    except struct.error:
        raise ValueError("offsets are integers from 0 to 2**64 - 1") from None
    if into is None:
        target = bytearray(count * size)
    else:
        target = into
        if memoryview(into).nbytes < count * size:
            raise ValueError(f"into holds fewer than {count} * {size} bytes")
    result = await run("multi_read", count, size, buffers=[target, table], files=[file],
                       context=4 * count, path=path)
    counts = struct.unpack(f"<{count}i", result.context)
    if min(counts) < 0:
        res = next(res for res in counts if res < 0)
        raise OSError(-res, os.strerror(-res))
    if into is not None:
        return list(counts)
    view = memoryview(target)
    return [bytes(view[i * size:i * size + n]) for i, n in enumerate(counts)]


READ_FILE_FIRST = 64 * 1024


async def read_file(name, *, path=None):
    """The whole content of the file at name (a str or os.PathLike), as
    bytes: open, size, read and close in one chain (a second one when the
    file holds more than READ_FILE_FIRST bytes: the first then learns its
    size)."""
    buffer = bytearray(READ_FILE_FIRST)
    while True:
        result = await run("read_file", buffers=[name, buffer], context=264, path=path)
        size = int(result)
        got = struct.unpack_from("<Q", result.context, 256)[0]
        if size <= len(buffer):
            return bytes(memoryview(buffer)[:got])
        buffer = bytearray(size)


BTREE_BLOCK = 4096


async def btree_lookup(file, key, *, root=0, max_depth=32, buffer=None, path=None):
    """The value stored under key in the B-tree file (written by
    aiouring.bpf.btree.write(); opened with os.O_DIRECT for real I/O on each
    level), walked one block per level in one chain; None when the key is
    not there. buffer: a BTREE_BLOCK-byte buffer to read blocks into
    (aligned for O_DIRECT: aiouring.ops.buffer(4096); one is made if not
    given)."""
    from . import btree
    if not 0 <= key < 1 << 64:
        raise ValueError("keys are unsigned 64-bit integers")
    if buffer is None:
        buffer = _aligned_block()
    found = await run("btree_lookup", key, root, max_depth, buffers=[buffer], files=[file],
                      context=btree.RECORD, path=path)
    if not found:
        return None
    return btree.record_value(found.context)


def _aligned_block():
    from ..ops import buffer
    return buffer(BTREE_BLOCK)

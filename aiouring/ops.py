"""Builders of single io_uring requests, to be submitted together with
``await aiouring.chain(step1, step2, ...)`` as one linked chain.

Each builder names its arguments like the system call it stands for and
returns a step: an immutable, typed description of one request (its
arguments are checked when it is made). A descriptor argument may be an
int, an object with ``fileno()``, or the step of an earlier
``openat(..., direct=True)`` in the same chain: then the request uses that
direct descriptor (a slot of the ring's registered file table) and no
Python-visible fd ever exists. ``hardlink=True`` links a step to the next
with IOSQE_IO_HARDLINK: the next step runs even if this one fails.

A step can be used in several chains, or twice in one: every submission
takes its own export of the buffers a step names and holds it until the
kernel is done with the chain, so a buffer cannot be resized or freed under
a request (BufferError).

What each step reports in the chain's result list:

=================  ===========================================================
read/recv(n)       the bytes read (an int count when given a buffer)
statx              an os.stat_result
openat, accept     the new descriptor (None for a direct open)
timeouts           None
everything else    the request's result (an int, 0 for most)
=================  ===========================================================
"""

from ._ring import (AT_EMPTY_PATH, AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_NOFOLLOW,
                    RWF_NOWAIT, STATX_BASIC_STATS, AlignedBuffer, Step)
from ._ring import (op_accept as accept, op_close as close, op_connect as connect,
                    op_fadvise as fadvise, op_fallocate as fallocate, op_fsync as fsync,
                    op_link_timeout as link_timeout, op_linkat as linkat,
                    op_mkdirat as mkdirat, op_nop as nop, op_openat as openat,
                    op_read as read, op_readv as readv, op_recv as recv,
                    op_renameat as renameat, op_send as send, op_shutdown as shutdown,
                    op_splice as splice, op_statx as statx, op_symlinkat as symlinkat,
                    op_tee as tee, op_timeout as timeout, op_unlinkat as unlinkat,
                    op_write as write, op_writev as writev)

__all__ = [
    "Step", "buffer", "nop", "openat", "read", "write", "readv", "writev", "recv",
    "send", "splice", "tee", "statx", "fsync", "fallocate", "fadvise", "close",
    "unlinkat", "renameat", "mkdirat", "linkat", "symlinkat", "timeout",
    "link_timeout", "accept", "connect", "shutdown", "AT_FDCWD", "AT_EMPTY_PATH",
    "AT_REMOVEDIR", "AT_SYMLINK_NOFOLLOW", "RWF_NOWAIT", "STATX_BASIC_STATS",
]


def buffer(size: int) -> AlignedBuffer:
    """A page-aligned buffer that chain steps (and O_DIRECT files) can share;
    the loop registers it as a fixed buffer when it can (READ_FIXED /
    WRITE_FIXED). Supports the buffer protocol."""
    return AlignedBuffer(size)

"""Builders of single io_uring requests, to be submitted together with
``await aiouring.chain(step1, step2, ...)`` as one linked chain.

Each builder names its arguments like the system call it stands for and
returns a step. A descriptor argument may be an int, an object with
``fileno()``, or the step of an earlier ``openat(..., direct=True)`` in the
same chain: then the request uses that direct descriptor (a slot of the
ring's registered file table) and no Python-visible fd ever exists.
``hardlink=True`` links a step to the next with IOSQE_IO_HARDLINK: the next
step runs even if this one fails.

What each step reports in the chain's result list:

=================  ===========================================================
read/recv(n)       the bytes read (an int count when given a buffer)
statx              an os.stat_result
openat, accept     the new descriptor (None for a direct open)
timeouts           None
everything else    the request's result (an int, 0 for most)
=================  ===========================================================
"""

import os
import socket

from . import _names
from ._ring import AlignedBuffer, ChainStep

__all__ = [
    "buffer", "nop", "openat", "read", "write", "readv", "writev", "recv",
    "send", "splice", "tee", "statx", "fsync", "fallocate", "fadvise", "close",
    "unlinkat", "renameat", "mkdirat", "linkat", "symlinkat", "timeout",
    "link_timeout", "accept", "connect", "shutdown",
]

_OP = {name: code for code, name in enumerate(_names.OPCODES)}
_RES, _BYTES, _STAT, _NONE = 0, 1, 2, 3
AT_FDCWD = -100
AT_REMOVEDIR = 0x200
AT_SYMLINK_NOFOLLOW = 0x100
AT_EMPTY_PATH = 0x1000
STATX_BASIC_STATS = 0x7FF
_TIMEOUT_ETIME_SUCCESS = 1 << 5     # an expired TIMEOUT does not break the link


def buffer(size):
    """A page-aligned buffer that chain steps (and O_DIRECT files) can share;
    the loop registers it as a fixed buffer when it can (READ_FIXED /
    WRITE_FIXED). Supports the buffer protocol."""
    return AlignedBuffer(size)


def _fd(fd):
    if isinstance(fd, (int, ChainStep)):
        return fd
    if hasattr(fd, "fileno"):
        return fd.fileno()
    raise TypeError(f"a descriptor, a file, a socket or a direct open step is required, "
                    f"not {type(fd).__name__}")


def _path(path):
    return os.fsencode(path)


def _step(name, opcode, *, fd=None, hardlink=False, implied=True, result=_RES,
          implied_result=0, short_fails=False, **fields):
    step = ChainStep()
    step.name = name
    step.opcode = _OP[opcode]
    step.fd = None if fd is None else _fd(fd)
    step.hardlink = hardlink
    step.implied = implied
    step.result_kind = result
    step.implied_result = implied_result
    step.short_fails = short_fails
    for key, value in fields.items():
        setattr(step, key, value)
    return step


def nop(*, hardlink=False):
    """A request that does nothing (IORING_OP_NOP)."""
    return _step("nop", "NOP", hardlink=hardlink)


def openat(path, flags=os.O_RDONLY, mode=0o666, *, dir_fd=AT_FDCWD, direct=False,
           hardlink=False):
    """openat(2). With direct=True the file goes into a direct descriptor
    that later steps use by naming this step; the chain closes it if no
    close() step of the chain does."""
    step = _step("openat", "OPENAT", fd=dir_fd, hardlink=hardlink,
                 implied=direct, result=_NONE if direct else _RES, implied_result=None,
                 path=_path(path), length=mode,
                 # The kernel refuses O_CLOEXEC for a direct descriptor (it has no fd).
                 op_flags=flags if direct else flags | os.O_CLOEXEC,
                 direct=direct)
    return step


def _buffer_or_size(nbytes):
    if isinstance(nbytes, int):
        if nbytes < 0:
            raise ValueError("negative size")
        return bytearray(nbytes), _BYTES
    return nbytes, _RES


RWF_NOWAIT = 0x8


def read(fd, nbytes, offset=-1, flags=0, *, hardlink=False):
    """preadv2(2) (offset -1: the file position; flags: RWF_*). nbytes is a
    size (the step's result is the bytes read) or a writable buffer (the
    result is the count). A short read counts as a failure of the link, as
    the kernel sees it. With RWF_NOWAIT a read that would wait for the disk
    fails with EAGAIN, and a short read is not finished on a worker thread."""
    buf, kind = _buffer_or_size(nbytes)
    return _step("read", "READ", fd=fd, hardlink=hardlink, result=kind,
                 short_fails=True, buffer=buf, offset=offset, op_flags=flags)


def write(fd, data, offset=-1, *, nbytes=0, hardlink=False):
    """pwrite(2) of data (or its first nbytes) at offset (-1: file position)."""
    return _step("write", "WRITE", fd=fd, hardlink=hardlink, short_fails=True,
                 buffer=data, length=nbytes, offset=offset)


def readv(fd, buffers, offset=-1, *, hardlink=False):
    """preadv(2) into a list of writable buffers; the result is the count."""
    return _step("readv", "READV", fd=fd, hardlink=hardlink, short_fails=False,
                 implied=False, buffers=list(buffers), offset=offset)


def writev(fd, buffers, offset=-1, *, hardlink=False):
    """pwritev(2) of a list of buffers; the result is the count."""
    return _step("writev", "WRITEV", fd=fd, hardlink=hardlink, short_fails=False,
                 implied=False, buffers=list(buffers), offset=offset)


def recv(fd, nbytes, flags=0, *, hardlink=False):
    """recv(2). Its result is only implied by success with MSG_WAITALL, so
    without it the step posts its CQE (absorbed by the chain, no wake-up)."""
    buf, kind = _buffer_or_size(nbytes)
    waitall = bool(flags & socket.MSG_WAITALL)
    return _step("recv", "RECV", fd=fd, hardlink=hardlink, result=kind,
                 implied=waitall, short_fails=waitall, buffer=buf, op_flags=flags)


def send(fd, data, flags=0, *, hardlink=False):
    """send(2) with MSG_NOSIGNAL added; see recv() about MSG_WAITALL."""
    waitall = bool(flags & socket.MSG_WAITALL)
    return _step("send", "SEND", fd=fd, hardlink=hardlink, implied=waitall,
                 short_fails=waitall, buffer=data,
                 op_flags=flags | socket.MSG_NOSIGNAL)


def splice(fd_in, off_in, fd_out, off_out, nbytes, flags=0, *, hardlink=False):
    """splice(2) of nbytes from fd_in to fd_out (offsets -1 for pipes)."""
    return _step("splice", "SPLICE", fd=fd_out, hardlink=hardlink, short_fails=True,
                 fd_in=_fd(fd_in), offset_in=off_in, offset=off_out,
                 length=nbytes, op_flags=flags, implied_result=nbytes)


def tee(fd_in, fd_out, nbytes, flags=0, *, hardlink=False):
    """tee(2) of nbytes from pipe fd_in to pipe fd_out."""
    return _step("tee", "TEE", fd=fd_out, hardlink=hardlink, short_fails=True,
                 fd_in=_fd(fd_in), offset_in=0, offset=0, length=nbytes,
                 op_flags=flags, implied_result=nbytes)


def statx(path, flags=0, mask=STATX_BASIC_STATS, *, dir_fd=AT_FDCWD, hardlink=False):
    """statx(2) of path; the step's result is an os.stat_result. (The kernel
    does not take a direct descriptor here: name the path.)"""
    return _step("statx", "STATX", fd=dir_fd, hardlink=hardlink, result=_STAT,
                 path=_path(path), length=mask, op_flags=flags)


def fsync(fd, datasync=False, *, hardlink=False):
    """fsync(2), or fdatasync(2) with datasync=True."""
    return _step("fsync", "FSYNC", fd=fd, hardlink=hardlink,
                 op_flags=1 if datasync else 0)


def fallocate(fd, mode, offset, length, *, hardlink=False):
    """fallocate(2)."""
    return _step("fallocate", "FALLOCATE", fd=fd, hardlink=hardlink, length=mode,
                 offset=offset, addr_value=length)


def fadvise(fd, offset, length, advice, *, hardlink=False):
    """posix_fadvise(2)."""
    return _step("fadvise", "FADVISE", fd=fd, hardlink=hardlink, length=length,
                 offset=offset, op_flags=advice)


def close(fd, *, hardlink=False):
    """close(2); of a direct open step of the chain, closes its slot."""
    return _step("close", "CLOSE", fd=fd, hardlink=hardlink)


def unlinkat(path, flags=0, *, dir_fd=AT_FDCWD, hardlink=False):
    """unlinkat(2) (flags=os.AT_REMOVEDIR... see aiouring.fs.rmdir)."""
    return _step("unlinkat", "UNLINKAT", fd=dir_fd, hardlink=hardlink,
                 path=_path(path), op_flags=flags)


def renameat(old_path, new_path, flags=0, *, old_dir_fd=AT_FDCWD,
             new_dir_fd=AT_FDCWD, hardlink=False):
    """renameat2(2)."""
    return _step("renameat", "RENAMEAT", fd=old_dir_fd, hardlink=hardlink,
                 path=_path(old_path), path2=_path(new_path),
                 length_is_fd=new_dir_fd, op_flags=flags)


def mkdirat(path, mode=0o777, *, dir_fd=AT_FDCWD, hardlink=False):
    """mkdirat(2)."""
    return _step("mkdirat", "MKDIRAT", fd=dir_fd, hardlink=hardlink,
                 path=_path(path), length=mode)


def linkat(old_path, new_path, flags=0, *, old_dir_fd=AT_FDCWD,
           new_dir_fd=AT_FDCWD, hardlink=False):
    """linkat(2)."""
    return _step("linkat", "LINKAT", fd=old_dir_fd, hardlink=hardlink,
                 path=_path(old_path), path2=_path(new_path),
                 length_is_fd=new_dir_fd, op_flags=flags)


def symlinkat(target, link_path, *, dir_fd=AT_FDCWD, hardlink=False):
    """symlinkat(2)."""
    return _step("symlinkat", "SYMLINKAT", fd=dir_fd, hardlink=hardlink,
                 path=_path(target), path2=_path(link_path))


def timeout(seconds, *, hardlink=False):
    """Waits seconds (IORING_OP_TIMEOUT); expiry does not break the chain."""
    step = _step("timeout", "TIMEOUT", hardlink=hardlink, result=_NONE,
                 op_flags=_TIMEOUT_ETIME_SUCCESS, implied_result=None)
    step._set_timespec(seconds)
    return step


def link_timeout(seconds):
    """Bounds the step just before it (IORING_OP_LINK_TIMEOUT): if that step
    has not completed within seconds it is cancelled, and the chain raises
    ChainTimeoutError naming that step."""
    step = _step("link_timeout", "LINK_TIMEOUT", result=_NONE, implied_result=None)
    step._set_timespec(seconds)
    return step


def accept(fd, flags=socket.SOCK_CLOEXEC, *, hardlink=False):
    """accept4(2); the step's result is the new descriptor."""
    return _step("accept", "ACCEPT", fd=fd, hardlink=hardlink, implied=False,
                 op_flags=flags)


def connect(sock, address, *, hardlink=False):
    """connect(2) of socket sock to a resolved address."""
    step = _step("connect", "CONNECT", fd=sock, hardlink=hardlink)
    step._set_sockaddr(sock.family, address)
    return step


def shutdown(fd, how, *, hardlink=False):
    """shutdown(2)."""
    return _step("shutdown", "SHUTDOWN", fd=fd, hardlink=hardlink, length=how)

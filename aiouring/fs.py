"""File-system helpers on the ring, like aiofiles.os: each is one io_uring
request (or one linked chain) on the running aiouring loop, raising the same
OSError subclasses, errno and filenames as the os function it mirrors.

Operations the kernel has no io_uring opcode for run in the loop's default
executor and say so below (listdir, scandir)."""

import errno
import os
import stat as stat_module

from . import ops
from ._ring import AT_EMPTY_PATH, AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_NOFOLLOW
from .errors import ChainError
from .files import open, running_loop

__all__ = ["stat", "lstat", "exists", "isfile", "isdir", "islink", "getsize",
           "unlink", "remove", "rename", "replace", "mkdir", "makedirs", "rmdir",
           "link", "symlink", "fsync", "fdatasync", "fallocate", "fadvise",
           "sendfile", "listdir", "scandir", "read_bytes", "read_text",
           "write_bytes", "write_text"]

_RENAME_NOREPLACE = 1
# read_bytes: files up to this size are read by one chain (one wake-up).
SMALL_FILE = 64 * 1024


def _fd_of(fd):
    return fd if isinstance(fd, int) else fd.fileno()


async def stat(path, *, follow_symlinks=True):
    """os.stat() (IORING_OP_STATX); path may be an open descriptor."""
    loop = running_loop()
    if isinstance(path, int):
        return await loop._files.statx(b"", path, AT_EMPTY_PATH, filename=path)
    return await loop._files.statx(path, flags=0 if follow_symlinks else AT_SYMLINK_NOFOLLOW)


async def lstat(path):
    """os.lstat() (IORING_OP_STATX with AT_SYMLINK_NOFOLLOW)."""
    return await stat(path, follow_symlinks=False)


async def _stat_or_none(path, follow_symlinks=True):
    try:
        return await stat(path, follow_symlinks=follow_symlinks)
    except (OSError, ValueError):
        return None


async def exists(path):
    """os.path.exists()."""
    return await _stat_or_none(path) is not None


async def isfile(path):
    """os.path.isfile()."""
    st = await _stat_or_none(path)
    return st is not None and stat_module.S_ISREG(st.st_mode)


async def isdir(path):
    """os.path.isdir()."""
    st = await _stat_or_none(path)
    return st is not None and stat_module.S_ISDIR(st.st_mode)


async def islink(path):
    """os.path.islink()."""
    st = await _stat_or_none(path, follow_symlinks=False)
    return st is not None and stat_module.S_ISLNK(st.st_mode)


async def getsize(path):
    """os.path.getsize()."""
    return (await stat(path)).st_size


async def unlink(path, *, dir_fd=None):
    """os.unlink() (IORING_OP_UNLINKAT)."""
    await running_loop()._files.unlinkat(path, AT_FDCWD if dir_fd is None else dir_fd, 0)


remove = unlink


async def rmdir(path, *, dir_fd=None):
    """os.rmdir() (IORING_OP_UNLINKAT with AT_REMOVEDIR)."""
    await running_loop()._files.unlinkat(path, AT_FDCWD if dir_fd is None else dir_fd,
                                        AT_REMOVEDIR)


async def rename(src, dst, *, src_dir_fd=None, dst_dir_fd=None):
    """os.rename() (IORING_OP_RENAMEAT)."""
    await running_loop()._files.renameat(
        src, dst, AT_FDCWD if src_dir_fd is None else src_dir_fd,
        AT_FDCWD if dst_dir_fd is None else dst_dir_fd, 0)


replace = rename


async def mkdir(path, mode=0o777, *, dir_fd=None):
    """os.mkdir() (IORING_OP_MKDIRAT)."""
    await running_loop()._files.mkdirat(path, mode, AT_FDCWD if dir_fd is None else dir_fd)


async def makedirs(name, mode=0o777, exist_ok=False):
    """os.makedirs(), one MKDIRAT per missing level."""
    head, tail = os.path.split(name)
    if not tail:
        head, tail = os.path.split(head)
    if head and tail and not await exists(head):
        try:
            await makedirs(head, exist_ok=exist_ok)
        except FileExistsError:
            pass
    try:
        await mkdir(name, mode)
    except OSError:
        if not exist_ok or not await isdir(name):
            raise


async def link(src, dst, *, src_dir_fd=None, dst_dir_fd=None, follow_symlinks=True):
    """os.link() (IORING_OP_LINKAT)."""
    await running_loop()._files.linkat(
        src, dst, AT_FDCWD if src_dir_fd is None else src_dir_fd,
        AT_FDCWD if dst_dir_fd is None else dst_dir_fd,
        0x400 if follow_symlinks else 0)       # AT_SYMLINK_FOLLOW


async def symlink(src, dst, target_is_directory=False, *, dir_fd=None):
    """os.symlink() (IORING_OP_SYMLINKAT)."""
    await running_loop()._files.symlinkat(src, dst, AT_FDCWD if dir_fd is None else dir_fd)


async def fsync(fd):
    """os.fsync() (IORING_OP_FSYNC); fd may be a file object."""
    await running_loop()._files.fsync(_fd_of(fd), False)


async def fdatasync(fd):
    """os.fdatasync() (IORING_OP_FSYNC with IORING_FSYNC_DATASYNC)."""
    await running_loop()._files.fsync(_fd_of(fd), True)


async def fallocate(fd, offset, length, mode=0):
    """fallocate(2) (IORING_OP_FALLOCATE); os.posix_fallocate() when mode is 0."""
    await running_loop()._files.fallocate(_fd_of(fd), mode, offset, length)


async def fadvise(fd, offset, length, advice):
    """os.posix_fadvise() (IORING_OP_FADVISE)."""
    await running_loop()._files.fadvise(_fd_of(fd), offset, length, advice)


async def sendfile(out_fd, in_fd, offset, count):
    """os.sendfile(): copies up to count bytes of in_fd from offset to out_fd
    through a pipe with linked SPLICEs (the loop's splice pump, as
    loop.sendfile uses). Returns the bytes sent (fewer at the end of in_fd,
    or when in_fd fails after some bytes, as sendfile(2)); offset None reads
    from in_fd's position."""
    pump = running_loop()._files.splice_pump(
        _fd_of(in_fd), -1 if offset is None else offset, _fd_of(out_fd))
    return await pump.run(count)


async def listdir(path="."):
    """os.listdir(). The kernel has no io_uring opcode for reading a
    directory: this runs os.listdir in the loop's default executor."""
    return await running_loop().run_in_executor(None, os.listdir, path)


async def scandir(path="."):
    """list(os.scandir()). No io_uring opcode reads a directory: this runs
    in the loop's default executor."""
    def scan():
        with os.scandir(path) as entries:
            return list(entries)
    return await running_loop().run_in_executor(None, scan)


async def read_bytes(path):
    """The whole file as bytes. A file of up to SMALL_FILE bytes costs one
    chain -- OPENAT into a direct descriptor, READ, CLOSE -- and one wake-up;
    a larger one goes on with ordinary reads. (No STATX step: the kernel
    always runs STATX on a worker thread, which costs more than it tells; a
    short READ already says where the file ends.)"""
    loop = running_loop()
    f = ops.openat(path, os.O_RDONLY, direct=True)
    data = ops.read(f, SMALL_FILE, 0, hardlink=True)
    try:
        results = await loop.chain(f, data, ops.close(f))
        content = results[1]
    except ChainError as exc:
        failed = exc.results[exc.step]
        if exc.step == 1 and not isinstance(failed, OSError):
            content = failed            # short read: the whole file
        elif isinstance(failed, OSError):
            raise OSError(failed.errno, failed.strerror, path) from None
        else:
            raise OSError(exc.errno, exc.strerror, path) from None
    if len(content) < SMALL_FILE:
        return content
    # Larger than a chain's buffer: read the rest the usual way.
    async with open(path, "rb") as file:
        await file.seek(len(content))
        return content + await file.read()


async def read_text(path, encoding=None, errors=None):
    """The whole file decoded, as pathlib.Path.read_text() does."""
    async with open(path, "r", encoding=encoding, errors=errors) as f:
        return await f.read()


async def write_bytes(path, data):
    """Writes data to the file (created or truncated); returns len(data)."""
    view = memoryview(data)
    async with open(path, "wb") as f:
        return await f.write(view)


async def write_text(path, data, encoding=None, errors=None, newline=None):
    """Writes str data as pathlib.Path.write_text() does; returns len(data)."""
    if not isinstance(data, str):
        raise TypeError("data must be str, not %s" % data.__class__.__name__)
    async with open(path, "w", encoding=encoding, errors=errors, newline=newline) as f:
        return await f.write(data)

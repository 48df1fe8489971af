"""File-system helpers, like aiofiles.os, on any asyncio loop: on aiouring's
each is one io_uring request (or one linked chain), elsewhere the os function
in the loop's executor (aiouring.backend). They raise the same OSError
subclasses, errno and filenames as the os function they mirror.

Operations the kernel has no io_uring opcode for run in the executor on
every loop and say so below (listdir, scandir)."""

from __future__ import annotations

import os
import stat as stat_module
from collections.abc import Callable
from typing import TYPE_CHECKING, AnyStr, Self, overload

from . import backend
from .files import open

if TYPE_CHECKING:
    from _typeshed import (BytesPath, FileDescriptorLike, FileDescriptorOrPath,
                           ReadableBuffer, StrOrBytesPath, StrPath)

__all__ = ["stat", "lstat", "exists", "isfile", "isdir", "islink", "getsize",
           "unlink", "remove", "rename", "replace", "mkdir", "makedirs", "rmdir",
           "link", "symlink", "fsync", "fdatasync", "fallocate", "fadvise",
           "sendfile", "listdir", "scandir", "read_bytes", "read_text",
           "write_bytes", "write_text"]


def _fd_of(fd: FileDescriptorLike) -> int:
    """A descriptor, or a file object's for a call that leaves its position."""
    if isinstance(fd, int):
        return fd
    descriptor: Callable[[], int] | None = getattr(fd, "_descriptor", None)
    return descriptor() if descriptor is not None else fd.fileno()


async def stat(path: FileDescriptorOrPath, *, dir_fd: int | None = None,
               follow_symlinks: bool = True) -> os.stat_result:
    """os.stat() (IORING_OP_STATX); path may be an open descriptor."""
    return await backend.current().stat(path, dir_fd, follow_symlinks)


async def lstat(path: StrOrBytesPath, *, dir_fd: int | None = None) -> os.stat_result:
    """os.lstat() (IORING_OP_STATX with AT_SYMLINK_NOFOLLOW)."""
    return await stat(path, dir_fd=dir_fd, follow_symlinks=False)


async def _stat_or_none(path: FileDescriptorOrPath,
                        follow_symlinks: bool = True) -> os.stat_result | None:
    try:
        return await stat(path, follow_symlinks=follow_symlinks)
    except (OSError, ValueError):
        return None


async def exists(path: FileDescriptorOrPath) -> bool:
    """os.path.exists()."""
    return await _stat_or_none(path) is not None


async def isfile(path: FileDescriptorOrPath) -> bool:
    """os.path.isfile()."""
    st = await _stat_or_none(path)
    return st is not None and stat_module.S_ISREG(st.st_mode)


async def isdir(path: FileDescriptorOrPath) -> bool:
    """os.path.isdir()."""
    st = await _stat_or_none(path)
    return st is not None and stat_module.S_ISDIR(st.st_mode)


async def islink(path: StrOrBytesPath) -> bool:
    """os.path.islink()."""
    st = await _stat_or_none(path, follow_symlinks=False)
    return st is not None and stat_module.S_ISLNK(st.st_mode)


async def getsize(path: FileDescriptorOrPath) -> int:
    """os.path.getsize()."""
    return (await stat(path)).st_size


async def unlink(path: StrOrBytesPath, *, dir_fd: int | None = None) -> None:
    """os.unlink() (IORING_OP_UNLINKAT)."""
    await backend.current().unlink(path, dir_fd)


remove = unlink


async def rmdir(path: StrOrBytesPath, *, dir_fd: int | None = None) -> None:
    """os.rmdir() (IORING_OP_UNLINKAT with AT_REMOVEDIR)."""
    await backend.current().unlink(path, dir_fd, directory=True)


async def rename(src: StrOrBytesPath, dst: StrOrBytesPath, *, src_dir_fd: int | None = None,
                 dst_dir_fd: int | None = None) -> None:
    """os.rename() (IORING_OP_RENAMEAT)."""
    await backend.current().rename(src, dst, src_dir_fd, dst_dir_fd)


replace = rename


async def mkdir(path: StrOrBytesPath, mode: int = 0o777, *, dir_fd: int | None = None) -> None:
    """os.mkdir() (IORING_OP_MKDIRAT)."""
    await backend.current().mkdir(path, mode, dir_fd)


async def makedirs(name: StrOrBytesPath, mode: int = 0o777, exist_ok: bool = False, *,
                   parent_mode: int | None = None) -> None:
    """os.makedirs(), one MKDIRAT per missing level; parent_mode (Python
    3.15's) is the mode of the levels it creates above name."""
    head, tail = os.path.split(name)
    if not tail:
        head, tail = os.path.split(head)
    if head and tail and not await exists(head):
        try:
            await makedirs(head, 0o777 if parent_mode is None else parent_mode, exist_ok,
                           parent_mode=parent_mode)
        except FileExistsError:
            pass        # made meanwhile by someone else
        if tail in (os.curdir, os.curdir.encode()):
            return      # "new/." exists once "new" does
    try:
        await mkdir(name, mode)
    except OSError:
        if not exist_ok or not await isdir(name):
            raise


async def link(src: StrOrBytesPath, dst: StrOrBytesPath, *, src_dir_fd: int | None = None,
               dst_dir_fd: int | None = None, follow_symlinks: bool = True) -> None:
    """os.link() (IORING_OP_LINKAT)."""
    await backend.current().link(src, dst, src_dir_fd, dst_dir_fd, follow_symlinks)


async def symlink(src: StrOrBytesPath, dst: StrOrBytesPath, target_is_directory: bool = False,
                  *, dir_fd: int | None = None) -> None:
    """os.symlink() (IORING_OP_SYMLINKAT)."""
    await backend.current().symlink(src, dst, dir_fd)


async def fsync(fd: FileDescriptorLike) -> None:
    """os.fsync() (IORING_OP_FSYNC); fd may be a file object."""
    await backend.current().fsync(_fd_of(fd), False)


async def fdatasync(fd: FileDescriptorLike) -> None:
    """os.fdatasync() (IORING_OP_FSYNC with IORING_FSYNC_DATASYNC)."""
    await backend.current().fsync(_fd_of(fd), True)


async def fallocate(fd: FileDescriptorLike, offset: int, length: int, mode: int = 0) -> None:
    """fallocate(2) (IORING_OP_FALLOCATE); os.posix_fallocate() when mode is 0."""
    await backend.current().fallocate(_fd_of(fd), mode, offset, length)


async def fadvise(fd: FileDescriptorLike, offset: int, length: int, advice: int) -> None:
    """os.posix_fadvise() (IORING_OP_FADVISE)."""
    await backend.current().fadvise(_fd_of(fd), offset, length, advice)


async def sendfile(out_fd: FileDescriptorLike, in_fd: FileDescriptorLike, offset: int | None,
                   count: int) -> int:
    """os.sendfile(), but copies all count bytes unless in_fd ends first
    (on aiouring's loop through a pipe, each piece one chain of two
    SPLICEs: one wake-up). Returns the bytes sent; offset None reads from
    in_fd's position (a file object's position is shared from then on, as
    after fileno())."""
    out_fd = out_fd if isinstance(out_fd, int) else out_fd.fileno()
    in_fd = in_fd if isinstance(in_fd, int) else in_fd.fileno()
    return await backend.current().sendfile(out_fd, in_fd, offset, count)


@overload
async def listdir(path: StrPath | int | None = None) -> list[str]: ...
@overload
async def listdir(path: BytesPath) -> list[bytes]: ...
async def listdir(path: StrOrBytesPath | int | None = None) -> list[str] | list[bytes]:
    """os.listdir(). The kernel has no io_uring opcode for reading a
    directory: this runs os.listdir in the executor on every loop."""
    return await backend.current().call(os.listdir, path)


class DirectoryEntries(list[os.DirEntry[AnyStr]]):
    """What scandir() returns: the os.DirEntry objects, read in one go in
    the executor, as a list that is also a context manager (as os.scandir()'s
    iterator is), so ``with await scandir(p) as entries:`` works too."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing stays open: the directory was read and closed already."""


@overload
async def scandir(path: StrPath | int | None = None) -> DirectoryEntries[str]: ...
@overload
async def scandir(path: BytesPath) -> DirectoryEntries[bytes]: ...
async def scandir(
        path: StrOrBytesPath | int | None = None,
) -> DirectoryEntries[str] | DirectoryEntries[bytes]:
    """os.scandir(), read to the end in the executor (no io_uring opcode
    reads a directory): a DirectoryEntries list of os.DirEntry."""
    def scan() -> DirectoryEntries[str] | DirectoryEntries[bytes]:
        with os.scandir(path) as entries:
            return DirectoryEntries(entries)
    return await backend.current().call(scan)


async def read_bytes(path: StrOrBytesPath) -> bytes:
    """The whole file as bytes. On aiouring's loop a regular file of up to
    64 KiB costs one wake-up -- OPENAT, then a READ of the whole file queued
    from its completion, and a CLOSE nobody waits for; a larger one goes on
    with ordinary reads."""
    return await backend.current().read_file(os.fspath(path))


async def read_text(path: FileDescriptorOrPath, encoding: str | None = None,
                    errors: str | None = None) -> str:
    """The whole file decoded, as pathlib.Path.read_text() does."""
    async with open(path, "r", encoding=encoding, errors=errors) as f:
        return await f.read()


async def write_bytes(path: FileDescriptorOrPath, data: ReadableBuffer) -> int:
    """Writes data to the file (created or truncated); returns len(data)."""
    view = memoryview(data)
    async with open(path, "wb") as f:
        return await f.write(view)


async def write_text(path: FileDescriptorOrPath, data: str, encoding: str | None = None,
                     errors: str | None = None, newline: str | None = None) -> int:
    """Writes str data as pathlib.Path.write_text() does; returns len(data)."""
    if not isinstance(data, str):
        raise TypeError(f"data must be str, not {data.__class__.__name__}")

    async with open(path, "w", encoding=encoding, errors=errors, newline=newline) as f:
        return await f.write(data)

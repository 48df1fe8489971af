"""aiofiles.ospath's namespace on aiouring (also aiouring.os.path): os.path's
file queries as coroutine functions, answered by stat requests (io_uring
STATX on aiouring's loop, the executor elsewhere)."""

from __future__ import annotations

import os as _os
import stat as _stat
from typing import TYPE_CHECKING, AnyStr

from . import fs
from .fs import lstat, stat

if TYPE_CHECKING:
    from _typeshed import FileDescriptorOrPath, StrOrBytesPath

__all__ = ["abspath", "getatime", "getctime", "getmtime", "getsize", "exists",
           "isdir", "isfile", "islink", "ismount", "samefile", "sameopenfile"]


# With os.path's parameter names (aiouring.fs has the same queries).


async def exists(path: FileDescriptorOrPath) -> bool:
    """os.path.exists()."""
    return await fs.exists(path)


async def isfile(path: FileDescriptorOrPath) -> bool:
    """os.path.isfile()."""
    return await fs.isfile(path)


async def isdir(s: FileDescriptorOrPath) -> bool:
    """os.path.isdir()."""
    return await fs.isdir(s)


async def islink(path: StrOrBytesPath) -> bool:
    """os.path.islink()."""
    return await fs.islink(path)


async def getsize(filename: FileDescriptorOrPath) -> int:
    """os.path.getsize()."""
    return (await stat(filename)).st_size


async def abspath(path: _os.PathLike[AnyStr] | AnyStr) -> AnyStr:
    """os.path.abspath() (no I/O: at most the working directory is asked)."""
    return _os.path.abspath(path)


async def getatime(filename: FileDescriptorOrPath) -> float:
    """os.path.getatime()."""
    return (await stat(filename)).st_atime


async def getmtime(filename: FileDescriptorOrPath) -> float:
    """os.path.getmtime()."""
    return (await stat(filename)).st_mtime


async def getctime(filename: FileDescriptorOrPath) -> float:
    """os.path.getctime()."""
    return (await stat(filename)).st_ctime


async def ismount(path: StrOrBytesPath) -> bool:
    """os.path.ismount(): path is a mount point when its parent is on
    another device, or is the same inode (the root)."""
    path = _os.fspath(path)
    try:
        here = await lstat(path)
    except (OSError, ValueError):
        return False
    if _stat.S_ISLNK(here.st_mode):
        return False
    try:
        parent = await lstat(_os.path.join(path, b"..") if isinstance(path, bytes)
                             else _os.path.join(path, ".."))
    except (OSError, ValueError):
        return False
    return here.st_dev != parent.st_dev or here.st_ino == parent.st_ino


async def samefile(f1: FileDescriptorOrPath, f2: FileDescriptorOrPath) -> bool:
    """os.path.samefile()."""
    return _os.path.samestat(await stat(f1), await stat(f2))


async def sameopenfile(fp1: int, fp2: int) -> bool:
    """os.path.sameopenfile() of two descriptors."""
    return _os.path.samestat(await stat(fp1), await stat(fp2))

"""aiofiles.os's namespace on aiouring, so that ``from aiofiles import os``
becomes ``from aiouring import os``: the same coroutine functions, with the
os module's arguments and errors. On aiouring's loop the ones the kernel has
an io_uring request for are that request (stat, rename, replace, remove,
unlink, mkdir, makedirs, rmdir, link, symlink, sendfile; renames and
removedirs are made of them); the rest run in the executor, as do all of
them on other loops (see aiouring.backend)."""

from __future__ import annotations

import functools
import os as _os
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from . import backend as _backend
from . import ospath as path
from .fs import (link, listdir, lstat, makedirs, mkdir, remove, rename, replace,
                 rmdir, scandir, sendfile, stat, symlink, unlink)

__all__ = ["path", "stat", "statvfs", "sendfile", "rename", "renames", "replace",
           "remove", "unlink", "mkdir", "makedirs", "rmdir", "removedirs", "link",
           "symlink", "readlink", "listdir", "scandir", "access", "getcwd", "wrap",
           "lstat"]

if TYPE_CHECKING:
    import asyncio
    from concurrent.futures import Executor

    from _typeshed import StrOrBytesPath

_T = TypeVar("_T")
_P = ParamSpec("_P")


def wrap(func: Callable[_P, _T]) -> Callable[..., Coroutine[Any, Any, _T]]:
    """A coroutine function that runs func in the executor, as
    aiofiles.os.wrap: extra keyword arguments ``loop`` and ``executor``
    choose where (default: the running loop and its default executor)."""
    @functools.wraps(func)
    async def run(*args: Any, loop: asyncio.AbstractEventLoop | None = None,
                  executor: Executor | None = None, **kwargs: Any) -> _T:
        return await _backend.current(loop, executor).call(func, *args, **kwargs)
    return run


access = wrap(_os.access)
getcwd = wrap(_os.getcwd)
# os.readlink is generic in str/bytes, which wrap()'s signature cannot carry.
readlink: Callable[..., Coroutine[Any, Any, str | bytes]] = wrap(
    _os.readlink)  # type: ignore[arg-type]
statvfs = wrap(_os.statvfs)


async def removedirs(name: StrOrBytesPath) -> None:
    """os.removedirs(): removes the directory, then each parent that is left
    empty, stopping quietly at the first that cannot be removed."""
    await rmdir(name)
    head, tail = _os.path.split(name)
    if not tail:
        head, tail = _os.path.split(head)
    while head and tail:
        try:
            await rmdir(head)
        except OSError:
            break
        head, tail = _os.path.split(head)


async def renames(old: StrOrBytesPath, new: StrOrBytesPath) -> None:
    """os.renames(): creates the directories new needs, renames, then
    removes the directories old leaves empty."""
    head, tail = _os.path.split(new)
    if head and tail and not await path.exists(head):
        await makedirs(head)
    await rename(old, new)
    head, tail = _os.path.split(old)
    if head and tail:
        try:
            await removedirs(head)
        except OSError:
            pass

"""aiouring offers what aiofiles documents, with the same kind of callable
(coroutine function or plain) and the same parameters, so that replacing
``import aiofiles`` with ``import aiouring as aiofiles`` is the whole change.
The list is read from the installed aiofiles, so a name it adds fails here
until aiouring has it (or it joins EXCLUDED with a reason)."""

import inspect

import aiofiles
import aiofiles.os
import aiofiles.ospath
import aiofiles.tempfile
import aiofiles.tempfile.temptypes
import aiofiles.threadpool.binary
import aiofiles.threadpool.text
import pytest

import aiouring
import aiouring.buffered
import aiouring.rawfile
import aiouring.stdio
import aiouring.tempfile
import aiouring.text

MODULES = [(aiofiles, aiouring), (aiofiles.os, aiouring.os),
           (aiofiles.ospath, aiouring.ospath), (aiofiles.tempfile, aiouring.tempfile)]

# aiofiles' file wrappers and the aiouring classes that stand for them.
CLASSES = [
    (aiofiles.threadpool.text.AsyncTextIOWrapper, aiouring.text.AsyncTextIOWrapper),
    (aiofiles.threadpool.binary.AsyncBufferedReader, aiouring.buffered.AsyncBufferedFile),
    (aiofiles.threadpool.binary.AsyncBufferedIOBase, aiouring.buffered.AsyncBufferedFile),
    (aiofiles.threadpool.binary.AsyncFileIO, aiouring.rawfile.AsyncFileIO),
    (aiofiles.threadpool.text.AsyncTextIndirectIOWrapper, aiouring.stdio.AsyncStandardText),
    (aiofiles.threadpool.binary.AsyncIndirectBufferedIOBase, aiouring.stdio.AsyncStandardBytes),
    (aiofiles.tempfile.temptypes.AsyncSpooledTemporaryFile,
     aiouring.tempfile.AsyncSpooledTemporaryFile),
    (aiofiles.tempfile.temptypes.AsyncTemporaryDirectory,
     aiouring.tempfile.AsyncTemporaryDirectory),
]

# Documented names of aiofiles' that aiouring leaves out on purpose, with
# why. (Private names -- _file, _executor, _loop, _check... -- are aiofiles'
# machinery for wrapping a synchronous file, and are not compared.)
EXCLUDED = set()

# Instance attributes (set in __init__, not visible on the class).
INSTANCE_ATTRIBUTES = {aiouring.rawfile.AsyncFileIO: {"name", "mode"},
                       aiouring.tempfile.AsyncTemporaryDirectory: {"name"},
                       aiouring.text.AsyncTextIOWrapper: {"mode"}}


def _public(module):
    return list(getattr(module, "__all__", ()))


@pytest.mark.parametrize("theirs, ours", MODULES, ids=[m[0].__name__ for m in MODULES])
def test_module_names(theirs, ours):
    missing = [name for name in _public(theirs)
               if name not in EXCLUDED and not hasattr(ours, name)]
    assert not missing, f"{ours.__name__} lacks {missing} of {theirs.__name__}"
    for name in _public(theirs):
        mine, other = getattr(ours, name), getattr(theirs, name)
        assert inspect.ismodule(mine) == inspect.ismodule(other), name
        if callable(other) and not inspect.isclass(other):
            assert _is_coroutine(mine) == _is_coroutine(other), name
            _check_parameters(f"{ours.__name__}.{name}", other, mine)


def _is_coroutine(func):
    return inspect.iscoroutinefunction(inspect.unwrap(func)) or inspect.iscoroutinefunction(func)


def _parameters(func):
    try:
        return inspect.signature(func).parameters
    except (TypeError, ValueError):     # a builtin without a signature
        return None


def _check_parameters(label, theirs, ours):
    """Every parameter aiofiles' callable takes by name, ours takes too."""
    their_params, our_params = _parameters(theirs), _parameters(ours)
    if their_params is None or our_params is None:
        return
    if any(p.kind is p.VAR_KEYWORD for p in our_params.values()):
        return
    for name, param in their_params.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        assert name in our_params, f"{label} does not take {name!r}"


def _attributes(cls):
    names = set()
    for klass in cls.__mro__:
        if klass is object:
            continue
        names.update(name for name in vars(klass)
                      if not name.startswith("_") or name in ("__aiter__", "__anext__"))
    return names - EXCLUDED


@pytest.mark.parametrize("theirs, ours", CLASSES, ids=[c[0].__name__ for c in CLASSES])
def test_file_object_attributes(theirs, ours):
    known = INSTANCE_ATTRIBUTES.get(ours, set())
    missing = sorted(name for name in _attributes(theirs)
                     if not hasattr(ours, name) and name not in known)
    assert not missing, f"{ours.__name__} lacks {missing} of aiofiles' {theirs.__name__}"
    for name in _attributes(theirs) - known:
        other, mine = inspect.getattr_static(theirs, name), inspect.getattr_static(ours, name)
        if isinstance(other, property):
            assert isinstance(mine, property), f"{ours.__name__}.{name} is not a property"
        elif callable(other):
            assert _is_coroutine(mine) == _is_coroutine(other), (
                f"{ours.__name__}.{name}: coroutine function in one, not the other")


def test_documented_coroutine_methods_are_coroutines():
    """aiofiles' README names the file methods that are coroutines."""
    documented = ["close", "flush", "isatty", "read", "readall", "read1", "readinto",
                  "readline", "readlines", "seek", "seekable", "tell", "truncate",
                  "writable", "write", "writelines"]
    for cls in (aiouring.text.AsyncTextIOWrapper, aiouring.buffered.AsyncBufferedFile,
                aiouring.rawfile.AsyncFileIO):
        for name in documented:
            method = getattr(cls, name, None)
            if method is None:      # as io: text has no read1/readinto, raw no read1
                assert name in ("readall", "read1", "readinto"), (cls, name)
                continue
            assert inspect.iscoroutinefunction(method), (cls.__name__, name)


def test_import_aiouring_as_aiofiles(tmp_path):
    """The one-line change, exercised on a real file and directory."""
    import aiouring as aiofiles_replacement

    async def main():
        async with aiofiles_replacement.open(tmp_path / "f", "w") as f:
            await f.write("hello\n")
        assert await aiofiles_replacement.os.path.getsize(tmp_path / "f") == 6
        assert await aiofiles_replacement.ospath.exists(tmp_path / "f")
        async with aiofiles_replacement.tempfile.TemporaryDirectory() as d:
            assert await aiofiles_replacement.os.path.isdir(d)
        async with aiofiles_replacement.tempfile.NamedTemporaryFile("w+") as t:
            await t.write("x")
            await t.seek(0)
            assert await t.read() == "x"
    aiouring.run(main())

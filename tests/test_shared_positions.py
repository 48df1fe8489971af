"""Files whose position is shared -- a descriptor passed in, append mode, an
inherited stdout, a descriptor handed out by fileno() -- read and write at
the descriptor's own position, so whatever else moves it (os.write,
os.lseek, a shell) interleaves exactly as with the built-in open(); on
every loop (the on_loop fixture)."""

import os
import subprocess
import sys
import textwrap

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

import aiouring

SETTINGS = settings(max_examples=int(os.environ.get("AIOURING_EXAMPLES", 40)), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODE_FLAGS = {"r+b": os.O_RDWR, "wb": os.O_WRONLY, "ab": os.O_WRONLY | os.O_APPEND,
              "a+b": os.O_RDWR | os.O_APPEND}

outside_ops = st.one_of(
    st.tuples(st.just("os.write"), st.binary(min_size=1, max_size=50)),
    st.tuples(st.just("os.lseek"), st.tuples(st.integers(0, 300), st.sampled_from([0, 1, 2]))),
)
file_ops = st.one_of(
    st.tuples(st.just("write"), st.binary(max_size=300)),
    st.tuples(st.just("tell"), st.none()),
    st.tuples(st.just("seek"), st.tuples(st.integers(0, 300), st.sampled_from([0, 1, 2]))),
)
unbuffered_ops = st.one_of(
    outside_ops, file_ops,
    st.tuples(st.just("read"), st.integers(-1, 300)),
    st.tuples(st.just("os.read"), st.integers(0, 100)),
)
buffered_ops = st.one_of(outside_ops, file_ops, st.tuples(st.just("flush"), st.none()))


def _seek_args(arg):
    offset, whence = arg
    return (offset, whence) if whence == 0 else (-min(offset, 20) if whence == 2 else 0, whence)


def _outside(fd, op, arg):
    try:
        if op == "os.write":
            return os.write(fd, arg)
        if op == "os.read":
            return os.read(fd, arg)
        return os.lseek(fd, *_seek_args(arg))
    except OSError as exc:
        return type(exc), exc.errno


def _sync(f, op, arg):
    try:
        if op == "seek":
            return f.seek(*_seek_args(arg))
        if op in ("tell", "flush"):
            return getattr(f, op)()
        return getattr(f, op)(arg)
    except OSError as exc:
        return type(exc), exc.errno


async def _async(f, op, arg):
    try:
        if op == "seek":
            return await f.seek(*_seek_args(arg))
        if op in ("tell", "flush"):
            return await getattr(f, op)()
        return await getattr(f, op)(arg)
    except OSError as exc:
        return type(exc), exc.errno


@SETTINGS
@given(initial=st.binary(max_size=200), mode=st.sampled_from(sorted(MODE_FLAGS)),
       buffering=st.sampled_from([0, -1, 16]), data=st.data())
def test_passed_in_descriptor_interleaves_as_builtin_open(on_loop, tmp_path, initial, mode,
                                                         buffering, data):
    """The same steps through open(fd) and aiouring.open(fd), with os.write,
    os.lseek and os.read on the same descriptor in between: same results,
    same file, same descriptor position. (Buffered files: reads are left
    out, as how much a buffered read takes ahead is the built-in's choice.)"""
    steps = data.draw(st.lists(unbuffered_ops if buffering == 0 else buffered_ops, max_size=14))
    if "+" not in mode and mode != "r+b":
        steps = [s for s in steps if s[0] not in ("read", "os.read")]
    paths = [tmp_path / "a", tmp_path / "b"]
    for p in paths:
        p.write_bytes(initial)
    fds = [os.open(p, MODE_FLAGS[mode]) for p in paths]

    async def main():
        with open(fds[0], mode, buffering=buffering, closefd=False) as expected:
            async with aiouring.open(fds[1], mode, buffering=buffering, closefd=False) as got:
                for op, arg in steps:
                    if op.startswith("os."):
                        assert _outside(fds[1], op, arg) == _outside(fds[0], op, arg), op
                    else:
                        assert await _async(got, op, arg) == _sync(expected, op, arg), (op, arg)
                    assert os.lseek(fds[1], 0, 1) == os.lseek(fds[0], 0, 1), op
    try:
        on_loop(main())
        assert paths[1].read_bytes() == paths[0].read_bytes()
    finally:
        for fd in fds:
            os.close(fd)


@pytest.mark.parametrize("sizes", [[16], [10, 6], [10, 7], [10, 16], [0, 16], [15, 1, 1]])
def test_writes_reach_the_descriptor_when_the_builtins_do(on_loop, tmp_path, sizes):
    """Which writes a 16-byte buffer keeps and which go to the file at once
    (a write of exactly the buffer's size goes at once from Python 3.13 on):
    the descriptor's position after each write is the built-in's."""
    fds = [os.open(tmp_path / name, os.O_RDWR | os.O_CREAT) for name in "ab"]

    async def main():
        with open(fds[0], "r+b", buffering=16, closefd=False) as expected:
            async with aiouring.open(fds[1], "r+b", buffering=16, closefd=False) as got:
                for n in sizes:
                    expected.write(b"x" * n)
                    await got.write(b"x" * n)
                    assert os.lseek(fds[1], 0, 1) == os.lseek(fds[0], 0, 1), n

    try:
        on_loop(main())
    finally:
        for fd in fds:
            os.close(fd)


def test_the_issue_example(on_loop, tmp_path):
    """AAAA through aiouring.open(fd), then BB through os.write: AAAABB,
    as open() and aiofiles give (positional writes gave BBAA)."""
    path = tmp_path / "f"

    async def main():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        async with aiouring.open(fd, "wb", closefd=False) as f:
            await f.write(b"AAAA")
        os.write(fd, b"BB")
        os.close(fd)
    on_loop(main())
    assert path.read_bytes() == b"AAAABB"


def test_fileno_shares_the_position(on_loop, tmp_path):
    """A file opened by name keeps its own position until fileno() hands the
    descriptor out; from then on both ways of writing interleave."""
    path = tmp_path / "f"

    async def main():
        async with aiouring.open(path, "wb", buffering=0) as f:
            await f.write(b"AAAA")
            os.write(f.fileno(), b"BB")
            await f.write(b"CC")
            assert await f.tell() == 8
        async with aiouring.open(path, "r+b", buffering=0) as f:
            assert await f.read(2) == b"AA"
            fd = f.fileno()
            assert os.lseek(fd, 0, os.SEEK_CUR) == 2    # where the object stands
            assert os.read(fd, 2) == b"AA"
            assert await f.read() == b"BBCC"
    on_loop(main())
    assert path.read_bytes() == b"AAAABBCC"


def test_inherited_stdout_keeps_the_shells_order(on_loop, tmp_path):
    """A shell writes, a child writes to its inherited stdout through
    aiouring.open(1) and aiouring.stdout, the shell writes again: every line
    lands after the one before, as with print()."""
    out = tmp_path / "out.txt"
    child = textwrap.dedent(f"""
        import asyncio, sys
        import aiouring
        from aiouring.pytest_plugin import LOOP_FACTORIES

        async def main():
            async with aiouring.open(1, "w", closefd=False) as f:
                await f.write("through open(1)\\n")
            await aiouring.stdout.write("through aiouring.stdout\\n")
            await aiouring.stdout.flush()
            await aiouring.stdout_bytes.write(b"through stdout_bytes\\n")
            await aiouring.stdout_bytes.flush()

        with asyncio.Runner(loop_factory=LOOP_FACTORIES[{on_loop.name!r}]) as runner:
            runner.run(main())
    """)
    script = f'echo before; "{sys.executable}" -c "$CHILD"; echo after'
    env = dict(os.environ, CHILD=child, PYTHONPATH=ROOT)
    with open(out, "wb") as stdout:
        subprocess.run(["sh", "-c", script], stdout=stdout, env=env, check=True, timeout=60)
    assert out.read_text() == ("before\nthrough open(1)\nthrough aiouring.stdout\n"
                               "through stdout_bytes\nafter\n")


def test_append_mode_reads_and_writes_at_the_descriptor(on_loop, tmp_path):
    path = tmp_path / "log"
    path.write_bytes(b"start\n")

    async def main():
        async with aiouring.open(path, "a+b", buffering=0) as f:
            assert await f.tell() == 6
            await f.seek(0)
            assert await f.read(5) == b"start"
            await f.write(b"more\n")                # O_APPEND: at the end
            assert await f.tell() == 11
            os.write(f.fileno(), b"outside\n")
            await f.write(b"last\n")
    on_loop(main())
    assert path.read_bytes() == b"start\nmore\noutside\nlast\n"

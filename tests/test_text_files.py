"""aiouring's text layer (aiouring.text) against the built-in open() on the
same bytes: reads, lines, iteration, writes, newline modes, multi-byte and
stateful encodings, tell()/seek() round trips and '+' modes -- on every loop
(the on_loop fixture)."""

import io
import os

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

import aiouring

SETTINGS = settings(max_examples=int(os.environ.get("AIOURING_EXAMPLES", 40)), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

ENCODINGS = ["utf-8", "utf-16", "utf-16-le", "latin-1", "cp1252", "utf-8-sig",
             "utf-7", "iso2022_jp", "shift_jis"]
NEWLINES = [None, "", "\n", "\r", "\r\n"]
TEXT = st.text(alphabet=st.sampled_from("aé€\n\r𝄞 x日本+-"), max_size=3000)

read_ops = st.one_of(
    st.tuples(st.just("read"), st.integers(-1, 3000)),
    st.tuples(st.just("readline"), st.integers(-1, 100)),
    st.tuples(st.just("readlines"), st.integers(-1, 100)),
    st.tuples(st.just("next"), st.none()),
    st.tuples(st.just("tell"), st.none()),
    st.tuples(st.just("seekback"), st.integers(0, 10)),
    st.tuples(st.just("seek"), st.sampled_from([(0, 0), (0, 1), (0, 2)])),
)


async def _outcome(coro):
    try:
        return "ok", await coro
    except (UnicodeError, OSError, ValueError) as exc:
        return "error", type(exc)


def _outcome_sync(method, arg):
    try:
        return "ok", method(arg)
    except (UnicodeError, OSError, ValueError) as exc:
        return "error", type(exc)


async def _next(f):
    try:
        return await f.__anext__()
    except StopAsyncIteration:
        return None


def _next_sync(f):
    try:
        return next(f)
    except StopIteration:
        return None


@SETTINGS
@example(text="a\rb", encoding="utf-8", newline=None, raw=None,
         steps=[("read", 2), ("tell", None), ("read", 1), ("seekback", 0), ("read", -1)])
@example(text="日本a+b日", encoding="iso2022_jp", newline="", raw=None,
         steps=[("read", 1), ("tell", None), ("read", 2), ("seekback", 0), ("read", -1)])
@example(text="aé€b", encoding="utf-7", newline="", raw=None,
         steps=[("read", 2), ("tell", None), ("read", 1), ("seekback", 0), ("read", -1)])
@given(text=TEXT, encoding=st.sampled_from(ENCODINGS), newline=st.sampled_from(NEWLINES),
       raw=st.none() | st.binary(max_size=500),
       steps=st.lists(read_ops, max_size=12))
def test_text_reads_match_builtin_open(on_loop, tmp_path, text, encoding, newline, raw, steps):
    """Same characters from each read, same lines; a cookie from tell()
    brings reading back to the same place. Undecodable input (raw bytes)
    is replaced the same way."""
    path = tmp_path / "data.txt"
    path.write_bytes(text.encode(encoding, errors="replace") if raw is None else raw)
    errors = "strict" if raw is None else "replace"
    if raw is not None and encoding in ("iso2022_jp", "shift_jis", "utf-16"):
        # Garbage: UTF-16 refuses it without a BOM (UnicodeError, not
        # replaced); the CJK codecs' replacement depends on chunking.
        encoding = "utf-16-le"

    async def main():
        saved = []      # (built-in cookie, aiouring cookie)
        with open(path, encoding=encoding, errors=errors, newline=newline) as expected:
            async with aiouring.open(path, "r", encoding=encoding, errors=errors,
                                     newline=newline) as got:
                for op, arg in steps:
                    if op == "next":
                        assert await _next(got) == _next_sync(expected)
                    elif op == "tell":
                        try:
                            cookie = expected.tell()
                        except OSError:     # the built-in refuses during iteration
                            continue
                        saved.append((cookie, await got.tell()))
                    elif op == "seekback":
                        if saved:
                            cookie, ours = saved[arg % len(saved)]
                            expected.seek(cookie)
                            assert await got.seek(ours) == ours
                    elif op == "seek" and arg[1] == os.SEEK_CUR:
                        try:        # opaque cookies: compare what follows
                            expected.seek(0, os.SEEK_CUR)
                        except OSError:     # the built-in refuses during iteration
                            pass
                        await got.seek(0, os.SEEK_CUR)
                    elif op == "seek":
                        assert await got.seek(*arg) == expected.seek(*arg)
                    else:
                        assert await getattr(got, op)(arg) == getattr(expected, op)(arg), (op, arg)
                assert [line async for line in got] == list(expected)
                assert got.newlines == expected.newlines
    on_loop(main())


@SETTINGS
@given(chunks=st.lists(TEXT.map(lambda t: t[:300]), max_size=8),
       encoding=st.sampled_from(ENCODINGS), newline=st.sampled_from(NEWLINES),
       mode=st.sampled_from(["w", "a"]), line_buffering=st.booleans())
def test_text_writes_match_builtin_open(on_loop, tmp_path, chunks, encoding, newline,
                                        mode, line_buffering):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    for p in (a, b):
        p.write_bytes(b"x\n")

    async def main():
        with open(a, mode, encoding=encoding, errors="replace", newline=newline,
                  buffering=1 if line_buffering else -1) as expected:
            async with aiouring.open(b, mode, encoding=encoding, errors="replace",
                                     newline=newline,
                                     buffering=1 if line_buffering else -1) as got:
                assert got.line_buffering == expected.line_buffering
                for chunk in chunks:
                    assert await got.write(chunk) == expected.write(chunk)
                    assert await got.tell() == expected.tell()
                    if line_buffering:      # both handed complete lines to the file
                        assert b.read_bytes() == a.read_bytes()
    on_loop(main())
    assert b.read_bytes() == a.read_bytes()


plus_ops = st.one_of(
    st.tuples(st.just("write"), TEXT.map(lambda t: t[:200])),
    st.tuples(st.just("read"), st.integers(-1, 500)),
    st.tuples(st.just("readline"), st.integers(-1, 100)),
    st.tuples(st.just("tell"), st.none()),
    st.tuples(st.just("seekback"), st.integers(0, 10)),
    st.tuples(st.just("seek"), st.sampled_from([(0, 0), (0, 2)])),
    st.tuples(st.just("flush"), st.none()),
)
# Encodings and newline modes in which every character boundary is a plain
# byte position: there the built-in's seek(tell()) puts a write where ours goes.
PLAIN = {"utf-8", "utf-16-le", "latin-1", "cp1252"}


@SETTINGS
@given(initial=TEXT.map(lambda t: t[:1000]), mode=st.sampled_from(["r+", "w+", "a+"]),
       encoding=st.sampled_from(ENCODINGS), newline=st.sampled_from(NEWLINES),
       steps=st.lists(plus_ops, max_size=12))
def test_text_plus_modes_match_builtin_open(on_loop, tmp_path, initial, mode, encoding,
                                            newline, steps):
    """Writes, then reads of what was written, in '+' modes. Two faults of
    the built-in are kept out of the comparison: it is flushed after each
    write (otherwise a read right after a write can return what the write
    replaced), and a write after reads goes where reading stands: the
    built-in gets there with seek(tell()) (by itself it writes past its
    read-ahead)."""
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    for p in (a, b):
        p.write_bytes(initial.encode(encoding, errors="replace"))
    plain = encoding in PLAIN and newline is not None

    async def main():
        saved, read_last = [], False
        with open(a, mode, encoding=encoding, errors="replace", newline=newline) as expected:
            async with aiouring.open(b, mode, encoding=encoding, errors="replace",
                                     newline=newline) as got:
                for op, arg in steps:
                    if op == "write":
                        if read_last:
                            if plain:
                                expected.seek(expected.tell())
                            else:
                                expected.seek(0, 2)
                                await got.seek(0, 2)
                        assert await got.write(arg) == expected.write(arg)
                        expected.flush()
                    elif op == "tell":
                        saved.append((expected.tell(), await got.tell()))
                    elif op == "seekback":
                        if saved:
                            cookie, ours = saved[arg % len(saved)]
                            expected.seek(cookie)
                            await got.seek(ours)
                    elif op == "seek":
                        assert await got.seek(*arg) == expected.seek(*arg)
                    elif op == "flush":
                        expected.flush()
                        await got.flush()
                    else:
                        ours = await _outcome(getattr(got, op)(arg))
                        assert ours == _outcome_sync(getattr(expected, op), arg), (op, arg)
                        if ours[0] == "error":
                            return      # what follows a decoding error is unspecified
                    keeps = op in ("tell", "flush") or (op == "seekback" and not saved)
                    read_last = op in ("read", "readline") or (read_last and keeps)
                expected.seek(0)
                await got.seek(0)
                assert await got.read() == expected.read()
    on_loop(main())
    assert b.read_bytes() == a.read_bytes()


def test_tell_answers_during_iteration(on_loop, tmp_path):
    """The built-in refuses tell() inside a for loop over the file; here it
    answers, and seek() goes back to each line."""
    path = tmp_path / "lines.txt"
    lines = [f"line {i} é€\n" for i in range(2000)]
    path.write_text("".join(lines), encoding="utf-8")

    async def main():
        async with aiouring.open(path, encoding="utf-8") as f:
            cookies = []
            async for _ in f:
                cookies.append(await f.tell())
            assert len(cookies) == len(lines)
            assert cookies[-1] == path.stat().st_size     # plain byte positions
            for i in (0, 7, 1500):
                await f.seek(cookies[i])
                assert await f.readline() == lines[i + 1]
    on_loop(main())


def test_attributes_detach_and_reconfigure(on_loop, tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"one\r\ntwo\rthree\n")

    async def main():
        f = await aiouring.open(path, "r+", encoding="latin-1", newline=None)
        with open(path, "r+", encoding="latin-1", newline=None) as ref:
            for attr in ("encoding", "errors", "line_buffering", "name", "mode",
                         "newlines", "closed"):
                assert getattr(f, attr) == getattr(ref, attr), attr
            assert await f.read(3) == ref.read(3)
            with pytest.raises(io.UnsupportedOperation):
                ref.reconfigure(encoding="utf-8")     # with decoded text pending
            with pytest.raises(io.UnsupportedOperation):
                await f.reconfigure(encoding="utf-8")
            assert await f.read() == ref.read()
            assert f.newlines == ref.newlines == ("\r", "\n", "\r\n")
            assert await f.readable() and await f.writable() and await f.seekable()
            assert not await f.isatty()
        await f.reconfigure(line_buffering=True)
        assert f.line_buffering
        await f.write("é\n")        # line buffering: in the file at once
        assert path.read_bytes().endswith(b"\xe9\n")
        await f.write("x")
        buffer = f.detach()         # synchronous, as aiofiles' detach()
        with pytest.raises(ValueError):
            f.fileno()
        assert buffer.name == str(path)
        await buffer.seek(0)
        assert await buffer.read() == b"one\r\ntwo\rthree\n\xe9\nx"
        await buffer.close()
        async with aiouring.open(path, "w", encoding="utf-8") as f:
            with pytest.raises(TypeError):
                await f.write(b"bytes")
            with pytest.raises(io.UnsupportedOperation):
                await f.read()
            with pytest.raises(io.UnsupportedOperation):
                await f.seek(3, os.SEEK_CUR)
        with pytest.raises(LookupError):
            await aiouring.open(path, encoding="no-such-codec")
        with pytest.raises(LookupError):
            await aiouring.open(path, encoding="rot13")     # not a text encoding
    on_loop(main())


def test_text_over_a_pipe(on_loop):
    """Text over a non-seekable descriptor: lines come as they are written;
    tell() refuses as the built-in does."""
    async def main():
        r, w = os.pipe()
        os.write(w, "first é\r\nsecond\n".encode())
        os.close(w)
        async with aiouring.open(r, encoding="utf-8") as f:
            assert await f.readline() == "first é\n"
            with pytest.raises(io.UnsupportedOperation):
                await f.tell()
            assert [line async for line in f] == ["second\n"]
    on_loop(main())


def test_seek_never_hands_a_cjk_decoder_a_state_it_did_not_make(on_loop, tmp_path):
    """CPython's open() crashes the interpreter reading iso2022_jp after
    seek(3) (its decoder is given state 0, which it never produces). Here a
    plain byte position means the codec's start state, and a made-up state
    is a ValueError."""
    path = tmp_path / "jp.txt"
    path.write_bytes("ab日本cd\n".encode("iso2022_jp"))

    async def main():
        async with aiouring.open(path, encoding="iso2022_jp", errors="replace") as f:
            await f.seek(1)
            assert await f.read() == "b" + "日本cd\n"
            with pytest.raises(ValueError):
                await f.seek(3 | 12345 << 64)
            await f.seek(0)
            await f.read(3)
            cookie = await f.tell()         # inside the kanji run: a state it made
            assert await f.read() == "本cd\n"
            await f.seek(cookie)
            assert await f.read() == "本cd\n"
    on_loop(main())

"""aiouring's text layer (aiouring.text) against the built-in open() on the
same bytes: reads, lines, iteration, writes, newline modes, multi-byte and
stateful encodings, tell()/seek() round trips and '+' modes -- on every loop
(the on_loop fixture)."""

import codecs
import io
import os
import re

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

import aiouring

SETTINGS = settings(max_examples=int(os.environ.get("AIOURING_EXAMPLES", 40)), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

ENCODINGS = ["utf-8", "utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252", "utf-8-sig",
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


def _kinds(newlines):
    """A newlines attribute as a set of line endings."""
    if newlines is None:
        return set()
    return {newlines} if isinstance(newlines, str) else set(newlines)


def _line_endings(text):
    """The kinds of line ending in text."""
    return {ending for ending, pattern in (("\r\n", "\r\n"), ("\r", "\r(?!\n)"),
                                           ("\n", "(?<!\r)\n"))
            if re.search(pattern, text)}


def _next_sync(f):
    try:
        return next(f)
    except StopIteration:
        return None


@SETTINGS
@example(text="a\n", encoding="utf-8", newline=None, raw=None,
         steps=[("read", 1), ("tell", None)])
@example(text="\r", encoding="utf-16", newline=None, raw=None,
         steps=[("read", 1), ("tell", None), ("seek", (0, 0)), ("seekback", 0)])
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
    is replaced the same way. The newlines attribute is compared until the
    first tell(): the built-in's tell() forgets the newlines seen so far,
    and its seek() to a cookie meets again those it skips; ours keeps them
    (and names only line endings the file has)."""
    path = tmp_path / "data.txt"
    path.write_bytes(text.encode(encoding, errors="replace") if raw is None else raw)
    errors = "strict" if raw is None else "replace"
    if raw is not None and encoding in ("iso2022_jp", "shift_jis", "utf-16", "utf-32"):
        # Garbage: UTF-16 and UTF-32 refuse it without a BOM (UnicodeError,
        # not replaced); the CJK codecs' replacement depends on chunking.
        encoding = "utf-32-le" if encoding == "utf-32" else "utf-16-le"

    async def main():
        saved = []      # (built-in cookie, aiouring cookie)
        told = False
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
                        told = True
                        saved.append((cookie, await got.tell()))
                    elif op == "seekback":
                        if saved:
                            cookie, ours = saved[arg % len(saved)]
                            expected.seek(cookie)
                            assert await got.seek(ours) == ours
                    elif op == "seek" and arg[1] == os.SEEK_CUR:
                        try:        # opaque cookies: compare what follows
                            expected.seek(0, os.SEEK_CUR)
                            told = True
                        except OSError:     # the built-in refuses during iteration
                            pass
                        await got.seek(0, os.SEEK_CUR)
                    elif op == "seek":
                        assert await got.seek(*arg) == expected.seek(*arg)
                    else:
                        assert await getattr(got, op)(arg) == getattr(expected, op)(arg), (op, arg)
                assert [line async for line in got] == list(expected)
                if not told:
                    assert got.newlines == expected.newlines
        with open(path, encoding=encoding, errors=errors, newline="") as whole:
            assert _kinds(got.newlines) <= _line_endings(whole.read())
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
# Encodings in which every character boundary is a plain byte position:
# there, with no newline decoder (which holds back a '\r'), the built-in's
# seek(tell()) puts a write where ours goes.
PLAIN = {"utf-8", "utf-16-le", "latin-1", "cp1252"}


@SETTINGS
@example(initial="", mode="a+", encoding="utf-16", newline=None,
         steps=[("tell", None), ("write", "a"), ("seekback", 0), ("read", 1)])
@example(initial="", mode="w+", encoding="utf-16", newline=None,
         steps=[("read", 1), ("tell", None), ("seekback", 0), ("write", "a")])
@example(initial="xy", mode="a+", encoding="utf-8-sig", newline=None,
         steps=[("seek", (0, 0)), ("write", "a"), ("seek", (0, 0)), ("read", -1)])
@example(initial="xy", mode="a+", encoding="iso2022_jp", newline=None,
         steps=[("write", "日"), ("seek", (0, 0)), ("write", "a")])
@example(initial="xyz", mode="r+", encoding="iso2022_jp", newline=None,
         steps=[("write", "a"), ("tell", None), ("seekback", 0), ("read", -1)])
@example(initial="", mode="r+", encoding="utf-16", newline=None,
         steps=[("write", ""), ("readline", 1), ("tell", None), ("write", "a"),
                ("seekback", 0), ("read", 1)])
@example(initial="", mode="r+", encoding="utf-16", newline=None,
         steps=[("write", ""), ("read", 1), ("tell", None), ("write", "a"),
                ("seekback", 0), ("read", 1)])
@example(initial="", mode="r+", encoding="utf-16", newline=None,
         steps=[("tell", None), ("write", "a"), ("seekback", 0), ("write", ""),
                ("readline", 0)])
@example(initial="\ra", mode="r+", encoding="utf-16", newline=None,
         steps=[("read", 1), ("tell", None), ("seekback", 0), ("write", "a")])
@example(initial="a\ra", mode="r+", encoding="utf-16", newline=None,
         steps=[("read", 1), ("tell", None), ("seekback", 0), ("write", "a")])
@example(initial="a", mode="a+", encoding="utf-8", newline="\n",
         steps=[("seek", (0, 0)), ("read", 0), ("write", ""), ("read", 1)])
@example(initial="a", mode="a+", encoding="utf-8", newline="\n",
         steps=[("tell", None), ("write", "aa"), ("seekback", 0), ("read", 1),
                ("write", ""), ("read", 1)])
@example(initial="\ra", mode="r+", encoding="utf-8", newline="",
         steps=[("read", 1), ("write", "a")])
@example(initial="aaaaaaaa\r\U0001d11e", mode="r+", encoding="utf-16-le", newline="",
         steps=[("readline", -1), ("write", "")])
@given(initial=TEXT.map(lambda t: t[:1000]), mode=st.sampled_from(["r+", "w+", "a+"]),
       encoding=st.sampled_from(ENCODINGS), newline=st.sampled_from(NEWLINES),
       steps=st.lists(plus_ops, max_size=12))
def test_text_plus_modes_match_builtin_open(on_loop, tmp_path, initial, mode, encoding,
                                            newline, steps):
    """Writes, then reads of what was written, in '+' modes. Faults of the
    built-in are kept out of the comparison:

    - it is flushed after each write (otherwise a read right after a write
      can return what the write replaced);
    - a write after reads goes where reading stands: the built-in gets there
      with seek(tell()) (by itself it writes past its read-ahead, also after
      a seek to a cookie inside one decoding step, the bytes it decoded);
    - its tell() names the decoder's fresh state after read() found nothing
      at the end of the file (but not after readline()): at the start, a
      write after seeking there leaves out the BOM (a UTF-16 file it then
      cannot read back); past it, reading after seeking there looks for a
      BOM (UTF-16 refuses what it wrote). Its cookie's byte position alone
      is used (the low 64 bits; the decoder's flags are the next 32);
    - in 'a+' mode, after a seek to the start, it writes a BOM at the end of
      a non-empty file: it is moved to the end first (where the write goes);
      and an empty write there (but the first into an empty file) writes
      nothing and changes nothing in ours, while the built-in drops its
      read-ahead, restarts its decoder or writes that BOM: it is left out;
    - on iso2022_jp it crashes the interpreter reading after a seek to a
      plain byte position from tell(): those seeks are left out."""
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    for p in (a, b):
        p.write_bytes(initial.encode(encoding, errors="replace"))
    plain = encoding in PLAIN and newline not in (None, "")
    fresh = codecs.getincrementaldecoder(encoding)().getstate()[1]
    if newline in (None, ""):
        fresh <<= 1     # the newline decoder's flags around the codec's

    async def main():
        saved, read_last, at_start = [], False, False
        with open(a, mode, encoding=encoding, errors="replace", newline=newline) as expected:
            async with aiouring.open(b, mode, encoding=encoding, errors="replace",
                                     newline=newline) as got:
                for op, arg in steps:
                    if op == "write":
                        if mode == "a+" and not arg and (not at_start or a.stat().st_size):
                            assert await got.write(arg) == 0
                            continue
                        if mode == "a+" and at_start:
                            expected.seek(0, 2)
                        elif read_last:
                            if plain:
                                expected.seek(expected.tell())
                            else:
                                expected.seek(0, 2)
                                await got.seek(0, 2)
                        assert await got.write(arg) == expected.write(arg)
                        expected.flush()
                        at_start = False
                    elif op == "tell":
                        saved.append((expected.tell(), await got.tell()))
                    elif op == "seekback":
                        if saved:
                            cookie, ours = saved[arg % len(saved)]
                            cookie = _usable_cookie(cookie, fresh, encoding)
                            if cookie is None:
                                continue
                            expected.seek(cookie)
                            await got.seek(ours)
                            at_start = cookie == 0
                    elif op == "seek":
                        position = expected.seek(*arg)
                        assert await got.seek(*arg) == position
                        at_start = position == 0
                    elif op == "flush":
                        expected.flush()
                        await got.flush()
                    else:
                        ours = await _outcome(getattr(got, op)(arg))
                        assert ours == _outcome_sync(getattr(expected, op), arg), (op, arg)
                        if ours[0] == "error":
                            return      # what follows a decoding error is unspecified
                    keeps = op in ("tell", "flush") or (op == "seekback" and not saved)
                    # A cookie with bytes to decode again: the built-in reads ahead.
                    ahead = op == "seekback" and saved and cookie >= 1 << 96
                    read_last = op in ("read", "readline") or ahead or (read_last and keeps)
                expected.seek(0)
                await got.seek(0)
                assert await got.read() == expected.read()
    on_loop(main())
    assert b.read_bytes() == a.read_bytes()


def _usable_cookie(cookie, fresh, encoding):
    """The built-in's cookie to seek to in place of one from its tell(), or
    None where seeking to it would crash (see the test above)."""
    position = cookie % (1 << 64)
    if cookie >> 64 == fresh and not (position and encoding == "iso2022_jp"):
        cookie = position       # the decoder's fresh state: its byte position alone
    if encoding == "iso2022_jp" and position and cookie == position:
        return None             # a plain byte position past the start
    return cookie


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


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8-sig"])
@pytest.mark.parametrize("mode", ["a", "a+"])
def test_append_mode_puts_a_bom_only_at_the_start(on_loop, tmp_path, encoding, mode):
    """A write in append mode after seek(0) lands at the end: no BOM there
    in a non-empty file (the built-in writes one), one in an empty file --
    what the built-in writes once moved to the end."""
    async def main():
        for initial in ("", "text\n"):
            a, b = tmp_path / "a.txt", tmp_path / "b.txt"
            for p in (a, b):
                p.write_bytes(initial.encode(encoding) if initial else b"")
            with open(a, mode, encoding=encoding) as expected:
                expected.seek(0)
                expected.seek(0, os.SEEK_END)
                expected.write("x")
            async with aiouring.open(b, mode, encoding=encoding) as got:
                await got.seek(0)
                await got.write("x")
            assert b.read_bytes() == a.read_bytes()
            assert b.read_text(encoding) == initial + "x"   # one BOM, at the start
    on_loop(main())


def test_append_mode_over_a_pipe_starts_with_a_bom(on_loop):
    """Not seekable: nothing to move to, the stream starts with the BOM."""
    async def main():
        r, w = os.pipe()
        async with aiouring.open(w, "a", encoding="utf-16") as f:
            await f.write("é")
        with os.fdopen(r, "rb") as pipe:
            assert pipe.read() == "é".encode("utf-16")
    on_loop(main())


def test_truncate_cuts_where_reading_stands(on_loop, tmp_path):
    """truncate() cuts after what was read, not past the read-ahead (as the
    built-in does), and leaves the position; inside one decoding step there
    is no such byte position: UnsupportedOperation."""
    path = tmp_path / "t.txt"

    async def main():
        path.write_text("one\ntwo\nthree\n", encoding="utf-8")
        async with aiouring.open(path, "r+", encoding="utf-8") as f:
            assert await f.readline() == "one\n"
            cookie = await f.tell()
            assert await f.truncate() == 4
            assert await f.tell() == cookie
        assert path.read_bytes() == b"one\n"
        path.write_text("日本語\n", encoding="utf-7")
        async with aiouring.open(path, "r+", encoding="utf-7") as f:
            assert await f.read(1) == "日"
            with pytest.raises(io.UnsupportedOperation):
                await f.truncate()
            assert await f.read() == "本語\n"
    on_loop(main())

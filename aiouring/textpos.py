"""Text file positions: the cookies tell() returns and seek() takes, and how
to find the byte offset of a character boundary in decoded input.

A cookie names a point the decoder can restart from: a byte position, the
decoder's state flags there (its buffer of undecoded bytes being empty), and
how many characters to skip after decoding from there (for points that fall
inside one decoding step: a base64 run of UTF-7, a '\\r' whose translation
waits for the next byte). Packed into one int:

    position | flags << 64 | skip << 128

so a clean point (flags 0, nothing to skip) is just its byte position, as
with the built-in open() for most encodings. At position 0 the flags of a
freshly made decoder (e.g. UTF-16 still looking for its BOM) and 0 trade
places, so the start of a file is cookie 0.
"""

import codecs
import io

__all__ = ["pack", "unpack", "locate", "final_offset", "Decoder"]

# A text file's incremental decoder: the codec's own, or it wrapped for
# universal newlines.
Decoder = codecs.IncrementalDecoder | io.IncrementalNewlineDecoder

_FIELD = 1 << 64


def pack(position: int, flags: int, skip: int, fresh_flags: int) -> int:
    """The cookie of (position, decoder flags, characters to skip)."""
    if position == 0:
        flags = _swap_at_start(flags, fresh_flags)
    flags = _zigzag(flags)
    if flags >= _FIELD or position >= _FIELD:
        raise OSError("the text position does not fit a cookie")
    return position | flags << 64 | skip << 128


def unpack(cookie: int, fresh_flags: int) -> tuple[int, int, int, bool]:
    """(position, decoder flags, characters to skip, restart) of a cookie;
    restart is True where the decoder should start afresh (the start of the
    file in its fresh state)."""
    position = cookie & (_FIELD - 1)
    field = (cookie >> 64) & (_FIELD - 1)
    skip = cookie >> 128
    flags = _unzigzag(field)
    restart = position == 0 and field == 0
    if position == 0:
        flags = _swap_at_start(flags, fresh_flags)
    return position, flags, skip, restart


def _swap_at_start(flags: int, fresh_flags: int) -> int:
    if flags == fresh_flags:
        return 0
    if flags == 0:
        return fresh_flags
    return flags


def _zigzag(n: int) -> int:
    # Decoder flags are small non-negative ints for every codec we know;
    # this keeps a negative one representable all the same.
    return n << 1 if n >= 0 else ((-n) << 1) - 1


def _unzigzag(n: int) -> int:
    return n >> 1 if not n & 1 else -((n + 1) >> 1)


def locate(decoder: Decoder, flags: int, data: bytes, wanted: int,
           ratio: float) -> tuple[int, int, int]:
    """Where, in data (decoded from state (b'', flags)), the first `wanted`
    characters end: (offset, flags there, characters still to skip). The
    offset is the last point at or before that boundary where the decoder
    holds no undecoded bytes; decoder is a scratch decoder of the same kind
    and is left in an undefined state. ratio (bytes per character of data)
    sizes the steps, so a plain encoding finds its point in one decode."""
    decoder.setstate((b"", flags))
    offset = produced = 0
    best = (0, flags, wanted)
    step = max(1, round(wanted * ratio))
    while offset < len(data) and best[2] > 0:
        saved = decoder.getstate()
        n = min(step, len(data) - offset)
        got = produced + len(decoder.decode(data[offset:offset + n]))
        pending, now = decoder.getstate()
        if (got > wanted or (got == wanted and pending)) and n > 1:
            decoder.setstate(saved)         # too far, or not clean: smaller steps
            step = n // 2
            continue
        if got > wanted:
            break                           # one byte makes several characters
        offset += n
        produced = got
        if not pending:
            best = (offset, now, wanted - produced)
        step = max(1, round((wanted - produced) * ratio))
    return best


def final_offset(decoder: Decoder, flags: int, data: bytes, wanted: int,
                 start: int) -> int | None:
    """The smallest offset from `start` at which data, decoded to the end
    (final=True) from state (b'', flags), gives exactly `wanted` characters;
    None if there is none nearby. Used to put a write where reading stands
    when that point lies inside one decoding step."""
    for end in range(start, min(len(data), start + 16) + 1):
        decoder.setstate((b"", flags))
        try:
            got = len(decoder.decode(data[:end], final=True))
        except UnicodeDecodeError:
            continue
        if got == wanted:
            return end
        if got > wanted:
            return None
    return None
